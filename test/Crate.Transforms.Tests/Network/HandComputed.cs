using static TorchSharp.torch;

namespace Crate.Transforms.Tests.Network;

/// <summary>
/// Plain-loop, double-precision versions of the paper's equations: the oracles the network is checked against.
/// Matrices are row-major double[rows, cols]; tokens are rows.
/// </summary>
internal static class HandComputed
{
    public static double[,] Matrix(Tensor t)
    {
        Assert.AreEqual(2L, t.dim());
        float[] data = t.contiguous().data<float>().ToArray();
        int rows = (int)t.shape[0], cols = (int)t.shape[1];
        var m = new double[rows, cols];
        for (int i = 0; i < rows; i++)
            for (int j = 0; j < cols; j++)
                m[i, j] = data[i * cols + j];
        return m;
    }

    public static double[] Vector(Tensor t) => t.contiguous().data<float>().Select(v => (double)v).ToArray();

    /// <summary>y = x Wᵀ + b (a Linear layer) for every row of x.</summary>
    public static double[,] Linear(double[,] x, double[,] weight, double[]? bias = null)
    {
        int n = x.GetLength(0), inputs = x.GetLength(1), outputs = weight.GetLength(0);
        var y = new double[n, outputs];
        for (int i = 0; i < n; i++)
            for (int o = 0; o < outputs; o++)
            {
                double sum = bias?[o] ?? 0;
                for (int k = 0; k < inputs; k++) sum += x[i, k] * weight[o, k];
                y[i, o] = sum;
            }
        return y;
    }

    public static double[,] LayerNorm(double[,] x, double[] gamma, double[] beta, double eps = 1e-5)
    {
        int n = x.GetLength(0), d = x.GetLength(1);
        var y = new double[n, d];
        for (int i = 0; i < n; i++)
        {
            double mean = 0, variance = 0;
            for (int k = 0; k < d; k++) mean += x[i, k];
            mean /= d;
            for (int k = 0; k < d; k++) variance += (x[i, k] - mean) * (x[i, k] - mean);
            variance /= d;
            for (int k = 0; k < d; k++) y[i, k] = (x[i, k] - mean) / Math.Sqrt(variance + eps) * gamma[k] + beta[k];
        }
        return y;
    }

    /// <summary>
    /// Per-head attention with separate query and key features (eq. 11; eq. 5 when they coincide):
    /// A[k][i, j] = softmax_j(⟨q_i, k_j⟩ / √p) over head k's slice of the features.
    /// </summary>
    public static double[][,] Attention(double[,] queries, double[,] keys, int heads)
    {
        int n = queries.GetLength(0), p = queries.GetLength(1) / heads;
        var attention = new double[heads][,];
        for (int h = 0; h < heads; h++)
        {
            attention[h] = new double[n, n];
            for (int i = 0; i < n; i++)
            {
                var scores = new double[n];
                for (int j = 0; j < n; j++)
                {
                    double dot = 0;
                    for (int c = 0; c < p; c++) dot += queries[i, h * p + c] * keys[j, h * p + c];
                    scores[j] = dot / Math.Sqrt(p);
                }
                double max = scores.Max(), total = scores.Sum(s => Math.Exp(s - max));
                for (int j = 0; j < n; j++) attention[h][i, j] = Math.Exp(scores[j] - max) / total;
            }
        }
        return attention;
    }

    /// <summary>Concatenates Σ_j A[k][i, j] v_j over heads k: [n, K·p].</summary>
    public static double[,] Mix(double[][,] attention, double[,] values)
    {
        int heads = attention.Length, n = values.GetLength(0), p = values.GetLength(1) / heads;
        var mixed = new double[n, heads * p];
        for (int h = 0; h < heads; h++)
            for (int i = 0; i < n; i++)
                for (int c = 0; c < p; c++)
                {
                    double sum = 0;
                    for (int j = 0; j < n; j++) sum += attention[h][i, j] * values[j, h * p + c];
                    mixed[i, h * p + c] = sum;
                }
        return mixed;
    }

    /// <summary>Eq. (7) in the paper's column form, token by token: ReLU(z + η Dᵀ(z − D z) − ηλ), D acting on columns.</summary>
    public static double[,] Ista(double[,] z, double[,] dictionary, double eta, double lambda, bool softThreshold = false)
    {
        int n = z.GetLength(0), d = z.GetLength(1);
        var output = new double[n, d];
        for (int i = 0; i < n; i++)
        {
            var dz = new double[d];
            for (int r = 0; r < d; r++)
                for (int c = 0; c < d; c++) dz[r] += dictionary[r, c] * z[i, c];
            for (int c = 0; c < d; c++)
            {
                double gradient = 0;
                for (int r = 0; r < d; r++) gradient += dictionary[r, c] * (z[i, r] - dz[r]);
                double u = z[i, c] + eta * gradient;
                output[i, c] = softThreshold
                    ? Math.Sign(u) * Math.Max(Math.Abs(u) - eta * lambda, 0)
                    : Math.Max(u - eta * lambda, 0);
            }
        }
        return output;
    }

    public static double[,] Add(double[,] a, double[,] b)
    {
        var sum = (double[,])a.Clone();
        for (int i = 0; i < a.GetLength(0); i++)
            for (int j = 0; j < a.GetLength(1); j++) sum[i, j] += b[i, j];
        return sum;
    }

    /// <summary>ViT's GELU, x·Φ(x), with erf summed from its Taylor series (Abramowitz-Stegun 7.1.26 is too coarse
    /// for the tolerances here); the series converges for the |x| of a few units that occur here.</summary>
    public static double Gelu(double x)
    {
        double u = x / Math.Sqrt(2), sum = 0, term = u;
        for (int n = 0; n < 200; n++)
        {
            sum += term / (2 * n + 1);
            term *= -u * u / (n + 1);
        }
        return 0.5 * x * (1 + 2 / Math.Sqrt(Math.PI) * sum);
    }

    /// <summary>f applied to every entry.</summary>
    public static double[,] Map(double[,] x, Func<double, double> f)
    {
        var y = new double[x.GetLength(0), x.GetLength(1)];
        for (int i = 0; i < x.GetLength(0); i++)
            for (int j = 0; j < x.GetLength(1); j++) y[i, j] = f(x[i, j]);
        return y;
    }

    /// <summary>The mean of the rows: [1, cols].</summary>
    public static double[,] MeanRow(double[,] x)
    {
        int n = x.GetLength(0), d = x.GetLength(1);
        var mean = new double[1, d];
        for (int i = 0; i < n; i++)
            for (int j = 0; j < d; j++) mean[0, j] += x[i, j] / n;
        return mean;
    }

    /// <summary>Row <paramref name="i"/> as a [1, cols] matrix.</summary>
    public static double[,] Row(double[,] x, int i)
    {
        var row = new double[1, x.GetLength(1)];
        for (int j = 0; j < x.GetLength(1); j++) row[0, j] = x[i, j];
        return row;
    }

    /// <summary>
    /// The patches of one image [C, H, W] as rows, the grid read row by row, each patch's values in the reference's
    /// (row in patch, column in patch, channel) order: [h·w, P·P·C].
    /// </summary>
    public static double[,] PatchRows(Tensor image, int patch)
    {
        Assert.AreEqual(3L, image.dim());
        int channels = (int)image.shape[0], height = (int)image.shape[1], width = (int)image.shape[2];
        float[] pixels = image.contiguous().data<float>().ToArray();
        int gridWidth = width / patch, count = height / patch * gridWidth;
        var rows = new double[count, patch * patch * channels];
        for (int n = 0; n < count; n++)
            for (int py = 0; py < patch; py++)
                for (int px = 0; px < patch; px++)
                    for (int c = 0; c < channels; c++)
                    {
                        int y = n / gridWidth * patch + py, x = n % gridWidth * patch + px;
                        rows[n, (py * patch + px) * channels + c] = pixels[(c * height + y) * width + x];
                    }
        return rows;
    }
}

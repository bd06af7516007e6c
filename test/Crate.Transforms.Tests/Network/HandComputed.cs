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

    public static void AssertClose(double[,] expected, Tensor actual, double tolerance, string what)
    {
        double[,] got = Matrix(actual);
        Assert.AreEqual(expected.GetLength(0), got.GetLength(0), what);
        Assert.AreEqual(expected.GetLength(1), got.GetLength(1), what);
        double worst = 0;
        for (int i = 0; i < got.GetLength(0); i++)
            for (int j = 0; j < got.GetLength(1); j++) worst = Math.Max(worst, Math.Abs(expected[i, j] - got[i, j]));
        Assert.IsLessThan(tolerance, worst, $"{what}: largest difference {worst:E3}");
    }
}

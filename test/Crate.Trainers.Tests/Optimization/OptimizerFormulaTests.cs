using Crate.Testing;
using Crate.Trainers.Optimization;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Crate.Trainers.Tests.Optimization;

/// <summary>Lion, AdamW, the schedule and clipping against their formulas, computed by hand in doubles.</summary>
[TestClass]
public sealed class OptimizerFormulaTests
{
    private static Parameter Param(double[] values, double[] gradient)
    {
        var p = new Parameter(tensor(values.Select(v => (float)v).ToArray()));
        p.grad = tensor(gradient.Select(v => (float)v).ToArray());
        return p;
    }

    /// <summary>Parameters of size ≤ 2 after a handful of float32 updates, each rounding by ≤ u·2 ≈ 1.2e-7, against the
    /// rule in doubles.</summary>
    private static void AssertValues(double[] expected, Tensor actual, string what) =>
        NumericAssert.AreAllClose(expected, NumericAssert.Values(actual), new Tolerance(1e-6), what);

    [TestMethod]
    public void LionStepsAsTheReferenceRule()
    {
        double[] p = [1.0, -2.0, 0.5], g1 = [0.3, -0.1, 0.0], g2 = [-0.2, -0.4, 0.6];
        const double lr = 0.1, wd = 0.5, b1 = 0.9, b2 = 0.99;
        Parameter parameter = Param(p, g1);
        var lion = new LionOptimizer([parameter], lr, wd);
        double[] m = new double[3];
        foreach (double[] g in new[] { g1, g2 })
        {
            parameter.grad = tensor(g.Select(v => (float)v).ToArray());
            lion.Step();
            for (int i = 0; i < 3; i++)
            {
                p[i] *= 1 - lr * wd;
                p[i] -= lr * Math.Sign(b1 * m[i] + (1 - b1) * g[i]);
                m[i] = b2 * m[i] + (1 - b2) * g[i];
            }
            AssertValues(p, parameter, $"Lion after step {lion.Steps}");
        }
    }

    [TestMethod]
    public void AdamWStepsWithBiasCorrection()
    {
        double[] p = [1.0, -2.0, 0.5], g1 = [0.3, -0.1, 0.05], g2 = [-0.2, -0.4, 0.6];
        const double lr = 0.1, wd = 0.5, b1 = 0.9, b2 = 0.999, eps = 1e-8;
        Parameter parameter = Param(p, g1);
        var adam = new AdamWOptimizer([parameter], lr, wd);
        double[] m = new double[3], v = new double[3];
        int t = 0;
        foreach (double[] g in new[] { g1, g2 })
        {
            parameter.grad = tensor(g.Select(x => (float)x).ToArray());
            adam.Step();
            t++;
            for (int i = 0; i < 3; i++)
            {
                p[i] *= 1 - lr * wd;
                m[i] = b1 * m[i] + (1 - b1) * g[i];
                v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i];
                double mHat = m[i] / (1 - Math.Pow(b1, t)), vHat = v[i] / (1 - Math.Pow(b2, t));
                p[i] -= lr * mHat / (Math.Sqrt(vHat) + eps);
            }
            AssertValues(p, parameter, $"AdamW after step {t}");
        }
    }

    [TestMethod]
    public void ParametersWithoutGradientAreLeftAlone()
    {
        var withGrad = Param([1, 1], [0.5, -0.5]);
        var without = new Parameter(tensor(new[] { 3f, 4f }));
        new LionOptimizer([withGrad, without], 0.1, 0.1).Step();
        AssertValues([3, 4], without, "no gradient");
    }

    [TestMethod]
    public void RestoredStateContinuesIdentically()
    {
        var random = new Random(3);
        float[] Gradient() => [(float)random.NextDouble() - 0.5f, (float)random.NextDouble() - 0.5f, (float)random.NextDouble() - 0.5f];
        float[][] gradients = Enumerable.Range(0, 6).Select(_ => Gradient()).ToArray();
        var a = new Parameter(tensor(new[] { 1f, 2f, 3f }));
        var optimizerA = new AdamWOptimizer([a], 0.05, 0.01);
        for (int s = 0; s < 3; s++) { a.grad = tensor(gradients[s]); optimizerA.Step(); }
        var b = new Parameter(a.detach().clone());
        var optimizerB = new AdamWOptimizer([b], 0.05, 0.01);
        optimizerB.LoadStateDict(optimizerA.StateDict());
        for (int s = 3; s < 6; s++)
        {
            a.grad = tensor(gradients[s]);
            optimizerA.Step();
            b.grad = tensor(gradients[s]);
            optimizerB.Step();
        }
        CollectionAssert.AreEqual(a.detach().data<float>().ToArray(), b.detach().data<float>().ToArray());
    }

    [TestMethod]
    public void StateOfTheWrongShapeIsRefusedByName()
    {
        var p = Param([1, 2, 3], [0.1, 0.1, 0.1]);
        var lion = new LionOptimizer([p], 0.1, 0);
        lion.Step();
        Dictionary<string, Tensor> state = lion.StateDict();
        state["0.exp_avg"] = zeros(4);
        var error = Assert.ThrowsExactly<InvalidDataException>(() => new LionOptimizer([Param([1, 2, 3], [0, 0, 0])], 0.1, 0).LoadStateDict(state));
        StringAssert.Contains(error.Message, "0.exp_avg");
        StringAssert.Contains(error.Message, "[4]");
    }

    /// <summary>The schedule in doubles: the same few operations, rounded at 1.1e-16 each.</summary>
    private static readonly Tolerance Float64 = new(1e-12);

    [TestMethod]
    public void ScheduleIsWarmupThenCosine()
    {
        const int warmup = 3, total = 10;
        var schedule = new LearningRateSchedule(warmup, total);
        foreach (int e in new[] { 0, 1, warmup - 1, warmup, total - 1 })
        {
            double expected = Math.Min((e + 1.0) / warmup, 0.5 * (1 + Math.Cos(Math.PI * e / total)));
            NumericAssert.AreClose(expected, schedule.Factor(e), Float64, $"epoch {e}");
            NumericAssert.AreClose(schedule.Factor(e), schedule.FactorAt(e * 7L, 7), Float64, $"per-step at the start of epoch {e}");
        }
        NumericAssert.AreClose(0.5 * (1 + Math.Cos(Math.PI * 4.5 / total)), schedule.FactorAt(45, 10), Float64, "halfway through epoch 4");
        NumericAssert.AreClose(0.5 * (1 + Math.Cos(Math.PI * 2 / total)), new LearningRateSchedule(0, total).Factor(2), Float64, "no warm-up");
    }

    [TestMethod]
    public void ClippingScalesToTheGlobalNorm()
    {
        var a = Param([0, 0], [3, 0]);
        var b = Param([0], [4]);
        using Tensor norm = GradientClipping.ClipGlobalNorm([a, b], 1.0)!;
        // ‖(3, 0, 4)‖ = 5 exactly; float32 squares and a square root of values ≤ 25.
        Assert.AreEqual(ScalarType.Float32, norm.dtype, "the norm stays a tensor on the gradients' device");
        NumericAssert.AreClose(5.0, norm.item<float>(), new Tolerance(1e-6), "global norm");
        AssertValues([0.6, 0], a.grad!, "a.grad");
        AssertValues([0.8], b.grad!, "b.grad");
        using (Tensor inside = GradientClipping.ClipGlobalNorm([a, b], 2.0)!)
            NumericAssert.AreClose(1.0, inside.item<float>(), new Tolerance(1e-6), "already inside the bound: unchanged");
        AssertValues([0.6, 0], a.grad!, "a.grad unchanged");
    }
}

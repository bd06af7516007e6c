using System.Diagnostics;
using Crate.Trainers.Optimization;
using Crate.Transforms.Network;
using static TorchSharp.torch;
namespace Crate.Trainers.Tests;
[TestClass]
public sealed class StepProbe
{
    [TestMethod]
    public void Step()
    {
        var arch = new CrateArchitecture { EmbeddingDim = 64, Depth = 4, Heads = 4, HeadDim = 16, PatchSize = 4, ImageHeight = 32, ImageWidth = 32, ClassCount = 4 };
        var model = new CrateModel(arch); model.train();
        var opt = new AdamWOptimizer(model.parameters(), 1e-3, 0.05);
        var x = randn(64, 3, 32, 32); var y = randint(0, 4, 64, dtype: ScalarType.Int64);
        double f = 0, b = 0, o = 0, z = 0;
        for (int i = 0; i < 30; i++)
        {
            using var scope = NewDisposeScope();
            var c = Stopwatch.StartNew();
            var loss = nn.functional.cross_entropy(model.forward(x), y, label_smoothing: 0.1); if (i >= 5) f += c.Elapsed.TotalMilliseconds; c.Restart();
            opt.ZeroGrad(); if (i >= 5) z += c.Elapsed.TotalMilliseconds; c.Restart();
            loss.backward(); if (i >= 5) b += c.Elapsed.TotalMilliseconds; c.Restart();
            opt.Step(); if (i >= 5) o += c.Elapsed.TotalMilliseconds;
        }
        double ng = 0, sd = 0, ex = 0;
        var w = randn(64, 4, 65, 16, requires_grad: true);
        for (int i = 0; i < 20; i++)
        {
            using var scope = NewDisposeScope();
            var c = Stopwatch.StartNew();
            using (no_grad()) model.forward(x);
            if (i >= 5) ng += c.Elapsed.TotalMilliseconds; c.Restart();
            nn.functional.scaled_dot_product_attention(w, w, w).sum().backward(); if (i >= 5) sd += c.Elapsed.TotalMilliseconds; c.Restart();
            w.matmul(w.transpose(-1, -2)).mul(0.25).softmax(-1).matmul(w).sum().backward(); if (i >= 5) ex += c.Elapsed.TotalMilliseconds;
        }
        Console.WriteLine($"no_grad forward {ng / 15:F1} ms; sdpa fwd+bwd {sd / 15:F1} ms; explicit fwd+bwd {ex / 15:F1} ms");
        Console.WriteLine($"forward {f / 25:F1} ms, zero {z / 25:F1}, backward {b / 25:F1} ms, optimizer {o / 25:F1} ms per step of 64; threads {get_num_threads()}");
    }
}

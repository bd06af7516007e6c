// The README's main job, until the trainer lands: build CRATE-T/16, push batches of 224×224 images through it
// and report its size and speed. Usage: dotnet run --project samples/Crate.Quickstart -- [--device cpu|cuda|auto] [--batch N]
using System.Diagnostics;
using Crate.Transforms;
using Crate.Transforms.Network;
using TorchSharp;
using static TorchSharp.torch;

var device = ComputeDevice.Auto;
int batch = 8;
for (int i = 0; i < args.Length; i++)
{
    switch (args[i])
    {
        case "--device" when i + 1 < args.Length:
            device = Enum.Parse<ComputeDevice>(args[++i], ignoreCase: true);
            break;
        case "--batch" when i + 1 < args.Length:
            batch = int.Parse(args[++i]);
            break;
        default:
            Console.Error.WriteLine($"Unknown argument '{args[i]}'. Usage: [--device cpu|cuda|auto] [--batch N]");
            return 2;
    }
}

Device target = ComputeDeviceSelector.Resolve(device, out string reason);
Console.WriteLine($"Device: {target} ({reason})");
CrateArchitecture architecture = CrateArchitecture.Tiny();
using var model = new CrateModel(architecture);
model.to(target).eval();
Console.WriteLine($"CRATE-T/{architecture.PatchSize} at {architecture.ImageHeight}×{architecture.ImageWidth}, " +
    $"{architecture.ClassCount} classes: {model.ParameterCount:N0} parameters");

using var noGrad = no_grad();
using Tensor images = randn(batch, 3, architecture.ImageHeight, architecture.ImageWidth, device: target);
using (model.forward(images)) { } // warm-up: first calls allocate and pick kernels
var clock = Stopwatch.StartNew();
int rounds = 0;
while (rounds < 3 || clock.Elapsed < TimeSpan.FromSeconds(3))
{
    using var scope = NewDisposeScope();
    Tensor logits = model.forward(images);
    _ = logits.sum().item<float>(); // waits for the device
    rounds++;
}
double seconds = clock.Elapsed.TotalSeconds;
Console.WriteLine($"Forward, batch {batch}: {rounds * batch / seconds:F1} images/s ({seconds / rounds * 1000:F0} ms per batch)");
return 0;

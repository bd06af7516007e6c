using TorchSharp;
using static TorchSharp.torch;

namespace Crate.Transforms;

/// <summary>Where the network runs. Never hard-coded: every option class exposes this choice.</summary>
public enum ComputeDevice
{
    /// <summary>CUDA when TorchSharp finds a usable GPU backend, else the CPU.</summary>
    Auto,

    /// <summary>The CPU.</summary>
    Cpu,

    /// <summary>The first CUDA GPU; fails when none is usable.</summary>
    Cuda,
}

/// <summary>Turns a <see cref="ComputeDevice"/> choice into a TorchSharp device, with the reason for it.</summary>
public static class ComputeDeviceSelector
{
    /// <summary>Moves <paramref name="model"/> to the chosen device in evaluation mode, ready for inference.</summary>
    public static Network.CrateModel PlaceForInference(Network.CrateModel model, ComputeDevice choice, out Device device)
    {
        ArgumentNullException.ThrowIfNull(model);
        device = Resolve(choice, out _);
        Network.CrateModel placed = model.to(device);
        placed.eval();
        return placed;
    }

    /// <summary>Resolves the choice; <paramref name="reason"/> says why this device (for the log).</summary>
    public static Device Resolve(ComputeDevice choice, out string reason)
    {
        switch (choice)
        {
            case ComputeDevice.Cpu:
                reason = "CPU requested.";
                return CPU;
            case ComputeDevice.Cuda:
                if (!cuda.is_available())
                    throw new InvalidOperationException(
                        "CUDA was requested but TorchSharp finds no usable GPU: reference TorchSharp-cuda-linux or TorchSharp-cuda-windows " +
                        "instead of TorchSharp-cpu, and check the NVIDIA driver.");
                reason = $"CUDA requested; {cuda.device_count()} GPU(s) available.";
                return CUDA;
            default:
                if (cuda.is_available())
                {
                    reason = $"Auto: CUDA is available ({cuda.device_count()} GPU(s)).";
                    return CUDA;
                }
                reason = "Auto: no CUDA backend or GPU found, using the CPU.";
                return CPU;
        }
    }
}

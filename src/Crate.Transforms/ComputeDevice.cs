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
    /// <summary>
    /// The network of <paramref name="source"/> ready for inference on the chosen device in the chosen precision,
    /// as a lease of its own. The source network is never changed (device, element type, mode, gradients): when it
    /// already lives on that device in that type it is shared, otherwise the one copy of it there is
    /// (<see cref="MLNet.NetworkLease.Place"/>: made by the first transformer that needs it, shared by the others,
    /// freed with the last). Evaluation mode needs no switch: CRATE has no layer whose forward pass depends on it (dropout is 0 in
    /// every published configuration and there is no batch norm), and inference runs under no_grad.
    /// </summary>
    /// <remarks>bfloat16 on a GPU without bfloat16 arithmetic runs in float32 instead (<see cref="InferencePrecision"/>);
    /// <paramref name="placedPrecision"/> is the precision used and <paramref name="precisionNote"/> says why it differs.</remarks>
    internal static MLNet.NetworkLease PlaceForInference(MLNet.NetworkLease source, ComputeDevice choice, ComputePrecision precision,
        out Device device, out ComputePrecision placedPrecision, out string? precisionNote)
    {
        ArgumentNullException.ThrowIfNull(source);
        Device resolved = Resolve(choice, out _);
        device = resolved;
        placedPrecision = InferencePrecision(precision, resolved.type, () => CudaDriver.ComputeCapability(Math.Max(resolved.index, 0)), out precisionNote);
        return source.Place(device, placedPrecision.ToScalarType());
    }

    /// <summary>
    /// The precision a network runs in on a device of <paramref name="deviceType"/> when <paramref name="asked"/> is
    /// asked for: bfloat16 on a CUDA GPU whose <paramref name="computeCapability"/> has no bfloat16 arithmetic (before
    /// 8.0, or unknown) becomes float32, since libtorch would emulate it at a fraction of float32's speed, and
    /// <paramref name="note"/> says so; every other request stands (the CPU computes bfloat16 itself).
    /// </summary>
    internal static ComputePrecision InferencePrecision(ComputePrecision asked, DeviceType deviceType, Func<(int Major, int Minor)?> computeCapability,
        out string? note)
    {
        note = null;
        if (asked != ComputePrecision.BFloat16 || deviceType != DeviceType.CUDA) return asked;
        if (CudaDriver.SupportsBFloat16(computeCapability(), out string reason)) return asked;
        note = $"bfloat16 was asked for, but {reason} Running in float32.";
        return ComputePrecision.Float32;
    }

    /// <summary>Whether two devices are the same (a CUDA device without an index is the first one).</summary>
    internal static bool SameDevice(Device a, Device b) => a.type == b.type && Math.Max(a.index, 0) == Math.Max(b.index, 0);

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

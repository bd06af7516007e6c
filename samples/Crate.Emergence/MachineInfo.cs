using System.Runtime.InteropServices;

namespace Crate.Emergence;

/// <summary>What the report says about the machine: CPU, cores, threads, OS, and how loaded it was.</summary>
public static class MachineInfo
{
    /// <summary>The 1-minute load average (Linux's /proc/loadavg); NaN where there is none.</summary>
    public static double LoadAverage()
    {
        try
        {
            string first = File.ReadAllText("/proc/loadavg").Split(' ')[0];
            return double.Parse(first, System.Globalization.CultureInfo.InvariantCulture);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException)
        {
            return double.NaN;
        }
    }

    /// <summary>"Intel(R) Xeon(R) …, 2 logical CPUs, TorchSharp 2 threads, Debian GNU/Linux 12, .NET 10.0.0".</summary>
    public static string Describe()
    {
        string cpu = "unknown CPU";
        try
        {
            cpu = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim() ?? cpu;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Not Linux: the CPU's name is not needed for the numbers.
        }
        return $"{cpu}, {Environment.ProcessorCount} logical CPUs, TorchSharp {TorchSharp.torch.get_num_threads()} threads, " +
            $"{RuntimeInformation.OSDescription}, {RuntimeInformation.FrameworkDescription}";
    }
}

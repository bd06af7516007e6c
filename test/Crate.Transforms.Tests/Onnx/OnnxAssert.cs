namespace Crate.Transforms.Tests.Onnx;

/// <summary>Element-wise comparisons that fail on NaN and infinity: a value passes only when |expected − actual| ≤ tolerance holds.</summary>
internal static class OnnxAssert
{
    /// <summary>Same length and every element within <paramref name="tolerance"/> (absolute); NaN anywhere fails.</summary>
    public static void AreClose(float[] expected, float[] actual, double tolerance, string what)
    {
        Assert.HasCount(expected.Length, actual, $"{what}: element count");
        double largest = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            double difference = Math.Abs((double)expected[i] - actual[i]);
            // Written so that a NaN difference (NaN or infinity on either side) fails: NaN <= x is false.
            if (!(difference <= tolerance))
                Assert.Fail($"{what}: element {i} is {actual[i]:G9}, expected {expected[i]:G9} (difference {difference:G3}, tolerance {tolerance:G3}).");
            largest = Math.Max(largest, difference);
        }
        Console.WriteLine($"{what}: largest difference {largest:G3}");
    }
}

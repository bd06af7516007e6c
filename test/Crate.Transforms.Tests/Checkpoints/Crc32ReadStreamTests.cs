using Crate.Transforms.Checkpoints;

namespace Crate.Transforms.Tests.Checkpoints;

/// <summary>The zip checksum against the CRC-32 standard's published check value.</summary>
[TestClass]
public sealed class Crc32ReadStreamTests
{
    [TestMethod]
    public void CheckValueOfTheStandardIsReproduced()
    {
        using var stream = new Crc32ReadStream(new MemoryStream("123456789"u8.ToArray()));
        byte[] buffer = new byte[4];
        while (stream.Read(buffer, 0, buffer.Length) > 0) { }
        Assert.AreEqual(0xCBF43926u, stream.Crc);
        Assert.AreEqual(9L, stream.BytesRead);
    }
}

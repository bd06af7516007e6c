using Crate.Transforms.Checkpoints;

namespace Crate.Transforms.Tests.Checkpoints;

/// <summary>
/// The restricted unpickler on hand-assembled pickles, whose meaning follows from the opcode table of Python's
/// pickletools (protocol 2).
/// </summary>
[TestClass]
public sealed class RestrictedUnpicklerTests
{
    private static object? Load(HandMadeCheckpoint pickle) =>
        RestrictedUnpickler.Load(pickle.Pickle, "test pickle", _ => throw new AssertFailedException("No persistent id expected."));

    [TestMethod]
    public void PlainDataIsRead()
    {
        // {'a': [-1, 2**40, 0.5, True, None, (7, 'x'), <memo 1 again>]}
        var pickle = new HandMadeCheckpoint().Protocol2().Op((byte)'}').Text("a").Op((byte)']', (byte)'q', 1, (byte)'(')
            .Op(0x8a, 1, 0xff) // LONG1 -1
            .Op(0x8a, 6, 0, 0, 0, 0, 0, 1) // LONG1 2**40
            .Op((byte)'G', 0x3f, 0xe0, 0, 0, 0, 0, 0, 0) // BINFLOAT 0.5, big-endian
            .Op(0x88, (byte)'N') // NEWTRUE, NONE
            .Op((byte)'K', 7).Op(0x8c, 1, (byte)'x').Op(0x86) // BININT1 7, SHORT_BINUNICODE 'x', TUPLE2
            .Op((byte)'h', 1) // BINGET 1: the list itself
            .Op((byte)'e', (byte)'s', (byte)'.');
        var dict = (PickleDict)Load(pickle)!;
        Assert.IsTrue(dict.TryGetValue("a", out object? value));
        var list = (List<object?>)value!;
        Assert.HasCount(7, list);
        Assert.AreEqual(-1L, list[0]);
        Assert.AreEqual(1L << 40, list[1]);
        Assert.AreEqual(0.5, list[2]);
        Assert.IsTrue((bool)list[3]!);
        Assert.IsNull(list[4]);
        CollectionAssert.AreEqual(new object[] { 7L, "x" }, (object?[])list[5]!);
        Assert.AreSame(list, list[6]);
    }

    [TestMethod]
    public void ForbiddenStackGlobalIsRefusedBeforeItCouldBeCalled()
    {
        // 'builtins' 'eval' STACK_GLOBAL (offset 24) ('1+1',) REDUCE
        var pickle = new HandMadeCheckpoint().Protocol2().Text("builtins").Text("eval").Op(0x93).Text("1+1").Op(0x85, (byte)'R', (byte)'.');
        CheckpointFormatException e = Assert.ThrowsExactly<CheckpointFormatException>(() => Load(pickle));
        Assert.Contains("'builtins.eval'", e.Message);
        Assert.Contains("offset 24", e.Message);
    }

    [TestMethod]
    public void NumpyScalarGlobalIsRefused()
    {
        var pickle = new HandMadeCheckpoint().Protocol2().Global("numpy.core.multiarray", "scalar").Op((byte)'.');
        CheckpointFormatException e = Assert.ThrowsExactly<CheckpointFormatException>(() => Load(pickle));
        Assert.Contains("'numpy.core.multiarray.scalar'", e.Message);
    }

    [TestMethod]
    public void PickleWithoutStopIsTruncated()
    {
        CheckpointFormatException e = Assert.ThrowsExactly<CheckpointFormatException>(() => Load(new HandMadeCheckpoint().Protocol2().Text("abc")));
        Assert.Contains("truncated", e.Message);
    }

    [TestMethod]
    public void StringLongerThanThePickleIsRefused()
    {
        var pickle = new HandMadeCheckpoint().Protocol2().Op((byte)'X', 0xe8, 0x03, 0, 0, (byte)'a', (byte)'b', (byte)'.');
        CheckpointFormatException e = Assert.ThrowsExactly<CheckpointFormatException>(() => Load(pickle));
        Assert.Contains("string of 1000 bytes", e.Message);
    }

    [TestMethod]
    public void MemoReadBeforeWriteIsRefused()
    {
        CheckpointFormatException e = Assert.ThrowsExactly<CheckpointFormatException>(
            () => Load(new HandMadeCheckpoint().Protocol2().Op((byte)'h', 5, (byte)'.')));
        Assert.Contains("memo entry 5", e.Message);
    }

    [TestMethod]
    public void StackUnderflowIsRefused()
    {
        CheckpointFormatException e = Assert.ThrowsExactly<CheckpointFormatException>(
            () => Load(new HandMadeCheckpoint().Protocol2().Op((byte)'s', (byte)'.')));
        Assert.Contains("stack underflow", e.Message);
    }
}

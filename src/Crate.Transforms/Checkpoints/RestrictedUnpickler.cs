using System.Buffers.Binary;
using System.Text;

namespace Crate.Transforms.Checkpoints;

/// <summary>
/// A pickle reader for what <c>torch.save</c> writes into <c>data.pkl</c>, and nothing more. It is a stack
/// machine over plain data (None, bool, int, float, str, tuple, list, dict) plus a fixed allow-list of globals
/// (<see cref="PickleGlobal"/>) that it interprets itself; it never loads a type or calls user code. A global
/// outside the list is refused when the GLOBAL opcode is read, before any REDUCE could call it. Values are:
/// null, <see cref="bool"/>, <see cref="long"/>, <see cref="double"/>, <see cref="string"/>, tuples as
/// <c>object?[]</c>, lists as <see cref="List{T}"/>, <see cref="PickleDict"/>, and the torch records
/// <see cref="PickleStorage"/> (from the persistent-id callback) and <see cref="PickleTensor"/>.
/// </summary>
internal sealed class RestrictedUnpickler
{
    // Each opcode adds at most one object, so the pickle's length already bounds memory; these caps keep a
    // hostile file from building a huge object graph out of a few megabytes of one-byte opcodes.
    private const int MaxStackSize = 1 << 20;
    private const int MaxMarkDepth = 1 << 12;
    private const int MaxMemoSize = 1 << 20;
    private const int MaxGlobalNameLength = 256;

    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    private readonly byte[] data;
    private readonly string source;
    private readonly Func<object?[], object?> persistentLoad;
    private readonly List<object?> stack = new();
    private readonly List<int> marks = new();
    private readonly Dictionary<long, object?> memo = new();
    private int position;
    private int opcodeOffset;

    private RestrictedUnpickler(byte[] data, string source, Func<object?[], object?> persistentLoad)
    {
        this.data = data;
        this.source = source;
        this.persistentLoad = persistentLoad;
    }

    /// <summary>
    /// Reads the object <paramref name="pickle"/> encodes. <paramref name="source"/> names it in messages;
    /// <paramref name="persistentLoad"/> resolves BINPERSID ids (tuples) and may throw
    /// <see cref="CheckpointFormatException"/> itself. Anything malformed or not allowed throws
    /// <see cref="CheckpointFormatException"/> naming the opcode offset.
    /// </summary>
    public static object? Load(byte[] pickle, string source, Func<object?[], object?> persistentLoad) =>
        new RestrictedUnpickler(pickle, source, persistentLoad).Run();

    private object? Run()
    {
        while (true)
        {
            if (position >= data.Length)
                throw Fail("the pickle ends without a STOP opcode (truncated)");
            opcodeOffset = position;
            byte opcode = data[position++];
            switch (opcode)
            {
                case 0x80: // PROTO
                    byte protocol = ReadByte();
                    if (protocol is < 2 or > 5)
                        throw Fail($"pickle protocol {protocol} is not supported (2 to 5 are)");
                    break;
                case 0x95: // FRAME: a read-ahead hint; the whole pickle is in memory already.
                    ulong frame = ReadUInt64();
                    if (frame > (ulong)(data.Length - position))
                        throw Fail($"a frame of {frame} bytes runs past the end of the pickle");
                    break;
                case (byte)'}': Push(new PickleDict()); break; // EMPTY_DICT
                case (byte)']': Push(new List<object?>()); break; // EMPTY_LIST
                case (byte)')': Push(Array.Empty<object?>()); break; // EMPTY_TUPLE
                case (byte)'(': // MARK
                    if (marks.Count >= MaxMarkDepth)
                        throw Fail($"more than {MaxMarkDepth} nested marks");
                    marks.Add(stack.Count);
                    break;
                case (byte)'X': Push(ReadString(ReadUInt32())); break; // BINUNICODE
                case 0x8d: Push(ReadString(ReadUInt64())); break; // BINUNICODE8
                case 0x8c: Push(ReadString(ReadByte())); break; // SHORT_BINUNICODE
                case (byte)'q': Memoize(ReadByte()); break; // BINPUT
                case (byte)'r': Memoize(ReadUInt32()); break; // LONG_BINPUT
                case 0x94: Memoize(memo.Count); break; // MEMOIZE
                case (byte)'h': Push(Recall(ReadByte())); break; // BINGET
                case (byte)'j': Push(Recall(ReadUInt32())); break; // LONG_BINGET
                case (byte)'J': Push((long)BinaryPrimitives.ReadInt32LittleEndian(Take(4))); break; // BININT
                case (byte)'K': Push((long)ReadByte()); break; // BININT1
                case (byte)'M': Push((long)BinaryPrimitives.ReadUInt16LittleEndian(Take(2))); break; // BININT2
                case 0x8a: Push(ReadLong1()); break; // LONG1
                case (byte)'G': Push(BinaryPrimitives.ReadDoubleBigEndian(Take(8))); break; // BINFLOAT
                case 0x88: Push(true); break; // NEWTRUE
                case 0x89: Push(false); break; // NEWFALSE
                case (byte)'N': Push(null); break; // NONE
                case (byte)'t': Push(PopMark()); break; // TUPLE
                case 0x85: Push(PopMany(1)); break; // TUPLE1
                case 0x86: Push(PopMany(2)); break; // TUPLE2
                case 0x87: Push(PopMany(3)); break; // TUPLE3
                case (byte)'s': // SETITEM
                    {
                        object? value = Pop();
                        object? key = Pop();
                        Peek<PickleDict>("SETITEM target").Set(key, value);
                        break;
                    }
                case (byte)'u': // SETITEMS
                    {
                        object?[] items = PopMark();
                        if (items.Length % 2 != 0)
                            throw Fail("SETITEMS with an odd number of items");
                        PickleDict dict = Peek<PickleDict>("SETITEMS target");
                        for (int i = 0; i < items.Length; i += 2)
                            dict.Set(items[i], items[i + 1]);
                        break;
                    }
                case (byte)'a': // APPEND
                    {
                        object? item = Pop();
                        Peek<List<object?>>("APPEND target").Add(item);
                        break;
                    }
                case (byte)'e': // APPENDS
                    {
                        object?[] items = PopMark();
                        Peek<List<object?>>("APPENDS target").AddRange(items);
                        break;
                    }
                case (byte)'c': // GLOBAL
                    {
                        string module = ReadLine();
                        string name = ReadLine();
                        Push(ResolveGlobal(module, name));
                        break;
                    }
                case 0x93: // STACK_GLOBAL
                    {
                        string name = Pop<string>("STACK_GLOBAL name");
                        string module = Pop<string>("STACK_GLOBAL module");
                        Push(ResolveGlobal(module, name));
                        break;
                    }
                case (byte)'R': // REDUCE
                    {
                        object?[] arguments = Pop<object?[]>("REDUCE arguments");
                        PickleGlobal callable = Pop<PickleGlobal>("REDUCE callable");
                        Push(Call(callable, arguments));
                        break;
                    }
                case (byte)'Q': // BINPERSID
                    Push(persistentLoad(Pop<object?[]>("persistent id")));
                    break;
                case (byte)'b': // BUILD
                    {
                        object? state = Pop();
                        object? target = Peek<object>("BUILD target");
                        // OrderedDict's state is its instance attributes (DataParallel's _metadata): not weights.
                        if (target is not PickleDict || state is not (PickleDict or null))
                            throw Fail($"BUILD of {Describe(target)} with {Describe(state)} is not supported");
                        break;
                    }
                case (byte)'.': // STOP
                    return Pop();
                default:
                    throw Fail($"unsupported pickle opcode 0x{opcode:x2}");
            }
        }
    }

    private PickleGlobal ResolveGlobal(string module, string name) =>
        PickleGlobal.Resolve(module, name)
        ?? throw Fail($"refusing the pickle global '{module}.{name}' (it is not on the allow-list: collections.OrderedDict, " +
            "torch._utils._rebuild_tensor_v2, torch._utils._rebuild_parameter, torch storage classes); nothing was executed");

    private object? Call(PickleGlobal callable, object?[] arguments)
    {
        switch (callable.Kind)
        {
            case PickleGlobalKind.OrderedDict:
                if (arguments.Length != 0)
                    throw Fail($"OrderedDict called with {arguments.Length} argument(s); torch.save passes none");
                return new PickleDict();
            case PickleGlobalKind.RebuildTensor:
                // (storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
                if (arguments.Length is not (6 or 7))
                    throw Fail($"_rebuild_tensor_v2 called with {arguments.Length} arguments; expected 6 or 7");
                if (arguments[0] is not PickleStorage storage)
                    throw Fail($"_rebuild_tensor_v2 expects a storage, found {Describe(arguments[0])}");
                long[] size = Integers(arguments[2], "tensor size");
                long[] stride = Integers(arguments[3], "tensor stride");
                if (size.Length != stride.Length)
                    throw Fail($"tensor size has {size.Length} dimensions but its stride has {stride.Length}");
                if (arguments[1] is not long offset)
                    throw Fail($"tensor storage offset must be an integer, found {Describe(arguments[1])}");
                return new PickleTensor(storage, offset, size, stride);
            case PickleGlobalKind.RebuildParameter:
                // (data, requires_grad, backward_hooks): the weights are the data.
                if (arguments.Length != 3 || arguments[0] is not PickleTensor tensor)
                    throw Fail("_rebuild_parameter expects (tensor, requires_grad, backward_hooks)");
                return tensor;
            default:
                throw Fail($"the storage class torch.{callable.Storage?.Name} cannot be called");
        }
    }

    private long[] Integers(object? value, string what)
    {
        if (value is not object?[] tuple)
            throw Fail($"{what} must be a tuple, found {Describe(value)}");
        var result = new long[tuple.Length];
        for (int i = 0; i < tuple.Length; i++)
            result[i] = tuple[i] as long? ?? throw Fail($"{what} must hold integers, found {Describe(tuple[i])}");
        return result;
    }

    private int FrameStart => marks.Count > 0 ? marks[^1] : 0;

    private void Push(object? value)
    {
        if (stack.Count >= MaxStackSize)
            throw Fail($"the unpickling stack exceeds {MaxStackSize} items");
        stack.Add(value);
    }

    private object? Pop()
    {
        if (stack.Count <= FrameStart)
            throw Fail("stack underflow");
        object? value = stack[^1];
        stack.RemoveAt(stack.Count - 1);
        return value;
    }

    private T Pop<T>(string what) where T : class
    {
        object? value = Pop();
        return value as T ?? throw Fail($"{what} must be {Describe(typeof(T))}, found {Describe(value)}");
    }

    private T Peek<T>(string what) where T : class
    {
        if (stack.Count <= FrameStart)
            throw Fail($"{what} is missing (stack underflow)");
        return stack[^1] as T ?? throw Fail($"{what} must be {Describe(typeof(T))}, found {Describe(stack[^1])}");
    }

    private object?[] PopMany(int count)
    {
        if (stack.Count - FrameStart < count)
            throw Fail("stack underflow");
        object?[] items = stack.GetRange(stack.Count - count, count).ToArray();
        stack.RemoveRange(stack.Count - count, count);
        return items;
    }

    private object?[] PopMark()
    {
        if (marks.Count == 0)
            throw Fail("no MARK to pop to");
        int start = marks[^1];
        marks.RemoveAt(marks.Count - 1);
        object?[] items = stack.GetRange(start, stack.Count - start).ToArray();
        stack.RemoveRange(start, stack.Count - start);
        return items;
    }

    private void Memoize(long index)
    {
        if (stack.Count <= FrameStart)
            throw Fail("memoizing an empty stack");
        if (memo.Count >= MaxMemoSize && !memo.ContainsKey(index))
            throw Fail($"the memo exceeds {MaxMemoSize} entries");
        memo[index] = stack[^1];
    }

    private object? Recall(long index) =>
        memo.TryGetValue(index, out object? value) ? value : throw Fail($"memo entry {index} is read before it is written");

    private ReadOnlySpan<byte> Take(long count)
    {
        if (count > data.Length - position)
            throw Fail($"an operand of {count} bytes runs past the end of the pickle (truncated)");
        ReadOnlySpan<byte> span = data.AsSpan(position, (int)count);
        position += (int)count;
        return span;
    }

    private byte ReadByte() => Take(1)[0];

    private uint ReadUInt32() => BinaryPrimitives.ReadUInt32LittleEndian(Take(4));

    private ulong ReadUInt64() => BinaryPrimitives.ReadUInt64LittleEndian(Take(8));

    private string ReadString(ulong length)
    {
        if (length > (ulong)(data.Length - position))
            throw Fail($"a string of {length} bytes runs past the end of the pickle (truncated)");
        ReadOnlySpan<byte> bytes = Take((long)length);
        try
        {
            return StrictUtf8.GetString(bytes);
        }
        catch (DecoderFallbackException e)
        {
            throw new CheckpointFormatException(Message("a string is not valid UTF-8"), e);
        }
    }

    private long ReadLong1()
    {
        int length = ReadByte();
        if (length > 8)
            throw Fail($"an integer of {length} bytes does not fit 64 bits");
        ReadOnlySpan<byte> bytes = Take(length);
        long value = 0;
        for (int i = length - 1; i >= 0; i--)
            value = (value << 8) | bytes[i];
        // Two's complement: sign-extend from the top byte.
        if (length is > 0 and < 8 && (bytes[length - 1] & 0x80) != 0)
            value -= 1L << (8 * length);
        return value;
    }

    private string ReadLine()
    {
        int end = Array.IndexOf(data, (byte)'\n', position, Math.Min(MaxGlobalNameLength, data.Length - position));
        if (end < 0)
            throw Fail("a GLOBAL name is unterminated or too long");
        ReadOnlySpan<byte> line = Take(end - position);
        position++; // the newline
        foreach (byte b in line)
            if (b is < 0x21 or > 0x7e)
                throw Fail("a GLOBAL name holds a non-printable byte");
        return Encoding.ASCII.GetString(line);
    }

    private static string Describe(Type type) =>
        type == typeof(object?[]) ? "a tuple"
        : type == typeof(string) ? "a string"
        : type == typeof(PickleDict) ? "a dict"
        : type == typeof(List<object?>) ? "a list"
        : type == typeof(PickleGlobal) ? "an allowed global"
        : "an object";

    private static string Describe(object? value) => value switch
    {
        null => "None",
        bool => "a bool",
        long => "an integer",
        double => "a float",
        string => "a string",
        object?[] => "a tuple",
        List<object?> => "a list",
        PickleDict => "a dict",
        PickleGlobal global => $"the global {global.Kind}",
        PickleStorage => "a storage",
        PickleTensor => "a tensor",
        _ => value.GetType().Name,
    };

    private string Message(string problem) => $"Cannot read {source} at offset {opcodeOffset}: {problem}.";

    private CheckpointFormatException Fail(string problem) => new(Message(problem));
}

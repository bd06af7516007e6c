using System.Text;
using Crate.Transforms.Segmentation;
using static TorchSharp.torch;

namespace Crate.Transforms.Tests.Segmentation;

/// <summary>Patch grids with planted clusters: a label per patch, and features whose affinity structure the label
/// map fixes.</summary>
internal sealed class PlantedGrid
{
    private readonly int[] _labels;

    public PlantedGrid(int height, int width, Func<int, int, int> label)
    {
        Height = height;
        Width = width;
        _labels = Enumerable.Range(0, height * width).Select(i => label(i / width, i % width)).ToArray();
    }

    public int Height { get; }

    public int Width { get; }

    public int Count => _labels.Length;

    /// <summary>Label c's patches get the one-hot vector e_c plus N(0, noise²) per dimension. At noise 0.02 and
    /// 32 dimensions every within-label cosine is above 0.9 and every cross-label one below 0.15, so B is exactly
    /// block-diagonal by label.</summary>
    public Tensor OneHotFeatures(int dim = 32, double noise = 0.02, ulong seed = 1)
    {
        using var generator = new Generator(seed);
        Tensor centres = nn.functional.one_hot(tensor(_labels.Select(l => (long)l).ToArray()), dim).to_type(ScalarType.Float32);
        return centres + randn(Count, dim, generator: generator) * noise;
    }

    /// <summary>Label c's patches get a random unit centre plus N(0, noise²) per dimension: with dim·noise² = 4 the
    /// within-label cosines spread around 0.2 and cross-label ones around 0, so B is a noisy block pattern.</summary>
    public Tensor RandomCentreFeatures(int dim, double noise, ulong seed)
    {
        using var generator = new Generator(seed);
        int labels = _labels.Max() + 1;
        Tensor centres = nn.functional.normalize(randn(labels, dim, generator: generator), dim: 1);
        Tensor index = tensor(_labels.Select(l => (long)l).ToArray());
        return centres.index_select(0, index) + randn(Count, dim, generator: generator) * noise;
    }

    /// <summary>The patches of label <paramref name="label"/>.</summary>
    public BinaryMask Mask(int label) => Where((row, column) => _labels[row * Width + column] == label);

    /// <summary>The patches where <paramref name="predicate"/> holds.</summary>
    public BinaryMask Where(Func<int, int, bool> predicate) =>
        new(Height, Width, Enumerable.Range(0, Count).Select(i => predicate(i / Width, i % Width)).ToArray());

    /// <summary>Fails unless the masks hold the same cells, drawing both.</summary>
    public static void AssertSameMask(BinaryMask expected, BinaryMask actual, string what)
    {
        Assert.IsTrue(expected.Cells.SequenceEqual(actual.Cells),
            $"{what}: expected\n{Draw(expected)}\nbut got\n{Draw(actual)}");
    }

    private static string Draw(BinaryMask mask)
    {
        var text = new StringBuilder();
        for (int row = 0; row < mask.Height; row++)
        {
            for (int column = 0; column < mask.Width; column++) text.Append(mask[row, column] ? '#' : '.');
            text.Append('\n');
        }
        return text.ToString();
    }
}

using Crate.Transforms.Network;
using Crate.Transforms.Segmentation;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace Crate.Transforms.Tests.Readouts;

/// <summary>
/// The column-name arguments of the read-outs' overloads against the names in their options (the rule in
/// CrateTransformsCatalog's remarks and docs/api-tour.md): a null input keeps the options' input, an argument fills a
/// name the options leave at its default or repeat, and an argument that differs from a name the options set throws,
/// naming both. The oracle is the fitted transformer's output schema.
/// </summary>
[TestClass]
public sealed class ColumnNameArgumentTests
{
    private static CrateModel network = null!;

    [ClassInitialize]
    public static void ImportNetwork(TestContext _) => network = FixtureImages.Import();

    [ClassCleanup]
    public static void DisposeNetwork() => network.Dispose();

    /// <summary>The fixture image under another column name than the default "Image".</summary>
    private sealed class PixelsRow
    {
        [VectorType(3, 32, 32)]
        public float[] Pixels { get; set; } = new float[3 * 32 * 32];
    }

    private static readonly MLContext Context = new(seed: 0);

    private static IDataView Pixels => Context.Data.LoadFromEnumerable(new[] { new PixelsRow() });

    private static IDataView Images => Context.Data.LoadFromEnumerable(new[] { new FixtureImages.Row { Image = new float[3 * 32 * 32] } });

    private static string[] Columns(IDataView data, IEstimator<ITransformer> estimator)
    {
        using var fitted = (IDisposable)estimator.Fit(data);
        return ((ITransformer)fitted).GetOutputSchema(data.Schema).Select(c => c.Name).ToArray();
    }

    [TestMethod]
    public void ANullInputKeepsTheOptionsInput()
    {
        var options = new CrateSegmentOptions { InputColumnName = "Pixels", Device = ComputeDevice.Cpu };
        CollectionAssert.AreEqual(new[] { "Pixels", "Out", "HeadMasks" }, Columns(Pixels, Context.Transforms.CrateSegment("Out", null, network, options)));
        CollectionAssert.AreEqual(new[] { "Pixels", "Out", "HeadMasks" }, Columns(Pixels, Context.Transforms.CrateSegment("Out", network, options: options)));
    }

    [TestMethod]
    public void TheInputIsOptionalInMLNetsOrderAndDefaultsToImage()
    {
        CollectionAssert.AreEqual(new[] { "Image", "Tokens" },
            Columns(Images, Context.Transforms.CratePatchEmbedding("Tokens", network, options: new() { Device = ComputeDevice.Cpu })));
        CollectionAssert.AreEqual(new[] { "Pixels", "Tokens" },
            Columns(Pixels, Context.Transforms.CratePatchEmbedding("Tokens", network, "Pixels", new() { Device = ComputeDevice.Cpu })));
    }

    [TestMethod]
    public void AnArgumentFillsANameTheOptionsLeaveAtItsDefaultOrRepeat()
    {
        var defaults = new CrateAttentionOptions { Device = ComputeDevice.Cpu };
        CollectionAssert.AreEqual(new[] { "Pixels", "Maps" }, Columns(Pixels, Context.Transforms.CrateAttention("Maps", "Pixels", network, defaults)));
        var same = defaults with { InputColumnName = "Pixels", OutputColumnName = "Maps" };
        CollectionAssert.AreEqual(new[] { "Pixels", "Maps" }, Columns(Pixels, Context.Transforms.CrateAttention("Maps", "Pixels", network, same)));
        var maskCut = new CrateMaskCutOptions { Device = ComputeDevice.Cpu, MasksColumnName = "Objects", ImageHeight = 32, ImageWidth = 32 };
        Assert.AreEqual("Objects", Columns(Images, Context.Transforms.CrateMaskCut("Objects", "Image", network, maskCut))[2]);
    }

    [TestMethod]
    public void AnArgumentThatDiffersFromANameTheOptionsSetThrowsNamingBoth()
    {
        var input = Assert.ThrowsExactly<ArgumentException>(() =>
            Context.Transforms.CrateSegment("Out", "Image", network, new CrateSegmentOptions { InputColumnName = "Pixels" }));
        Assert.AreEqual("inputColumnName", input.ParamName);
        StringAssert.Contains(input.Message, "'Image'");
        StringAssert.Contains(input.Message, "InputColumnName is 'Pixels'");

        var output = Assert.ThrowsExactly<ArgumentException>(() =>
            Context.Transforms.CratePcaFeatures("Rgb", null, network, new CratePcaFeaturesOptions { OutputColumnName = "Colours" }));
        Assert.AreEqual("outputColumnName", output.ParamName);
        StringAssert.Contains(output.Message, "'Rgb'");
        StringAssert.Contains(output.Message, "OutputColumnName is 'Colours'");

        var masks = Assert.ThrowsExactly<ArgumentException>(() =>
            Context.Transforms.CrateMaskCut("Objects", network, options: new CrateMaskCutOptions { MasksColumnName = "Found" }));
        StringAssert.Contains(masks.Message, "MasksColumnName is 'Found'");
    }
}

using System.Text.Json;
using Crate.Transforms.Datasets;
using Crate.Transforms.Network;
using Crate.Transforms.Segmentation;
using Crate.Transforms.Tests.Datasets;
using Microsoft.ML;
using Microsoft.ML.Data;
using Crate.Testing;
using Microsoft.ML.Transforms.Image;

namespace Crate.Transforms.Tests.Readouts;

/// <summary>
/// Issue 17, item 1: a reader that skips invalid records, read through a network read-out, keeps every result beside
/// its own row. Each tree holds five good 32×32 images and three bad files (random bytes after a PNG signature, plain
/// text, an empty .jpg), placed first, in the middle and last. The oracle for every surviving row is the read-out's
/// result on that row's image read alone (one image, batch size 1), and the truth columns the tree was written with.
/// </summary>
[TestClass]
public sealed class SkippedRecordsStayInStepTests
{
    private const int Side = 32;
    private const int GoodCount = 5;

    // The order of a tree's records: bad first, in the middle and last.
    private static readonly string[] Order = ["bad-signature", "good-0", "good-1", "bad-text", "good-2", "good-3", "good-4", "bad-empty"];

    public enum Reader { ImageFolder, ClassificationFolder, SegmentationFolder, Voc, Coco }

    public enum Readout { PatchEmbedding, Attention, Segment, PcaFeatures, MaskCut }

    private static CrateModel model = null!;

    // Fitted once per read-out and batch size (fitted on the good images alone), shared by the readers' cases.
    private static readonly Dictionary<(Readout, int), ITransformer> Fitted = [];
    private static readonly Dictionary<Readout, (double[][][] Results, string[] Outputs)> Alone = [];
    private static ScratchFolder images = null!;

    [ClassInitialize]
    public static void CreateModelAndImages(TestContext _)
    {
        model = FixtureImages.Import();
        images = SegmentationFixtures.Scratch();
        var random = new Random(17);
        for (int i = 0; i < GoodCount; i++) FixtureImages.SaveRandomPng(images.File($"good-{i}.png"), Side, Side, random);
    }

    [ClassCleanup]
    public static void Cleanup()
    {
        foreach (ITransformer fitted in Fitted.Values) (fitted as IDisposable)?.Dispose();
        model.Dispose();
        images.Dispose();
    }

    public static IEnumerable<object[]> Cases =>
        from reader in Enum.GetValues<Reader>()
        from readout in Enum.GetValues<Readout>()
        select new object[] { reader, readout };

    [TestMethod]
    [DynamicData(nameof(Cases))]
    public void EverySurvivingRowCarriesItsOwnImagesResult(Reader reader, Readout readout)
    {
        using ScratchFolder tree = SegmentationFixtures.Scratch();
        var context = new MLContext(seed: 1);
        var log = new List<string>();
        context.Log += (_, e) => { lock (log) log.Add(e.Message); };
        IDataView data = Load(context, reader, tree);
        (double[][][] alone, string[] outputs) = AloneResults(readout);
        AssertDistinct(alone, readout);

        foreach (int batchSize in new[] { 1, 3, 16 })
        {
            log.Clear();
            ITransformer fitted = FittedReadout(readout, batchSize);
            IDataView scored = fitted.Transform(data);
            var seen = new List<int>();
            // The row's key, truth and results, not its image: the bug this guards against paired a result with
            // another row when the image column was read by another cursor than the rest.
            using DataViewRowCursor cursor = scored.GetRowCursor(
                scored.Schema.Where(c => !c.IsHidden && (outputs.Contains(c.Name) || KeyAndTruthColumns(reader).Contains(c.Name))));
            Func<int> goodIndex = GoodIndexReader(cursor, reader);
            Action<int> checkTruth = TruthChecker(cursor, reader);
            while (cursor.MoveNext())
            {
                int good = goodIndex();
                seen.Add(good);
                checkTruth(good);
                for (int o = 0; o < outputs.Length; o++)
                {
                    double[] value = Values(cursor, scored.Schema[outputs[o]]);
                    // Batched and one-image passes sum in another order (float32, a few ulp per layer); distinct
                    // images differ by far more (AssertDistinct), so a row paired with another image fails here.
                    NumericAssert.AreAllClose(alone[good][o], value, new Tolerance(1e-4, 1e-4),
                        $"{reader} → {readout}, batch {batchSize}, row of good-{good}, column {outputs[o]}");
                }
            }
            CollectionAssert.AreEqual(Enumerable.Range(0, GoodCount).ToArray(), seen.ToArray(), $"{reader} → {readout}, batch {batchSize}: the good rows, once each, in order");
            Assert.IsTrue(log.Any(m => m.Contains($"skipped 3 of {Order.Length} records")),
                $"{reader} → {readout}, batch {batchSize}: the skipped count reaches the log; it has {string.Join(" | ", log)}");
        }
    }

    private static IDataView Good(MLContext context) =>
        context.Data.LoadFromEnumerable(Enumerable.Range(0, GoodCount).Select(i => new ImageRow { Image = MLImage.CreateFromFile(images.File($"good-{i}.png")) }).ToArray());

    private static ITransformer FittedReadout(Readout readout, int batchSize)
    {
        lock (Fitted)
        {
            if (!Fitted.TryGetValue((readout, batchSize), out ITransformer? fitted))
            {
                var context = new MLContext(seed: 1);
                Fitted[(readout, batchSize)] = fitted = Estimator(context, readout, batchSize).Fit(Good(context));
            }
            return fitted;
        }
    }

    /// <summary>[good image][output column] → values, each from a view of that one image at batch size 1.</summary>
    private static (double[][][] Results, string[] Outputs) AloneResults(Readout readout)
    {
        lock (Alone)
        {
            if (Alone.TryGetValue(readout, out var known)) return known;
            var context = new MLContext(seed: 1);
            ITransformer fitted = FittedReadout(readout, batchSize: 1);
            DataViewSchema inputSchema = Good(context).Schema;
            string[] outputs = fitted.GetOutputSchema(inputSchema).Skip(inputSchema.Count).Select(c => c.Name).ToArray();
            var results = new double[GoodCount][][];
            for (int i = 0; i < GoodCount; i++)
            {
                IDataView one = context.Data.LoadFromEnumerable(new[] { new ImageRow { Image = MLImage.CreateFromFile(images.File($"good-{i}.png")) } });
                IDataView scored = fitted.Transform(one);
                using DataViewRowCursor cursor = scored.GetRowCursor(scored.Schema);
                Assert.IsTrue(cursor.MoveNext());
                results[i] = outputs.Select(name => Values(cursor, scored.Schema[name])).ToArray();
            }
            return Alone[readout] = (results, outputs);
        }
    }

    /// <summary>The test could not see a misaligned row if two images gave the same result.</summary>
    private static void AssertDistinct(double[][][] alone, Readout readout)
    {
        for (int a = 0; a < GoodCount; a++)
            for (int b = a + 1; b < GoodCount; b++)
            {
                double difference = alone[a].Zip(alone[b]).Max(pair =>
                    pair.First.Length != pair.Second.Length ? 1 : pair.First.Zip(pair.Second).Select(v => Math.Abs(v.First - v.Second)).DefaultIfEmpty(0).Max());
                NumericAssert.IsAbove(1e-2, difference, $"{readout}: good-{a} and good-{b} must differ for the test to see a swap");
            }
    }

    private static IEstimator<ITransformer> Estimator(MLContext context, Readout readout, int batchSize) => readout switch
    {
        Readout.PatchEmbedding => context.Transforms.CratePatchEmbedding(model, new CratePatchEmbeddingOptions { Device = ComputeDevice.Cpu, BatchSize = batchSize }),
        Readout.Attention => context.Transforms.CrateAttention(model, new CrateAttentionOptions { Device = ComputeDevice.Cpu, BatchSize = batchSize }),
        Readout.Segment => context.Transforms.CrateSegment(model, new CrateSegmentOptions { Device = ComputeDevice.Cpu, BatchSize = batchSize, OutputColumnName = "PredictedMask" }),
        Readout.PcaFeatures => context.Transforms.CratePcaFeatures(model, new CratePcaFeaturesOptions { Device = ComputeDevice.Cpu, BatchSize = batchSize }),
        Readout.MaskCut => context.Transforms.CrateMaskCut(model, new CrateMaskCutOptions { Device = ComputeDevice.Cpu, BatchSize = batchSize }),
        _ => throw new ArgumentOutOfRangeException(nameof(readout)),
    };

    /// <summary>Writes the tree in the reader's layout, records in <see cref="Order"/>, and loads it, skipping the bad ones.</summary>
    private static IDataView Load(MLContext context, Reader reader, ScratchFolder tree)
    {
        switch (reader)
        {
            case Reader.ImageFolder:
                WriteImages(tree.Path, name => name + ".png");
                return context.Data.LoadImageFolder(tree.Path, new ImageFolderOptions { SkipInvalidRecords = true });
            case Reader.ClassificationFolder:
                // One class folder: the listing order is the records' order.
                Directory.CreateDirectory(tree.File("things"));
                WriteImages(tree.File("things"), name => name + ".png");
                return context.Data.LoadClassificationFolder(tree.Path, new ImageFolderClassificationOptions { SkipInvalidRecords = true });
            case Reader.SegmentationFolder:
                Directory.CreateDirectory(tree.File("images"));
                Directory.CreateDirectory(tree.File("masks"));
                WriteImages(tree.File("images"), name => name + ".png");
                WriteMasks(tree.File("masks"));
                return context.Data.LoadSegmentationFolder(tree.Path, new ImageFolderSegmentationOptions { SkipInvalidRecords = true });
            case Reader.Voc:
                foreach (string folder in new[] { "JPEGImages", "SegmentationClass", "SegmentationObject", Path.Combine("ImageSets", "Segmentation") })
                    Directory.CreateDirectory(tree.File(folder));
                WriteImages(tree.File("JPEGImages"), name => name + ".jpg");
                WriteMasks(tree.File("SegmentationClass"));
                WriteMasks(tree.File("SegmentationObject"));
                File.WriteAllLines(tree.File("ImageSets", "Segmentation", "val.txt"), Order);
                return context.Data.LoadVocSegmentation(tree.Path, "val", new VocSegmentationOptions { SkipInvalidRecords = true });
            case Reader.Coco:
                WriteImages(tree.Path, name => name + ".png");
                File.WriteAllText(tree.File("instances.json"), CocoJson());
                return context.Data.LoadCocoInstances(tree.File("instances.json"), tree.Path, new CocoInstancesOptions { SkipInvalidRecords = true });
            default:
                throw new ArgumentOutOfRangeException(nameof(reader));
        }
    }

    /// <summary>The good images (a VOC .jpg holds PNG bytes: the decoder reads the content, not the name) and the bad files.</summary>
    private static void WriteImages(string folder, Func<string, string> fileName)
    {
        var random = new Random(3);
        foreach (string name in Order)
        {
            string path = Path.Combine(folder, fileName(name));
            if (name.StartsWith("good-", StringComparison.Ordinal)) File.Copy(images.File(name + ".png"), path);
            else if (name == "bad-signature") File.WriteAllBytes(path, [137, 80, 78, 71, 13, 10, 26, 10, .. Enumerable.Range(0, 200).Select(_ => (byte)random.Next(256))]);
            else if (name == "bad-text") File.WriteAllText(path, "this is not an image");
            else File.WriteAllBytes(path, []);
        }
    }

    /// <summary>Every record's mask: class id = 1 + the good image's number (bad records get 20, a valid mask).</summary>
    private static void WriteMasks(string folder)
    {
        foreach (string name in Order)
            PngLabelMap.Write(Path.Combine(folder, name + ".png"), new LabelMap(Side, Side, Enumerable.Repeat(TruthClass(name), Side * Side).ToArray()));
    }

    private static byte TruthClass(string name) => name.StartsWith("good-", StringComparison.Ordinal) ? (byte)(1 + int.Parse(name[5..])) : (byte)20;

    /// <summary>Image ids 101…108 in <see cref="Order"/>; good-i has one object whose box is [i, 2i, 3, 4].</summary>
    private static string CocoJson()
    {
        var imagesJson = Order.Select((name, r) => new { id = 101 + r, file_name = name + ".png", height = Side, width = Side });
        var annotations = Order.Select((name, r) => (name, r)).Where(x => x.name.StartsWith("good-", StringComparison.Ordinal)).Select(x =>
        {
            int i = int.Parse(x.name[5..]);
            return new
            {
                id = 1 + i, image_id = 101 + x.r, category_id = 1, iscrowd = 0, area = 12.0,
                bbox = new double[] { i, 2 * i, 3, 4 },
                segmentation = new[] { new double[] { i, 2 * i, i + 3, 2 * i, i + 3, 2 * i + 4, i, 2 * i + 4 } },
            };
        });
        return JsonSerializer.Serialize(new { images = imagesJson, annotations, categories = new[] { new { id = 1, name = "thing" } } });
    }

    private static string[] KeyAndTruthColumns(Reader reader) => reader switch
    {
        Reader.Coco => [CocoInstances.ImageId, CocoInstances.Boxes],
        Reader.ClassificationFolder => ["ImagePath", "Label"],
        Reader.SegmentationFolder or Reader.Voc => ["Name", "Mask"],
        _ => ["Name"],
    };

    /// <summary>Which good image the current row is, from the reader's own key column.</summary>
    private static Func<int> GoodIndexReader(DataViewRow row, Reader reader)
    {
        if (reader == Reader.Coco)
        {
            ValueGetter<long> getId = row.GetGetter<long>(row.Schema[CocoInstances.ImageId]);
            return () =>
            {
                long id = 0;
                getId(ref id);
                return GoodNumber(Order[id - 101]);
            };
        }
        string key = reader == Reader.ClassificationFolder ? "ImagePath" : "Name";
        ValueGetter<ReadOnlyMemory<char>> getKey = row.GetGetter<ReadOnlyMemory<char>>(row.Schema[key]);
        return () =>
        {
            ReadOnlyMemory<char> value = default;
            getKey(ref value);
            return GoodNumber(Path.GetFileNameWithoutExtension(value.ToString()));
        };
    }

    private static int GoodNumber(string name)
    {
        Assert.IsTrue(name.StartsWith("good-", StringComparison.Ordinal), $"a bad record '{name}' came through");
        return int.Parse(name[5..]);
    }

    /// <summary>Checks the row's truth columns against what the tree was written with for that image.</summary>
    private static Action<int> TruthChecker(DataViewRow row, Reader reader)
    {
        switch (reader)
        {
            case Reader.SegmentationFolder or Reader.Voc:
                ValueGetter<VBuffer<byte>> getMask = row.GetGetter<VBuffer<byte>>(row.Schema["Mask"]);
                return good =>
                {
                    VBuffer<byte> mask = default;
                    getMask(ref mask);
                    Assert.IsTrue(mask.DenseValues().All(v => v == 1 + good), $"the truth mask of good-{good} is its own");
                };
            case Reader.Coco:
                ValueGetter<VBuffer<double>> getBoxes = row.GetGetter<VBuffer<double>>(row.Schema[CocoInstances.Boxes]);
                return good =>
                {
                    VBuffer<double> boxes = default;
                    getBoxes(ref boxes);
                    CollectionAssert.AreEqual(new double[] { good, 2 * good, 3, 4 }, boxes.DenseValues().ToArray(), $"the boxes of good-{good} are its own");
                };
            case Reader.ClassificationFolder:
                ValueGetter<ReadOnlyMemory<char>> getLabel = row.GetGetter<ReadOnlyMemory<char>>(row.Schema["Label"]);
                return _ =>
                {
                    ReadOnlyMemory<char> label = default;
                    getLabel(ref label);
                    Assert.AreEqual("things", label.ToString());
                };
            default:
                return _ => { };
        }
    }

    /// <summary>A column's value on the current row as doubles, whatever its numeric or Boolean type.</summary>
    private static double[] Values(DataViewRow row, DataViewSchema.Column column)
    {
        Type item = column.Type is VectorDataViewType vector ? vector.ItemType.RawType : column.Type.RawType;
        bool isVector = column.Type is VectorDataViewType;
        return item switch
        {
            _ when item == typeof(float) => Read<float>(row, column, isVector, v => v),
            _ when item == typeof(double) => Read<double>(row, column, isVector, v => v),
            _ when item == typeof(int) => Read<int>(row, column, isVector, v => v),
            _ when item == typeof(long) => Read<long>(row, column, isVector, v => v),
            _ when item == typeof(byte) => Read<byte>(row, column, isVector, v => v),
            _ when item == typeof(uint) => Read<uint>(row, column, isVector, v => v),
            _ when item == typeof(bool) => Read<bool>(row, column, isVector, v => v ? 1 : 0),
            _ when item == typeof(ReadOnlyMemory<char>) => Read<ReadOnlyMemory<char>>(row, column, isVector, v => v.ToString().GetHashCode(StringComparison.Ordinal)),
            _ => throw new AssertFailedException($"Column {column.Name} has type {column.Type}, which this test does not read."),
        };
    }

    private static double[] Read<T>(DataViewRow row, DataViewSchema.Column column, bool isVector, Func<T, double> toDouble)
    {
        if (isVector)
        {
            VBuffer<T> values = default;
            row.GetGetter<VBuffer<T>>(column)(ref values);
            return values.DenseValues().Select(toDouble).ToArray();
        }
        T value = default!;
        row.GetGetter<T>(column)(ref value);
        return [toDouble(value)];
    }

    public sealed class ImageRow
    {
        [ImageType(Side, Side)]
        public MLImage? Image { get; set; }
    }
}

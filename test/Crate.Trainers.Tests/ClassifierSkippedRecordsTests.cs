using Crate.Testing;
using Crate.Trainers;
using Crate.Transforms;
using Crate.Transforms.Datasets;
using Crate.Transforms.Network;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms.Image;

namespace Crate.Trainers.Tests;

/// <summary>
/// Issue 17, item 1, for the classifier (the read-outs' cases are SkippedRecordsStayInStepTests): a classification
/// folder whose bad files come first, in the middle and last, read with SkipInvalidRecords, scores each surviving
/// image as that image read alone does, at batch sizes 1, 3 and 16.
/// </summary>
[TestClass]
public sealed class ClassifierSkippedRecordsTests
{
    private const int Side = 32;

    [TestMethod]
    public void EachScoreBelongsToItsOwnImage()
    {
        string root = Directory.CreateTempSubdirectory("crate-skip-").FullName;
        try
        {
            string[] order = ["a-bad", "b-good", "c-good", "d-bad", "e-good", "f-good", "g-good", "h-bad"];
            string folder = Directory.CreateDirectory(Path.Combine(root, "things")).FullName;
            var random = new Random(5);
            foreach (string name in order)
            {
                string path = Path.Combine(folder, name + ".png");
                if (name.EndsWith("-bad", StringComparison.Ordinal))
                {
                    File.WriteAllText(path, "not an image");
                    continue;
                }
                // A colour of its own per image (noise on random images averages out to near-equal scores).
                var pixels = new byte[Side * Side * 4];
                random.NextBytes(pixels);
                int k = Array.IndexOf(order, name);
                for (int p = 0; p < pixels.Length; p += 4)
                    (pixels[p], pixels[p + 1], pixels[p + 2], pixels[p + 3]) = ((byte)(30 * k + pixels[p] % 16), (byte)(250 - 30 * k), (byte)(pixels[p + 2] % 64), 255);
                using MLImage image = MLImage.CreateFromPixels(Side, Side, MLPixelFormat.Rgba32, pixels);
                image.Save(path);
            }
            string[] good = order.Where(n => n.EndsWith("-good", StringComparison.Ordinal)).ToArray();

            var network = new CrateModel(new CrateArchitecture
            {
                EmbeddingDim = 32, Depth = 2, Heads = 2, HeadDim = 16, PatchSize = 8, ImageHeight = Side, ImageWidth = Side, ClassCount = 4,
            }, new TorchSharp.torch.Generator(seed: 7));
            var context = new MLContext(seed: 0);
            var log = new List<string>();
            context.Log += (_, e) => { lock (log) log.Add(e.Message); };

            float[][] alone = good.Select(name =>
            {
                using CrateClassifierTransformer one = Classifier(network, batchSize: 1);
                IDataView single = context.Data.LoadFromEnumerable(new[] { new ImageRow { Image = MLImage.CreateFromFile(Path.Combine(folder, name + ".png")) } });
                return one.Transform(single).GetColumn<float[]>("Score").Single();
            }).ToArray();
            for (int a = 0; a < alone.Length; a++)
                for (int b = a + 1; b < alone.Length; b++)
                    NumericAssert.IsAbove(1e-3, alone[a].Zip(alone[b]).Max(p => Math.Abs(p.First - p.Second)), "distinct images score apart");

            foreach (int batchSize in new[] { 1, 3, 16 })
            {
                log.Clear();
                using CrateClassifierTransformer classifier = Classifier(network, batchSize);
                IDataView scored = classifier.Transform(context.Data.LoadClassificationFolder(root, new ImageFolderClassificationOptions { SkipInvalidRecords = true }));
                using DataViewRowCursor cursor = scored.GetRowCursor([scored.Schema["ImagePath"], scored.Schema["Score"]]);
                ValueGetter<ReadOnlyMemory<char>> getPath = cursor.GetGetter<ReadOnlyMemory<char>>(scored.Schema["ImagePath"]);
                ValueGetter<VBuffer<float>> getScore = cursor.GetGetter<VBuffer<float>>(scored.Schema["Score"]);
                var seen = new List<string>();
                while (cursor.MoveNext())
                {
                    ReadOnlyMemory<char> path = default;
                    VBuffer<float> score = default;
                    getPath(ref path);
                    getScore(ref score);
                    string name = Path.GetFileNameWithoutExtension(path.ToString());
                    seen.Add(name);
                    int index = Array.IndexOf(good, name);
                    Assert.IsGreaterThanOrEqualTo(0, index, $"batch {batchSize}: a bad record '{name}' came through");
                    // One-image and batched passes sum in another order (float32 rounding of a 2-layer network).
                    NumericAssert.AreAllClose(alone[index], score.DenseValues().ToArray(), new Tolerance(1e-4, 1e-4), $"batch {batchSize}, {name}");
                }
                CollectionAssert.AreEqual(good, seen, $"batch {batchSize}: each good image once, in order");
                Assert.IsTrue(log.Any(m => m.Contains($"skipped 3 of {order.Length} records")), $"batch {batchSize}: the skip count is logged");
            }
            network.Dispose();
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    private static CrateClassifierTransformer Classifier(CrateModel network, int batchSize) =>
        new(network, new CrateClassifierSettings
        {
            ImageHeight = Side, ImageWidth = Side, Device = ComputeDevice.Cpu, BatchSize = batchSize,
            Labels = new LabelKeyValues("Text", ["w", "x", "y", "z"]),
        });

    public sealed class ImageRow
    {
        [ImageType(Side, Side)]
        public MLImage? Image { get; set; }
    }
}

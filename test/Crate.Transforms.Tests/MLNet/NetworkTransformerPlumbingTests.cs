using Crate.Testing;
using Crate.Transforms.MLNet;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace Crate.Transforms.Tests.MLNet;

[TestClass]
public sealed class NetworkTransformerPlumbingTests
{
    public sealed class Row
    {
        [VectorType(3)]
        public float[] Values { get; set; } = [];

        public string Name { get; set; } = "";
    }

    public sealed class Prediction
    {
        public float Sum { get; set; }

        public string Name { get; set; } = "";
    }

    private static Row[] Rows(int count) =>
        Enumerable.Range(0, count).Select(i => new Row { Values = [i, 2 * i, 1], Name = $"row{i}" }).ToArray();

    [TestMethod]
    public void RowsStreamInBatchesWithTheirOwnColumns()
    {
        var context = new MLContext(seed: 1);
        IDataView data = context.Data.LoadFromEnumerable(Rows(10));
        var transformer = new SumTransformer("Values", factor: 2, batchSize: 4);
        IDataView output = transformer.Transform(data);
        Assert.IsEmpty(transformer.BatchSizes, "Transform is lazy.");
        Prediction[] rows = context.Data.CreateEnumerable<Prediction>(output, reuseRowObject: false).ToArray();
        Assert.HasCount(10, rows);
        for (int i = 0; i < 10; i++)
        {
            Assert.AreEqual(2f * (3 * i + 1), rows[i].Sum, $"row {i}");
            Assert.AreEqual($"row{i}", rows[i].Name);
        }
        CollectionAssert.AreEqual(new[] { 4, 4, 2 }, transformer.BatchSizes);
    }

    [TestMethod]
    public void ReadingOnlyInputColumnsNeverRunsTheNetwork()
    {
        var context = new MLContext(seed: 1);
        var transformer = new SumTransformer("Values", 1, 4);
        IDataView output = transformer.Transform(context.Data.LoadFromEnumerable(Rows(5)));
        string[] names = output.GetColumn<string>("Name").ToArray();
        Assert.HasCount(5, names);
        Assert.IsEmpty(transformer.BatchSizes);
    }

    [TestMethod]
    public void OutputSchemaIsInputThenAddedColumns()
    {
        var context = new MLContext(seed: 1);
        IDataView data = context.Data.LoadFromEnumerable(Rows(1));
        DataViewSchema schema = new SumTransformer("Values", 1, 4).GetOutputSchema(data.Schema);
        CollectionAssert.AreEqual(new[] { "Values", "Name", "Sum" }, schema.Select(c => c.Name).ToArray());
        Assert.AreEqual(NumberDataViewType.Single, schema["Sum"].Type);
    }

    [TestMethod]
    public void PredictionEngineMapsOneRowAtATime()
    {
        var context = new MLContext(seed: 1);
        IDataView data = context.Data.LoadFromEnumerable(Rows(1));
        ITransformer pipeline = context.Transforms.CopyColumns("Copy", "Values").Fit(data)
            .Append(new SumTransformer("Copy", factor: 3, batchSize: 8));
        var engine = context.Model.CreatePredictionEngine<Row, Prediction>(pipeline);
        Assert.AreEqual(3f * 6, engine.Predict(new Row { Values = [1, 2, 3], Name = "a" }).Sum);
        Assert.AreEqual(3f * -1, engine.Predict(new Row { Values = [0, 0, -1], Name = "b" }).Sum);
    }

    [TestMethod]
    public void MixedPipelineSavesToOneFileAndLoadsBack()
    {
        var context = new MLContext(seed: 1);
        IDataView data = context.Data.LoadFromEnumerable(Rows(6));
        ITransformer front = context.Transforms.CopyColumns("Copy", "Values").Append(context.Transforms.NormalizeMinMax("Copy")).Fit(data);
        var sum = new SumTransformer("Copy", factor: 5, batchSize: 4);
        ITransformer back = context.Transforms.CopyColumns("SumCopy", "Sum").Fit(sum.Transform(front.Transform(data)));
        ITransformer pipeline = front.Append(sum).Append(back);
        float[] expected = pipeline.Transform(data).GetColumn<float>("SumCopy").ToArray();
        string path = Path.Combine(Path.GetTempPath(), $"crate-pipeline-{Guid.NewGuid():N}.zip");
        try
        {
            CratePipelineFile.Save(context, pipeline, data.Schema, path);
            ITransformer loaded = CratePipelineFile.Load(new MLContext(seed: 2), path, out DataViewSchema inputSchema);
            CollectionAssert.AreEqual(data.Schema.Select(c => c.Name).ToArray(), inputSchema.Select(c => c.Name).ToArray());
            float[] actual = loaded.Transform(data).GetColumn<float>("SumCopy").ToArray();
            CollectionAssert.AreEqual(expected, actual);
            // The fitted normalisation travels with the file. ML.NET's min-max (fixZero) divides each slot by its largest
            // |value| and maps a constant slot (minimum = maximum) to 0: row i's (i, 2i, 1) becomes (i/5, 2i/10, 0), whose
            // sum times 5 is 2i, a few float32 roundings of values ≤ 10 away. The raw sums would be 5·(3i + 1).
            NumericAssert.AreAllClose(Enumerable.Range(0, 6).Select(i => 2.0 * i).ToArray(), actual.Select(v => (double)v).ToArray(),
                new Tolerance(Absolute: 1e-5, Relative: 1e-6), "normalised sums");
        }
        finally
        {
            File.Delete(path);
        }
    }

    [TestMethod]
    public void MLNetsOwnSaveExplainsWhereToGo()
    {
        var context = new MLContext(seed: 1);
        IDataView data = context.Data.LoadFromEnumerable(Rows(1));
        var error = Assert.ThrowsExactly<NotSupportedException>(() =>
            context.Model.Save(new SumTransformer("Values", 1, 1), data.Schema, new MemoryStream()));
        StringAssert.Contains(error.Message, "CratePipelineFile.Save");
    }

    [TestMethod]
    public void NewerOrForeignFilesAreRefusedClearly()
    {
        string path = Path.Combine(Path.GetTempPath(), $"crate-pipeline-{Guid.NewGuid():N}.zip");
        var context = new MLContext(seed: 1);
        try
        {
            File.WriteAllText(path, "not a zip");
            StringAssert.Contains(Assert.ThrowsExactly<InvalidDataException>(() => CratePipelineFile.Load(context, path, out _)).Message, "not a Crate.MLNet pipeline");
            using (var archive = System.IO.Compression.ZipFile.Open(path + ".zip", System.IO.Compression.ZipArchiveMode.Create))
            using (var writer = new StreamWriter(archive.CreateEntry("manifest.json").Open()))
                writer.Write("""{"Format":"crate-mlnet-pipeline","FormatVersion":99,"CrateMLNetVersion":"9.0.0","Parts":[]}""");
            var error = Assert.ThrowsExactly<InvalidDataException>(() => CratePipelineFile.Load(context, path + ".zip", out _));
            StringAssert.Contains(error.Message, "format 99");
            StringAssert.Contains(error.Message, "reads format 1");
            Assert.ThrowsExactly<FileNotFoundException>(() => CratePipelineFile.Load(context, path + ".missing", out _));
        }
        finally
        {
            File.Delete(path);
            File.Delete(path + ".zip");
        }
    }
}

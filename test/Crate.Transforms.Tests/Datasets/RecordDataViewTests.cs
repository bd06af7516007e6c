using Crate.Transforms.Datasets;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;

namespace Crate.Transforms.Tests.Datasets;

/// <summary>
/// The view under every reader and embedded dataset: when a row is made, how often, and what a failure says. The
/// records are the numbers 0..4, a row is its record squared, and every call to <c>open</c> is counted by hand.
/// </summary>
[TestClass]
public sealed class RecordDataViewTests
{
    private sealed record Row(int Value);

    private sealed class Opening(params int[] failing)
    {
        public List<int> Opened { get; } = [];

        public Row Open(int record)
        {
            Opened.Add(record);
            if (failing.Contains(record)) throw new FormatException($"record {record} is corrupt");
            return new Row(record * record);
        }
    }

    private static RecordDataView<int, Row> View(MLContext context, Opening opening, bool skipInvalid) =>
        new(context, "Test reader", [0, 1, 2, 3, 4],
            [
                RecordColumn<Row>.Scalar("Square", NumberDataViewType.Int32, row => row.Value),
                RecordColumn<Row>.Vector("Digits", new VectorDataViewType(NumberDataViewType.Int32), row => new[] { row.Value / 10, row.Value % 10 }),
            ],
            opening.Open, record => $"number {record}", skipInvalid);

    [TestMethod]
    public void ARowIsMadeOnlyWhenAColumnIsReadAndOncePerPosition()
    {
        var opening = new Opening();
        IDataView view = View(new MLContext(), opening, skipInvalid: false);
        Assert.AreEqual(5L, view.GetRowCount());

        using (DataViewRowCursor cursor = view.GetRowCursor(view.Schema))
        {
            ValueGetter<int> square = cursor.GetGetter<int>(view.Schema["Square"]);
            ValueGetter<VBuffer<int>> digits = cursor.GetGetter<VBuffer<int>>(view.Schema["Digits"]);
            var read = new List<int>();
            while (cursor.MoveNext())
            {
                if (cursor.Position % 2 == 1) continue; // rows 1 and 3 are passed over without a read
                int value = 0;
                square(ref value);
                square(ref value);
                VBuffer<int> buffer = default;
                digits(ref buffer);
                read.Add(value);
                CollectionAssert.AreEqual(new[] { value / 10, value % 10 }, buffer.DenseValues().ToArray());
            }
            CollectionAssert.AreEqual(new[] { 0, 4, 16 }, read);
        }
        CollectionAssert.AreEqual(new[] { 0, 2, 4 }, opening.Opened, "Rows 0, 2 and 4 were read (each once, for two columns and three calls); 1 and 3 never.");

        using (DataViewRowCursor cursor = view.GetRowCursor([]))
            while (cursor.MoveNext()) { }
        CollectionAssert.AreEqual(new[] { 0, 2, 4 }, opening.Opened, "A cursor that reads no column makes no row.");
    }

    [TestMethod]
    public void AFailureNamesTheRecord()
    {
        IDataView view = View(new MLContext(), new Opening(failing: 3), skipInvalid: false);
        using DataViewRowCursor cursor = view.GetRowCursor(view.Schema);
        ValueGetter<int> square = cursor.GetGetter<int>(view.Schema["Square"]);
        int value = 0;
        for (int i = 0; i < 3; i++)
        {
            Assert.IsTrue(cursor.MoveNext());
            square(ref value);
        }
        Assert.IsTrue(cursor.MoveNext());
        var failure = Assert.ThrowsExactly<InvalidDataException>(() => square(ref value));
        Assert.AreEqual("Test reader, record 3 (number 3): record 3 is corrupt", failure.Message);
        Assert.IsInstanceOfType<FormatException>(failure.InnerException);
    }

    [TestMethod]
    public void SkippingReadsEachRowInMoveNextAndLogsTheRowsItDrops()
    {
        var context = new MLContext();
        var log = new List<string>();
        context.Log += (_, e) => { if (e.Kind == ChannelMessageKind.Warning) log.Add(e.Message); };
        var opening = new Opening(failing: [1, 3]);
        IDataView view = View(context, opening, skipInvalid: true);
        Assert.IsNull(view.GetRowCount(), "Skips are found only when rows are read, so the count is unknown.");

        Assert.AreEqual(3, view.GetColumn<int>("Square").Count());
        CollectionAssert.AreEqual(new[] { 0, 4, 16 }, view.GetColumn<int>("Square").ToArray());
        CollectionAssert.AreEqual(new[] { 0, 1, 2, 3, 4, 0, 1, 2, 3, 4 }, opening.Opened, "Each pass opens every row once, to validate it, and reads it from there.");
        Assert.AreEqual(4, log.Count(m => m.Contains("Skipped")), string.Join('\n', log)); // records 1 and 3, in two passes
        StringAssert.Contains(log.First(m => m.Contains("Skipped")), "Test reader, record 1 (number 1): record 1 is corrupt");
        Assert.AreEqual(2, log.Count(m => m.Contains("skipped 2 of 5 records")), string.Join('\n', log));
    }
}

using System.Diagnostics;
using Crate.Transforms;
using Crate.Transforms.Network;
using Crate.Transforms.Segmentation;
using Microsoft.ML;
using Microsoft.ML.Data;

/// <summary>
/// The read-outs at the paper's MaskCut setting: CRATE-B/8 (random weights) at 480×480, a 60×60 patch grid, through
/// CrateMaskCut or CrateAttention. Prints images/s and the process's peak working set (VmHWM), which is why each
/// read-out runs in a process of its own.
/// </summary>
internal static class ReadoutBenchmark
{
    private const int Side = 480;

    public static void Run(string readout, int batch, int images)
    {
        var context = new MLContext(seed: 0);
        var random = new Random(0);
        var rows = Enumerable.Range(0, images).Select(_ =>
        {
            var pixels = new float[3 * Side * Side];
            for (int i = 0; i < pixels.Length; i++) pixels[i] = (float)random.NextDouble();
            return new ImageRow { Image = pixels };
        }).ToArray();
        IDataView data = context.Data.LoadFromEnumerable(rows);
        using var model = new CrateModel(CrateArchitecture.Base(patchSize: 8));
        model.eval();
        long afterModel = WorkingSetMiB();
        IDataView output = Apply(context, readout, model, batch, data, out string[] columns);
        var clock = Stopwatch.StartNew();
        long rowsRead = 0;
        using (DataViewRowCursor cursor = output.GetRowCursor(columns.Select(c => output.Schema[c])))
        {
            var getters = columns.Select(c => Reader(cursor, output.Schema[c])).ToArray();
            while (cursor.MoveNext())
            {
                foreach (Action get in getters) get();
                rowsRead++;
            }
        }
        double seconds = clock.Elapsed.TotalSeconds;
        using var self = Process.GetCurrentProcess();
        self.Refresh();
        Console.WriteLine($"| {readout} | {Side} | {batch} | {rowsRead} | {rowsRead / seconds:F3} | {afterModel} | {self.PeakWorkingSet64 >> 20} |");
    }

    private static IDataView Apply(MLContext context, string readout, CrateModel model, int batch, IDataView data, out string[] columns)
    {
        if (readout == "maskcut")
        {
            var options = new CrateMaskCutOptions { BatchSize = batch, Device = ComputeDevice.Cpu };
            columns = [options.MasksColumnName, options.BoxesColumnName, options.ScoresColumnName];
            return context.Transforms.CrateMaskCut(model, options).Fit(data).Transform(data);
        }
        var attention = new CrateAttentionOptions { BatchSize = batch, Device = ComputeDevice.Cpu, ImageHeight = Side, ImageWidth = Side };
        columns = [attention.OutputColumnName];
        return context.Transforms.CrateAttention(model, attention).Fit(data).Transform(data);
    }

    private static Action Reader(DataViewRow row, DataViewSchema.Column column)
    {
        if (column.Type is VectorDataViewType { ItemType: BooleanDataViewType })
        {
            ValueGetter<VBuffer<bool>> get = row.GetGetter<VBuffer<bool>>(column);
            VBuffer<bool> value = default;
            return () => get(ref value);
        }
        ValueGetter<VBuffer<float>> getFloats = row.GetGetter<VBuffer<float>>(column);
        VBuffer<float> floats = default;
        return () => getFloats(ref floats);
    }

    private static long WorkingSetMiB()
    {
        using var self = Process.GetCurrentProcess();
        self.Refresh();
        return self.WorkingSet64 >> 20;
    }

    private sealed class ImageRow
    {
        [VectorType(3, Side, Side)]
        public float[] Image { get; set; } = [];
    }
}

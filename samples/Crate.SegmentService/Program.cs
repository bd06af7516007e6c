// Crate.SegmentService: POST an image, get CRATE's segmentation of it (MaskCut's objects as COCO RLE masks, boxes and
// scores, and the classifier's class) as JSON, or as a PNG overlay. API: docs/serving.md.
// Usage: dotnet run -c Release --project samples/Crate.SegmentService [-- --urls http://127.0.0.1:5000] [--Segmentation:ModelPath=model.zip]
//    or: dotnet run -c Release --project samples/Crate.SegmentService -- make-model --output model.zip [options]   (see ModelCommand.cs)
using Crate.SegmentService;

if (args.Length > 0 && args[0] == ModelCommand.Name)
    return ModelCommand.Run(args[1..], Console.Out, Console.Error);
WebApplication app = SegmentServiceApp.Build(args);
app.Run();
return 0;

/// <summary>The entry point (also what WebApplicationFactory starts in the tests).</summary>
public partial class Program;

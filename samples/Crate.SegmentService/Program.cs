// Crate.SegmentService: POST an image, get CRATE's segmentation of it (MaskCut's objects as COCO RLE masks, boxes and
// scores, and the classifier's class) as JSON, or as a PNG overlay. API: docs/serving.md.
// Usage: dotnet run -c Release --project samples/Crate.SegmentService [-- --urls http://127.0.0.1:5000] [--Segmentation:ModelPath=model.zip]
//    or: dotnet run -c Release --project samples/Crate.SegmentService -- make-model --output model.zip [options]   (see ModelCommand.cs)
//    or: ... -- --help   (the service's settings)   or: ... -- make-model --help
// `dotnet run --project` keeps the caller's working directory (EnableDefaultRunWorkingDirectory in the .csproj), so
// relative paths in either command are the caller's; appsettings.json is read from beside the program.
using Crate.SegmentService;

return SegmentServiceApp.Run(args, Console.Out, Console.Error);

/// <summary>The entry point (also what WebApplicationFactory starts in the tests).</summary>
public partial class Program;

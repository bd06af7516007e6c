// Segment your own images with a CRATE: attention heat maps, CrateSegment masks, MaskCut objects with boxes, and a COCO
// results file. `dotnet run -c Release --project samples/Crate.SegmentImages -- --help` lists the options; with none it
// trains a small CRATE on the embedded dataset and segments embedded test images.
return Crate.Samples.SegmentImages.SegmentImagesApp.Run(args, Spectre.Console.AnsiConsole.Console);

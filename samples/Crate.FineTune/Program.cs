// Fine-tune a saved or imported CRATE on a folder-per-class image dataset, with validation, early stopping, checkpoints
// and resumption, and print the confusion matrix. `dotnet run -c Release --project samples/Crate.FineTune -- --help`
// lists the options; with none it pretrains a small CRATE on the embedded dataset and fine-tunes it on new classes.
return Crate.Samples.FineTune.FineTuneApp.Run(args, Spectre.Console.AnsiConsole.Console);

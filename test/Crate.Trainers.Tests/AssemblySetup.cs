// Training tests measure time and share two cores: run them one at a time.
[assembly: DoNotParallelize]

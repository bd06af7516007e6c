// The runs share two cores: one at a time.
[assembly: DoNotParallelize]

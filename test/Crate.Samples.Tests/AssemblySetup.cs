// The samples train and write files in this process on two shared cores: one at a time.
[assembly: DoNotParallelize]

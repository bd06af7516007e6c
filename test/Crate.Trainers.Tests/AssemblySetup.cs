// Training tests share two cores, and several compare weights bit for bit: run them one at a time.
[assembly: DoNotParallelize]

// The tests share one service and two cores, and the concurrency tests make their own parallelism: run the classes one at a time.
[assembly: DoNotParallelize]

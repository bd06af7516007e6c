"""Times pycocotools on the files `dotnet run -c Release --project test/Crate.Benchmarks -- --coco` writes.

Usage: PYTHONPATH=<cocoapi>/PythonAPI python3 test/Crate.Benchmarks/pycocotools_timing.py <directory>
Prints, for boxes and masks, the wall-clock seconds of each step (COCO() reading the ground truth, loadRes,
evaluate, accumulate, summarize), the process's CPU seconds in all, and the twelve statistics with all their digits,
to compare with ours. On a shared machine CPU seconds are the steadier measure.
"""
import contextlib
import io
import os
import sys
import time

from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

directory = sys.argv[1]
for iou_type, results in (("bbox", "detections_bbox.json"), ("segm", "detections_segm.json")):
    times = {}
    cpu = time.process_time()
    with contextlib.redirect_stdout(io.StringIO()):
        start = time.perf_counter()
        gt = COCO(os.path.join(directory, "instances_synthetic.json"))
        times["read ground truth"] = time.perf_counter() - start
        start = time.perf_counter()
        dt = gt.loadRes(os.path.join(directory, results))
        times["loadRes"] = time.perf_counter() - start
        e = COCOeval(gt, dt, iou_type)
        for step in ("evaluate", "accumulate", "summarize"):
            start = time.perf_counter()
            getattr(e, step)()
            times[step] = time.perf_counter() - start
    total = sum(times.values())
    print(f"{iou_type}: " + ", ".join(f"{k} {v:.2f} s" for k, v in times.items()) +
          f"; total {total:.2f} s wall, {time.process_time() - cpu:.2f} s CPU")
    print(f"{iou_type} stats: " + ",".join(repr(float(s)) for s in e.stats))

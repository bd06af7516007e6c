"""Writes the COCO evaluation fixtures and their expected numbers, computed by pycocotools.

Run with a pycocotools built from source (cocodataset/cocoapi, PythonAPI) on the path, e.g.
    PYTHONPATH=/work/ext/cocoapi/PythonAPI /usr/bin/python3 make_coco_fixtures.py
It writes, next to itself:
  <case>_gt.json, <case>_dt.json   small COCO instances and results files (boxes, polygons, compressed and
                                   uncompressed RLE, crowds, an image without objects, a category without objects,
                                   more than 100 detections on one image, objects on the area-range bounds, score ties)
  expected.json                    pycocotools' twelve statistics and per-category AP for each evaluation, numpy's
                                   thresholds, and mask-primitive results (polygon rasterisation, RLE codec, merge,
                                   box-from-mask, overlaps)
Only this script and its outputs are committed; pycocotools itself is not.
"""
import contextlib
import io
import json
import math
import os
import random
import subprocess

import numpy as np
import pycocotools
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

HERE = os.path.dirname(os.path.abspath(__file__))


def write(name, obj):
    with open(os.path.join(HERE, name), "w") as f:
        json.dump(obj, f, separators=(",", ":"))


def counts_str(rle):
    c = rle["counts"]
    return c.decode("ascii") if isinstance(c, bytes) else c


def star_polygon(rng, cx, cy, radius, vertices):
    """A star-shaped polygon (possibly concave) with float coordinates."""
    angles = sorted(rng.uniform(0, 2 * math.pi) for _ in range(vertices))
    xy = []
    for a in angles:
        r = radius * rng.uniform(0.45, 1.0)
        xy += [round(cx + r * math.cos(a), 2), round(cy + r * math.sin(a), 2)]
    return xy


def polygon_extent(polygons):
    xs = [v for p in polygons for v in p[0::2]]
    ys = [v for p in polygons for v in p[1::2]]
    return [min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)]


def jitter_box(rng, box, amount):
    x, y, w, h = box
    return [round(x + rng.uniform(-amount, amount) * w, 2), round(y + rng.uniform(-amount, amount) * h, 2),
            round(max(1.0, w * rng.uniform(1 - amount, 1 + amount)), 2),
            round(max(1.0, h * rng.uniform(1 - amount, 1 + amount)), 2)]


# ---------------------------------------------------------------------------------------------------------------
# Case "boxes": box ground truth and box detections.
def make_boxes_case():
    rng = random.Random(7)
    categories = [{"id": c, "name": f"c{c}"} for c in (1, 2, 3, 5, 7)]  # 7 never has an object
    images, annotations, detections = [], [], []
    ann_id = 1
    for image_id in range(1, 13):
        w, h = rng.choice([(640, 480), (480, 640), (320, 240), (200, 150)])
        images.append({"id": image_id * 3, "width": w, "height": h, "file_name": f"img{image_id:03d}.jpg"})
        if image_id == 5:
            continue  # an image without objects (it still gets detections)
        for _ in range(rng.randint(1, 6)):
            cat = rng.choice([1, 1, 2, 3]) if image_id != 9 else 5
            side = rng.choice([8, 20, 32, 50, 96, 150, 250])
            bw = min(w - 1, side * rng.uniform(0.6, 1.4))
            bh = min(h - 1, side * rng.uniform(0.6, 1.4))
            box = [round(rng.uniform(0, w - bw), 2), round(rng.uniform(0, h - bh), 2), round(bw, 2), round(bh, 2)]
            area = round(box[2] * box[3] * rng.uniform(0.5, 1.0), 3)
            annotations.append({"id": ann_id, "image_id": image_id * 3, "category_id": cat, "bbox": box,
                                "area": area, "iscrowd": 0})
            ann_id += 1
        if image_id in (2, 8):  # crowd regions
            annotations.append({"id": ann_id, "image_id": image_id * 3, "category_id": 1,
                                "bbox": [10.0, 10.0, 150.0, 120.0], "area": 15000.0, "iscrowd": 1})
            ann_id += 1
    # objects exactly on the area-range bounds (32² and 96²), in both ranges they touch
    annotations.append({"id": ann_id, "image_id": 3, "category_id": 2, "bbox": [100, 100, 32, 32], "area": 1024, "iscrowd": 0})
    annotations.append({"id": ann_id + 1, "image_id": 3, "category_id": 2, "bbox": [200, 100, 96, 96], "area": 9216, "iscrowd": 0})
    ann_id += 2
    by_image = {}
    for a in annotations:
        by_image.setdefault(a["image_id"], []).append(a)
    for img in images:
        w, h = img["width"], img["height"]
        for a in by_image.get(img["id"], []):
            for _ in range(rng.randint(0, 3)):
                cat = a["category_id"] if rng.random() < 0.85 else rng.choice([1, 2, 3, 7])
                detections.append({"image_id": img["id"], "category_id": cat,
                                   "bbox": jitter_box(rng, a["bbox"], rng.choice([0.02, 0.1, 0.25])),
                                   "score": round(rng.random(), 2)})  # two decimals: many ties
        n_random = 130 if img["id"] == 12 else rng.randint(1, 8)  # one image beyond maxDets = 100
        for _ in range(n_random):
            bw, bh = rng.uniform(5, 200), rng.uniform(5, 200)
            detections.append({"image_id": img["id"], "category_id": rng.choice([1, 2, 3, 5, 7]),
                               "bbox": [round(rng.uniform(0, w - 5), 2), round(rng.uniform(0, h - 5), 2), round(bw, 2), round(bh, 2)],
                               "score": round(rng.random(), 2)})
    rng.shuffle(detections)
    gt = {"images": images, "annotations": annotations, "categories": categories}
    return gt, detections


# ---------------------------------------------------------------------------------------------------------------
# Case "masks": polygon, compressed-RLE and uncompressed-RLE ground truth; compressed-RLE detections.
def make_masks_case():
    rng = random.Random(11)
    categories = [{"id": 1, "name": "blob"}, {"id": 4, "name": "star"}, {"id": 9, "name": "empty"}]
    images, annotations, detections = [], [], []
    ann_id = 100
    for image_id in range(1, 9):
        w, h = rng.choice([(160, 120), (97, 133), (200, 64), (320, 240)])
        images.append({"id": image_id, "width": w, "height": h, "file_name": f"m{image_id}.png"})
        if image_id == 6:
            continue
        if image_id == 3:
            w, h = images[-1]["width"], images[-1]["height"] = 320, 240
        objects = []
        for n in range(rng.randint(1, 4)):
            cat = rng.choice([1, 4])
            radius = rng.choice([4, 9, 18, 30, 45, 80])
            cx, cy = rng.uniform(-5, w + 5), rng.uniform(-5, h + 5)  # some reach outside the image
            if image_id == 3 and n == 0:  # a large object
                radius, cx, cy = 110, w / 2, h / 2
            parts = [star_polygon(rng, cx, cy, radius, rng.randint(5, 14))]
            if rng.random() < 0.3:
                parts.append(star_polygon(rng, cx + radius, cy, radius / 2, rng.randint(5, 9)))
            rle = mask_utils.merge(mask_utils.frPyObjects(parts, h, w))
            area = float(mask_utils.area(rle))
            if area == 0:
                continue
            annotations.append({"id": ann_id, "image_id": image_id, "category_id": cat, "segmentation": parts,
                                "area": area, "bbox": [round(v, 2) for v in polygon_extent(parts)], "iscrowd": 0})
            objects.append((cat, parts, rle))
            ann_id += 1
        if image_id in (2, 5):  # crowd regions: uncompressed RLE on image 2, compressed on image 5
            m = np.zeros((h, w), dtype=np.uint8, order="F")
            m[h // 4: 3 * h // 4, w // 3: 2 * w // 3] = 1
            m[h // 2:, : w // 5] = 1
            rle = mask_utils.encode(m)
            if image_id == 2:
                flat = m.flatten(order="F")
                runs, value, run = [], 0, 0
                for v in flat:
                    if v != value:
                        runs.append(run)
                        run, value = 0, v
                    run += 1
                runs.append(run)
                segm = {"size": [h, w], "counts": runs}
            else:
                segm = {"size": [h, w], "counts": counts_str(rle)}
            annotations.append({"id": ann_id, "image_id": image_id, "category_id": 1, "segmentation": segm,
                                "area": float(mask_utils.area(rle)), "bbox": list(map(float, mask_utils.toBbox(rle))),
                                "iscrowd": 1})
            ann_id += 1
        # detections: jittered copies of the objects, and blobs anywhere
        for cat, parts, _ in objects:
            for _ in range(rng.randint(0, 3)):
                dx, dy = rng.uniform(-4, 4), rng.uniform(-4, 4)
                moved = [[round(v + (dx if i % 2 == 0 else dy), 2) for i, v in enumerate(p)] for p in parts]
                rle = mask_utils.merge(mask_utils.frPyObjects(moved, h, w))
                detections.append({"image_id": image_id, "category_id": cat if rng.random() < 0.9 else 9,
                                   "segmentation": {"size": [h, w], "counts": counts_str(rle)},
                                   "score": round(rng.random(), 1)})
        for _ in range(rng.randint(1, 5)):
            blob = star_polygon(rng, rng.uniform(0, w), rng.uniform(0, h), rng.choice([3, 10, 25]), 7)
            rle = mask_utils.frPyObjects([blob], h, w)[0]
            detections.append({"image_id": image_id, "category_id": rng.choice([1, 4]),
                               "segmentation": {"size": [h, w], "counts": counts_str(rle)}, "score": round(rng.random(), 1)})
    rng.shuffle(detections)
    gt = {"images": images, "annotations": annotations, "categories": categories}
    return gt, detections


# ---------------------------------------------------------------------------------------------------------------
# Case "ties": every score equal, so file order and (class-agnostic) category order decide the matches.
def make_ties_case():
    images = [{"id": 1, "width": 100, "height": 100}, {"id": 2, "width": 100, "height": 100}]
    categories = [{"id": 2, "name": "b"}, {"id": 1, "name": "a"}]
    annotations = [
        {"id": 1, "image_id": 1, "category_id": 1, "bbox": [10, 10, 40, 40], "area": 1600, "iscrowd": 0},
        {"id": 2, "image_id": 1, "category_id": 2, "bbox": [12, 12, 40, 40], "area": 1600, "iscrowd": 0},
        {"id": 3, "image_id": 2, "category_id": 1, "bbox": [50, 50, 20, 20], "area": 400, "iscrowd": 0},
    ]
    detections = [
        {"image_id": 1, "category_id": 2, "bbox": [10, 10, 40, 40], "score": 0.5},
        {"image_id": 1, "category_id": 1, "bbox": [12, 12, 40, 40], "score": 0.5},
        {"image_id": 2, "category_id": 2, "bbox": [0, 0, 10, 10], "score": 0.5},
        {"image_id": 2, "category_id": 1, "bbox": [51, 50, 20, 20], "score": 0.5},
        {"image_id": 1, "category_id": 1, "bbox": [10, 11, 40, 40], "score": 0.5},
    ]
    return {"images": images, "annotations": annotations, "categories": categories}, detections


def evaluate(gt_file, dt_file, iou_type, use_cats):
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(os.path.join(HERE, gt_file))
        dt = gt.loadRes(os.path.join(HERE, dt_file))
        e = COCOeval(gt, dt, iou_type)
        e.params.useCats = use_cats
        e.evaluate()
        e.accumulate()
        e.summarize()
    per_category = {}
    if use_cats:
        for k, cat_id in enumerate(e.params.catIds):
            p = e.eval["precision"][:, :, k, 0, -1]
            p = p[p > -1]
            if p.size:
                per_category[str(cat_id)] = float(np.mean(p))
    return {"gt": gt_file, "dt": dt_file, "iouType": iou_type, "useCats": use_cats,
            "stats": [float(s) for s in e.stats], "perCategoryAP": per_category}


# ---------------------------------------------------------------------------------------------------------------
# Mask primitives.
def make_rle_oracles():
    rng = random.Random(3)
    out = {"polygons": [], "encode": [], "merge": [], "iou": []}
    shapes = [
        (10, 10, [[0, 0, 10, 0, 10, 10, 0, 10]]),               # the whole image
        (20, 30, [[2.5, 3.5, 12.25, 3.5, 12.25, 9.75, 2.5, 9.75]]),
        (25, 25, [[-5, -5, 8, 2, 3, 30]]),                       # reaches outside the image
        (40, 50, [[5, 5, 45, 5, 25, 35, 20, 12]]),               # concave
        (16, 16, [[3, 3, 12, 4, 6, 13], [2, 2, 9, 9]]),          # a later part of two points: a segment
        (30, 30, [[1, 1, 8, 1, 8, 8], [20, 20, 28, 22, 22, 28]]),  # two parts
        (12, 12, [[6, 6, 6.2, 6.1, 6.1, 6.3]]),                  # smaller than a pixel
    ]
    for _ in range(12):
        h, w = rng.randint(5, 60), rng.randint(5, 60)
        shapes.append((h, w, [star_polygon(rng, rng.uniform(0, w), rng.uniform(0, h), rng.uniform(2, 30), rng.randint(3, 12))]))
    for h, w, parts in shapes:
        rle = mask_utils.merge(mask_utils.frPyObjects(parts, h, w))
        out["polygons"].append({"height": h, "width": w, "polygons": parts, "counts": counts_str(rle),
                                "area": int(mask_utils.area(rle)), "bbox": [float(v) for v in mask_utils.toBbox(rle)],
                                "pixels": "".join(map(str, mask_utils.decode(rle).flatten(order="C").tolist()))})
    for h, w, p in [(7, 9, 0.4), (1, 1, 1.0), (3, 5, 0.0), (64, 48, 0.5), (1000, 1000, 0.0005)]:
        m = (np.random.default_rng(h * w).random((h, w)) < p).astype(np.uint8)
        if h == 1000:
            m[:] = 0
            m[400:420, 300:900] = 1  # long runs: counts above 2¹⁵ and negative differences in the string code
        rle = mask_utils.encode(np.asfortranarray(m))
        entry = {"height": h, "width": w, "counts": counts_str(rle), "area": int(mask_utils.area(rle)),
                 "bbox": [float(v) for v in mask_utils.toBbox(rle)]}
        if h * w <= 5000:
            entry["pixels"] = "".join(map(str, m.flatten(order="C").tolist()))
        else:
            entry["ones"] = [[400, 420, 300, 900]]
        out["encode"].append(entry)
    # merges and overlaps of random masks, crowd and not
    for trial in range(6):
        h, w = rng.randint(8, 40), rng.randint(8, 40)
        masks = []
        for _ in range(4):
            blob = star_polygon(rng, rng.uniform(0, w), rng.uniform(0, h), rng.uniform(3, 15), 8)
            masks.append(mask_utils.frPyObjects([blob], h, w)[0])
        union = mask_utils.merge(masks, intersect=0)
        inter = mask_utils.merge(masks[:2], intersect=1)
        out["merge"].append({"height": h, "width": w, "inputs": [counts_str(m) for m in masks],
                             "union": counts_str(union), "intersection01": counts_str(inter)})
        crowd = [0, 1]
        iou = mask_utils.iou(masks[:2], masks[2:], crowd)
        out["iou"].append({"height": h, "width": w, "detections": [counts_str(m) for m in masks[:2]],
                           "groundTruths": [counts_str(m) for m in masks[2:]], "crowd": crowd,
                           "iou": [[float(v) for v in row] for row in iou]})
    boxes_d = [[0, 0, 10, 10], [5, 5, 10, 10], [2.5, 1.25, 7.75, 3.5], [20, 20, 1, 1]]
    boxes_g = [[0, 0, 10, 10], [4, 4, 20, 20], [3, 1, 2, 8]]
    out["boxIou"] = {"detections": boxes_d, "groundTruths": boxes_g, "crowd": [0, 1, 0],
                     "iou": [[float(v) for v in row] for row in mask_utils.iou(boxes_d, boxes_g, [0, 1, 0])]}
    return out


def main():
    cases = [("boxes", make_boxes_case()), ("masks", make_masks_case()), ("ties", make_ties_case())]
    for name, (gt, dt) in cases:
        write(f"{name}_gt.json", gt)
        write(f"{name}_dt.json", dt)
    # The masks' detections again with a box on each: loadRes then takes every area from the boxes, even for masks.
    _, masks_dt = cases[1][1]
    with_boxes = [dict(d, bbox=[float(v) for v in mask_utils.toBbox(d["segmentation"])]) for d in masks_dt]
    write("masks_with_boxes_dt.json", with_boxes)

    evaluations = []
    for use_cats in (1, 0):
        evaluations.append(evaluate("boxes_gt.json", "boxes_dt.json", "bbox", use_cats))
        evaluations.append(evaluate("masks_gt.json", "masks_dt.json", "segm", use_cats))
        evaluations.append(evaluate("masks_gt.json", "masks_dt.json", "bbox", use_cats))
        evaluations.append(evaluate("masks_gt.json", "masks_with_boxes_dt.json", "segm", use_cats))
        evaluations.append(evaluate("ties_gt.json", "ties_dt.json", "bbox", use_cats))
    params = COCOeval(iouType="bbox").params
    cocoapi = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(pycocotools.__file__))))
    commit = subprocess.run(["git", "-C", cocoapi, "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    expected = {
        "generator": "make_coco_fixtures.py",
        "pycocotools": f"cocodataset/cocoapi {commit} (PythonAPI, built from source), numpy {np.__version__}",
        "iouThresholds": [float(v) for v in params.iouThrs],
        "recallThresholds": [float(v) for v in params.recThrs],
        "evaluations": evaluations,
        "rle": make_rle_oracles(),
    }
    with open(os.path.join(HERE, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1)


if __name__ == "__main__":
    main()

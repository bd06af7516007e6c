#!/usr/bin/python3
"""Writes the segmentation test fixtures: PNG label maps in every supported encoding (by Pillow and by a small
encoder written here with zlib/struct, which also forces each PNG filter type), a tiny PASCAL VOC 2012 tree
(JPEG images by Pillow, palette masks with the devkit's colours) and metric expectations computed with numpy from
the reference definitions (VOC devkit's confusion matrix, the CRATE paper's eqs. 13-14, DINO's Jaccard).

Run from the repository root with Debian's python3-pil and python3-numpy:
    /usr/bin/python3 test/Crate.Transforms.Tests/Fixtures/segmentation/make_segmentation_fixtures.py
Deterministic: a rerun writes identical files.
"""
import json
import os
import struct
import zlib

import numpy as np
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))


def voc_palette():
    """VOClabelcolormap.m: bit j of (r, g, b) = bits (3j, 3j+1, 3j+2) of the index, from the top bit down."""
    palette = []
    for index in range(256):
        r = g = b = 0
        c = index
        for j in range(8):
            r |= ((c >> 0) & 1) << (7 - j)
            g |= ((c >> 1) & 1) << (7 - j)
            b |= ((c >> 2) & 1) << (7 - j)
            c >>= 3
        palette += [r, g, b]
    return palette


def save_palette(path, values, palette=None):
    image = Image.fromarray(np.asarray(values, dtype=np.uint8), mode="P")
    image.putpalette(palette if palette is not None else voc_palette())
    image.save(path)


# ---------------------------------------------------------------- hand-written PNG encoder (independent of Pillow)
def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def paeth(a, b, c):
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    return b if pb <= pc else c


def filter_row(kind, row, above):
    out = bytearray()
    for i, x in enumerate(row):
        a = row[i - 1] if i > 0 else 0
        b = above[i]
        c = above[i - 1] if i > 0 else 0
        predictor = [0, a, b, (a + b) // 2, paeth(a, b, c)][kind]
        out.append((x - predictor) & 0xFF)
    return bytes([kind]) + bytes(out)


def pack(values, depth):
    if depth == 8:
        return bytes(values)
    per = 8 // depth
    out = bytearray((len(values) + per - 1) // per)
    for i, v in enumerate(values):
        out[i // per] |= v << (8 - depth * (i % per + 1))
    return bytes(out)


def encode_png(path, values, depth, colour_type, filters, idat_pieces=1, interlace=0, extra=()):
    values = np.asarray(values)
    height, width = values.shape
    rows = [pack([int(v) for v in r], depth) for r in values]
    raw = b""
    above = bytes(len(rows[0]))
    for y, row in enumerate(rows):
        raw += filter_row(filters[y % len(filters)], row, above)
        above = row
    data = zlib.compress(raw, 9)
    out = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, depth, colour_type, 0, 0, interlace))
    if colour_type == 3:
        out += chunk(b"PLTE", bytes(voc_palette()[: 3 * (1 << depth)]))
    for kind, payload in extra:
        out += chunk(kind, payload)
    step = (len(data) + idat_pieces - 1) // idat_pieces
    for i in range(0, len(data), step):
        out += chunk(b"IDAT", data[i:i + step])
    out += chunk(b"IEND", b"")
    with open(path, "wb") as f:
        f.write(out)


def write_png_fixtures():
    folder = os.path.join(HERE, "png")
    os.makedirs(folder, exist_ok=True)
    rng = np.random.RandomState(7)
    expected = {}

    def keep(name, values):
        expected[name] = {"height": int(np.shape(values)[0]), "width": int(np.shape(values)[1]),
                          "values": [int(v) for v in np.asarray(values).ravel()]}

    # Pillow: palette PNGs whose palette size makes Pillow choose 1, 2, 4 and 8 bits; grayscale 1 and 8 bits.
    for bits, width in ((1, 10), (2, 5), (4, 7), (8, 6)):
        values = rng.randint(0, 1 << bits, size=(3, width))
        save_palette(os.path.join(folder, f"pillow_palette{bits}.png"), values, voc_palette()[: 3 * (1 << bits)])
        keep(f"pillow_palette{bits}.png", values)
    gray1 = rng.randint(0, 2, size=(4, 9))
    Image.fromarray((gray1 * 255).astype(np.uint8), mode="L").convert("1").save(os.path.join(folder, "pillow_gray1.png"))
    keep("pillow_gray1.png", gray1)  # a 1-bit gray sample is 0 or 1
    gray8 = rng.randint(0, 256, size=(5, 4))
    Image.fromarray(gray8.astype(np.uint8), mode="L").save(os.path.join(folder, "pillow_gray8.png"))
    keep("pillow_gray8.png", gray8)

    # Hand-encoded: every filter type, on 8-bit palette and on sub-byte grayscale rows (odd widths leave pad bits).
    filters8 = rng.randint(0, 256, size=(10, 7))
    encode_png(os.path.join(folder, "filters_palette8.png"), filters8, 8, 3, filters=[0, 1, 2, 3, 4], idat_pieces=3,
               extra=[(b"tEXt", b"Comment\x00ancillary chunks are skipped")])
    keep("filters_palette8.png", filters8)
    for depth, width in ((2, 7), (4, 5), (1, 11)):
        values = rng.randint(0, 1 << depth, size=(5, width))
        encode_png(os.path.join(folder, f"filters_gray{depth}.png"), values, depth, 0, filters=[4, 3, 2, 1, 0])
        keep(f"filters_gray{depth}.png", values)

    # Refused encodings.
    Image.fromarray(rng.randint(0, 256, size=(2, 3, 3)).astype(np.uint8), mode="RGB").save(os.path.join(folder, "rgb.png"))
    Image.fromarray(rng.randint(0, 256, size=(2, 3, 4)).astype(np.uint8), mode="RGBA").save(os.path.join(folder, "rgba.png"))
    Image.fromarray(rng.randint(0, 65536, size=(2, 3)).astype(np.uint16), mode="I;16").save(os.path.join(folder, "gray16.png"))
    encode_png(os.path.join(folder, "interlaced.png"), np.zeros((2, 2), dtype=int), 8, 0, filters=[0], interlace=1)

    with open(os.path.join(folder, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1, sort_keys=True)


# ---------------------------------------------------------------- a VOC2012 tree of three tiny images
V = 255
VOC = {
    # 6 wide, 4 high: a person (15, object 1) and an aeroplane (1, object 2); void on the right.
    "2007_000001": (
        [[0, 0, 15, 15, 0, V], [0, 15, 15, 15, V, V], [1, 1, 0, 15, 0, 0], [1, 1, 0, 0, 0, 0]],
        [[0, 0, 1, 1, 0, V], [0, 1, 1, 1, V, V], [2, 2, 0, 1, 0, 0], [2, 2, 0, 0, 0, 0]],
        (200, 30, 30)),
    # 5 wide, 3 high: two people (objects 1 and 2) separated by a void column.
    "2007_000002": (
        [[15, 15, V, 15, 15], [15, 15, V, 15, 15], [0, 0, 0, 0, 0]],
        [[1, 1, V, 2, 2], [1, 1, V, 2, 2], [0, 0, 0, 0, 0]],
        (30, 200, 30)),
    # 4 by 4: background and one void pixel, no object.
    "2007_000003": (
        [[V, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]],
        [[V, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]],
        (30, 30, 200)),
}

# Larger images: (height, width, [(class, pixel test)], background colour).
LARGE = {
    "2008_000001": (24, 40, [(15, lambda y, x: (y >= 4) & (y < 20) & (x >= 4) & (x < 14)),
                             (12, lambda y, x: (y - 12) ** 2 + (x - 28) ** 2 < 49)], (90, 60, 40)),
    "2008_000002": (32, 24, [(8, lambda y, x: (y >= 3) & (y < 13) & (x >= 3) & (x < 21)),
                             (7, lambda y, x: (y >= 18) & (y < 29) & (x >= 6) & (x < 18))], (40, 60, 90)),
}


def write_voc():
    root = os.path.join(HERE, "voc", "VOC2012")
    for sub in ("JPEGImages", "SegmentationClass", "SegmentationObject", os.path.join("ImageSets", "Segmentation")):
        os.makedirs(os.path.join(root, sub), exist_ok=True)
    for name, (classes, objects, colour) in VOC.items():
        height, width = len(classes), len(classes[0])
        Image.new("RGB", (width, height), colour).save(os.path.join(root, "JPEGImages", name + ".jpg"), quality=95)
        save_palette(os.path.join(root, "SegmentationClass", name + ".png"), classes)
        save_palette(os.path.join(root, "SegmentationObject", name + ".png"), objects)
    with open(os.path.join(root, "ImageSets", "Segmentation", "train.txt"), "w") as f:
        f.write("2007_000001\n2007_000003\n")
    with open(os.path.join(root, "ImageSets", "Segmentation", "val.txt"), "w") as f:
        f.write("2007_000002\n\n2007_000001  \n")
    # Two images larger than a patch, for the pipeline test: split "pipeline".
    names = []
    for name, (height, width, shapes, colour) in LARGE.items():
        classes = np.zeros((height, width), dtype=np.uint8)
        objects = np.zeros((height, width), dtype=np.uint8)
        y, x = np.mgrid[0:height, 0:width]
        for number, (label, inside) in enumerate(shapes, start=1):
            region = inside(y, x)
            classes[region] = label
            objects[region] = number
        # A one-pixel void band around every object, as VOC outlines them.
        grown = np.zeros_like(objects, dtype=bool)
        for dy in (-1, 0, 1):
            for dx in (-1, 0, 1):
                grown |= np.roll(np.roll(objects > 0, dy, 0), dx, 1)
        band = grown & (objects == 0)
        classes[band] = V
        objects[band] = V
        image = np.zeros((height, width, 3), dtype=np.uint8)
        image[:] = colour
        image[objects > 0] = (240, 240, 240)
        Image.fromarray(image, mode="RGB").save(os.path.join(root, "JPEGImages", name + ".jpg"), quality=95)
        save_palette(os.path.join(root, "SegmentationClass", name + ".png"), classes)
        save_palette(os.path.join(root, "SegmentationObject", name + ".png"), objects)
        names.append(name)
    with open(os.path.join(root, "ImageSets", "Segmentation", "pipeline.txt"), "w") as f:
        f.write("".join(n + "\n" for n in names))
    # For the bad-input tests: a class mask with an id VOC does not have.
    save_palette(os.path.join(HERE, "voc", "class_id_37.png"), [[0, 0, 37, 15, 0, 0]] * 4)


# ---------------------------------------------------------------- metric expectations from the reference definitions
def devkit(truths, predictions, classes):
    """VOCevalseg.m: joint histogram of (truth, prediction) over pixels whose truth is not 255."""
    confusion = np.zeros((classes, classes), dtype=np.int64)
    for t, p in zip(truths, predictions):
        locs = t < 255
        confusion += np.bincount((t[locs] * classes + p[locs]).ravel(), minlength=classes * classes).reshape(classes, classes)
    gt, res, tp = confusion.sum(1), confusion.sum(0), np.diag(confusion)
    with np.errstate(invalid="ignore", divide="ignore"):
        iou = tp / (gt + res - tp)
    return confusion, iou


def top_fraction(map_, fraction):
    keep = int(np.ceil(fraction * map_.size))
    order = np.argsort(-map_, kind="stable")
    mask = np.zeros(map_.size, dtype=bool)
    mask[order[:keep]] = True
    return mask


def dino_mass(map_, fraction, dtype):
    """DINO's visualize_attention rule: sort ascending, normalise, keep entries whose cumulative sum exceeds 1 - P."""
    values = map_.astype(dtype)
    idx = np.argsort(values, kind="stable")
    val = values[idx] / values.sum()
    keep_sorted = np.cumsum(val) > (1 - fraction)
    mask = np.zeros(map_.size, dtype=bool)
    mask[idx] = keep_sorted
    return mask


def write_metric_oracle():
    rng = np.random.RandomState(2023)
    classes, patch, grid_h, grid_w, layers, heads = 6, 3, 3, 4, 2, 3
    cases = []
    truths, predictions = [], []
    for image in range(4):
        # Truth at the network input (grid × patch), with blobs of classes 0-4 (5 never occurs) and void.
        h, w = grid_h * patch, grid_w * patch
        t = rng.choice([0, 0, 0, 1, 2, 3, 4], size=(h, w))
        t[rng.rand(h, w) < 0.1] = 255
        t[0, 0] = 1  # every image has a foreground class
        p = rng.randint(0, 5, size=(grid_h, grid_w))
        maps = rng.dirichlet(np.ones(grid_h * grid_w) * 0.7, size=(layers, heads))
        truths.append(t)
        predictions.append(np.kron(p, np.ones((patch, patch), dtype=int)))
        cases.append({"truth": t.ravel().tolist(), "prediction": p.ravel().tolist(),
                      "maps": [float(v) for v in maps.astype(np.float32).ravel()], "height": h, "width": w})
    confusion, iou = devkit(truths, predictions, classes)

    def best_head(rule, foreground_only):
        per_layer = np.zeros(layers)
        for case in cases:
            t = np.asarray(case["truth"]).reshape(case["height"], case["width"])
            maps = np.asarray(case["maps"], dtype=np.float32).reshape(layers, heads, grid_h * grid_w)
            present = [m for m in np.unique(t) if m != 255 and not (foreground_only and m == 0)]
            valid = np.ones_like(t, dtype=bool) if foreground_only else t != 255
            for layer in range(layers):
                scores = []
                for m in present:
                    s = (t == m) & valid
                    best = 0.0
                    for k in range(heads):
                        grid_mask = rule(maps[layer, k].astype(np.float64)).reshape(grid_h, grid_w)
                        a = np.kron(grid_mask, np.ones((patch, patch), dtype=bool)) & valid
                        best = max(best, (s & a).sum() / (s | a).sum())
                    scores.append(best)
                per_layer[layer] += np.mean(scores)
        return (per_layer / len(cases)).tolist()

    for case in cases:  # the two precisions agree, so float rounding cannot move an entry across DINO's threshold
        maps = np.asarray(case["maps"], dtype=np.float32).reshape(-1, grid_h * grid_w)
        for m in maps:
            assert (dino_mass(m, 0.6, np.float32) == dino_mass(m, 0.6, np.float64)).all()
    oracle = {
        "classes": classes, "patch": patch, "grid_height": grid_h, "grid_width": grid_w, "layers": layers, "heads": heads,
        "cases": cases,
        "devkit_confusion": confusion.tolist(),
        "devkit_iou": [None if np.isnan(v) else float(v) for v in iou],
        "devkit_present_mean": float(np.nanmean(iou)),
        "pixel_accuracy": float(np.trace(confusion) / confusion.sum()),
        "eq14_top_fraction": best_head(lambda m: top_fraction(m, 0.6), foreground_only=False),
        "dino_jaccard_mass": best_head(lambda m: dino_mass(m, 0.6, np.float64), foreground_only=True),
    }
    with open(os.path.join(HERE, "metric_oracle.json"), "w") as f:
        json.dump(oracle, f, indent=1)


if __name__ == "__main__":
    write_png_fixtures()
    write_voc()
    write_metric_oracle()
    print("written under", HERE)

#!/usr/bin/python3
"""MaskCut expected masks, computed by an implementation independent of the C# one.

Written from the MaskCut steps of shared/spec/reference-crate.md (CutLER's procedure as the CRATE paper uses it),
with numpy and scipy only: the affinity graph as a dense matrix, the Fiedler vector from scipy's dense generalized
symmetric eigensolver scipy.linalg.eigh(D - A, D) (as CutLER calls it), the 4-connected component from
scipy.ndimage.label. No C# code was consulted for the numerics; no CutLER code is copied.

What it writes (into the directory holding this script):
  * maskcut_<case>.features.f32   patch features [N, D], raw little-endian float32, row-major grid order
  * maskcut.json                  per case: grid, options, the features file, and the expected result: every cut's
                                  mask (rows of '#' and '.'), box, eigenvalue and score; for the transform case also
                                  the masks mapped to the image size.

Cases:
  * planted_*     synthetic features on grids up to 14x16: planted rectangles, a frame, a speck, a lone object.
  * crate_square, crate_rect_p4
                  the last layer's head features qkv(LN z) of two PyTorch fixture models
                  (<model>.head_features_last.f32, written by make_fixtures.py), cls row dropped, both images; the
                  masks are also upsampled to the model's input size, as the CrateMaskCut transform returns them.
                  tau is the first of NETWORK_TAUS that makes both images well-conditioned (below).

Semantics (spec, "MaskCut"):
  1. Features L2-normalised per patch; A_ij = 1 where the cosine exceeds tau, else 1e-5; D = diag(row sums).
  2. Solve (D - A) v = lambda D v; v is the eigenvector of the second-smallest eigenvalue.
  3. Partition v > mean(v); seed = argmax |v|. If at least 3 of the 4 corner patches are in the partition, or else
     if the seed is not in it, take the complement (and -v); the seed is then argmax of the (possibly negated) v.
  4. Keep the 4-connected component of the partition that holds the seed.
  5. From the second cut on, a mask whose IoU with the previous kept mask exceeds max_overlap, or whose area is at
     most min_area of the grid, is dropped: it is not kept and zeroes nothing. Otherwise it is kept and the features
     of its patches are set to 0. All n cuts are run (the C# code stops at the first rejection, claiming the rest
     would repeat it; running them all checks that claim).
  6. Score of a kept mask S: 1 - Ncut(S)/2 with Ncut = cut/vol(S) + cut/vol(not S) on that cut's graph.
  7. Upsampling (transform case): pixel (y, x) of an H x W image reads grid cell (floor((y+.5)h/H), floor((x+.5)w/W));
     a pixel belongs to the first kept mask holding its cell; masks left empty are omitted; box = tight rectangle.

Where the procedure is ill-conditioned the answer would depend on rounding, not on the algorithm, so the script
refuses to write a case unless, at every cut: no cosine lies within COSINE_MARGIN of tau; the eigengap
lambda_3 - lambda_2 exceeds GAP_MARGIN; no entry of v lies within MEAN_MARGIN*max|v| of mean(v); the result is the
same for v and -v (an eigenvector's sign is arbitrary, and step 3 can depend on it); and every patch whose |v| is
within SEED_MARGIN*max|v| of the seed's, and not exactly equal to it, lies in the seed's component. The network cases widen the cosine margin
to cover the C# network's features, which match PyTorch's within FEATURE_PARITY.

Rerun (deterministic; from the repository root; Debian's python3-numpy and python3-scipy):
    /usr/bin/python3 test/Crate.Transforms.Tests/Fixtures/make_maskcut_fixtures.py
"""

import json
import os

import numpy as np
import scipy
import scipy.linalg
import scipy.ndimage

OUT_DIR = os.path.dirname(os.path.abspath(__file__))
EPS = 1e-5


class IllConditioned(Exception):
    pass


def affinity(features, tau, cosine_margin):
    norms = np.linalg.norm(features, axis=1, keepdims=True)
    unit = np.divide(features, norms, out=np.zeros_like(features), where=norms > 0)
    cosine = unit @ unit.T
    active = norms[:, 0] > 0
    pairs = cosine[np.ix_(active, active)]
    if pairs.size and np.min(np.abs(pairs - tau)) < cosine_margin:
        raise IllConditioned(f"a cosine lies within {cosine_margin} of tau = {tau}")
    return np.where(cosine > tau, 1.0, EPS)


def fiedler(a, gap_margin):
    d = np.diag(a.sum(axis=1))
    values, vectors = scipy.linalg.eigh(d - a, d, subset_by_index=[1, 2])
    if values[1] - values[0] < gap_margin:
        raise IllConditioned(f"eigengap {values[1] - values[0]:.3g} below {gap_margin}")
    v = vectors[:, 0]
    # Patches i, k with identical rows of A (every zeroed patch, for one) have d_i = d_k and, row by row,
    # (1 - lambda) d_i v_i = sum_j A_ij v_j = (1 - lambda) d_k v_k: equal entries in exact arithmetic. The solver
    # returns them equal only up to rounding, which would decide argmax among them; restore the exact ties, so that
    # argmax takes the first of them (numpy's rule).
    _, group = np.unique(a, axis=0, return_inverse=True)
    group = group.reshape(-1)
    return values[0], (np.bincount(group, weights=v) / np.bincount(group))[group]


def split(v, h, w, mean_margin, seed_margin):
    """Step 3 and 4 for one sign of v: the kept component and the seed."""
    mean = v.sum() / len(v)
    scale = np.abs(v).max()
    if np.min(np.abs(v - mean)) < mean_margin * scale:
        raise IllConditioned("an entry of v lies at its mean")
    side = v > mean
    seed = int(np.argmax(np.abs(v)))
    corners = [0, w - 1, (h - 1) * w, h * w - 1]
    flipped = sum(bool(side[c]) for c in corners) >= 3 or not side[seed]
    side, key = (~side, -v) if flipped else (side, v)
    seed = int(np.argmax(key))
    labels, _ = scipy.ndimage.label(side.reshape(h, w))  # default structure: 4-connectivity
    component = labels.reshape(-1) == labels.reshape(-1)[seed]
    near = (np.abs(key - key[seed]) < seed_margin * scale) & (key != key[seed])
    if np.any(near & ~component):
        raise IllConditioned("the seed is nearly, not exactly, tied with a patch outside its component")
    return component, flipped


def ncut(a, mask):
    inside = mask.astype(float)
    degrees = a.sum(axis=1)
    cut = inside @ a @ (1 - inside)
    vol_in, vol_out = inside @ degrees, (1 - inside) @ degrees
    return (cut / vol_in if vol_in > 0 else 0) + (cut / vol_out if vol_out > 0 else 0)


def iou(a, b):
    union = np.sum(a | b)
    return 1.0 if union == 0 else np.sum(a & b) / union


def maskcut(features, h, w, options, margins):
    features = features.astype(np.float64)
    kept, cuts = [], []
    for _ in range(options["n"]):
        a = affinity(features, options["tau"], margins["cosine"])
        if np.all(a == EPS):
            break  # nothing above tau is left: every patch has the same row, there is no cut to make
        value, v = fiedler(a, margins["gap"])
        mask, _ = split(v, h, w, margins["mean"], margins["seed"])
        if not np.array_equal(mask, split(-v, h, w, margins["mean"], margins["seed"])[0]):
            raise IllConditioned("the result depends on the eigenvector's sign")
        area = mask.sum() / mask.size
        rejected = bool(kept) and (iou(mask, kept[-1]["mask"]) > options["max_overlap"] or area <= options["min_area"])
        cuts.append({"mask": mask, "kept": not rejected})
        if rejected:
            continue
        kept.append({"mask": mask, "eigenvalue": float(value), "score": float(1 - ncut(a, mask) / 2)})
        features[mask] = 0
    return kept, cuts


def box(mask2d):
    rows, cols = np.nonzero(mask2d)
    return [int(cols.min()), int(rows.min()), int(cols.max() - cols.min() + 1), int(rows.max() - rows.min() + 1)]


def rows_of(mask2d):
    return ["".join("#" if c else "." for c in row) for row in mask2d]


def upsample(masks, h, w, height, width):
    ys = np.minimum(h - 1, np.floor((np.arange(height) + 0.5) * h / height).astype(int))
    xs = np.minimum(w - 1, np.floor((np.arange(width) + 0.5) * w / width).astype(int))
    taken = np.zeros((height, width), dtype=bool)
    result = []
    for k, m in enumerate(masks):
        pixels = m.reshape(h, w)[np.ix_(ys, xs)] & ~taken
        taken |= pixels
        if pixels.any():
            result.append({"source": k, "mask": rows_of(pixels), "box": box(pixels)})
    return result


def planted(h, w, dim, noise, seed, label):
    """Label c's patches get the c-th of a random set of orthonormal centres plus N(0, noise^2) per dimension."""
    rng = np.random.default_rng(seed)
    labels = np.array([[label(r, c) for c in range(w)] for r in range(h)]).reshape(-1)
    centres, _ = np.linalg.qr(rng.standard_normal((dim, labels.max() + 1)))
    return (centres.T[labels] + noise * rng.standard_normal((h * w, dim))).astype(np.float32)


DEFAULTS = {"n": 3, "tau": 0.15, "max_overlap": 0.5, "min_area": 0.01}
PLANTED_MARGINS = {"cosine": 1e-5, "gap": 1e-3, "mean": 1e-4, "seed": 1e-6}
# The PyTorch fixture models whose last-layer head features are cut, and the thresholds tried for each, in order.
NETWORK_MODELS = ["crate_square", "crate_rect_p4"]
NETWORK_TAUS = [0.15, 0.1, 0.2, 0.25, 0.3]
# ReferenceParityTests holds the C# network's head features to PyTorch's within 1e-4 per element.
FEATURE_PARITY = 1e-4

PLANTED = [
    # Two rectangles in a background, noisy enough that the affinity is far from block-diagonal.
    ("planted_two_rectangles", 14, 16, 24, 0.18, 3,
     lambda r, c: 1 if 2 <= r <= 7 and 3 <= c <= 8 else 2 if 8 <= r <= 12 and 10 <= c <= 14 else 0),
    # An object in the top-left corner and a thin bar along the bottom edge.
    ("planted_corner_and_bar", 12, 12, 24, 0.12, 5,
     lambda r, c: 1 if r <= 4 and c <= 3 else 2 if r >= 10 and 2 <= c <= 9 else 0),
    # One object and a one-patch speck: the speck's cut is dropped by area.
    ("planted_speck", 12, 12, 24, 0.12, 7,
     lambda r, c: 1 if 3 <= r <= 7 and 3 <= c <= 7 else 2 if (r, c) == (10, 10) else 0),
    # One object alone: the second cut repeats it through the zeroed patches and is dropped by overlap.
    ("planted_lone_object", 10, 13, 24, 0.12, 11,
     lambda r, c: 1 if 2 <= r <= 6 and 4 <= c <= 9 else 0),
]


def write_f32(name, array):
    path = os.path.join(OUT_DIR, name)
    np.ascontiguousarray(array, dtype="<f4").tofile(path)
    return name


def describe(kept, cuts, h, w):
    return {
        "objects": [{"mask": rows_of(o["mask"].reshape(h, w)), "box": box(o["mask"].reshape(h, w)),
                     "eigenvalue": o["eigenvalue"], "score": o["score"]} for o in kept],
        "cuts": [{"mask": rows_of(c["mask"].reshape(h, w)), "kept": c["kept"]} for c in cuts],
    }


def network_case(model, fixture):
    """Both images of a PyTorch fixture model: its last layer's head features qkv(LN z) [B, N+1, K*p], cls dropped."""
    spec = fixture["arrays"]["head_features_last"]
    heads = np.fromfile(os.path.join(OUT_DIR, spec["file"]), dtype="<f4").reshape(spec["shape"])[:, 1:, :]
    (h, w), height, width = fixture["grid"], fixture["image_height"], fixture["image_width"]
    # A feature moved by e per element moves a cosine by at most about 2*sqrt(D)*e/|f|: with the parity bound on e,
    # a graph whose cosines all clear tau by that much is the same graph for the C# network's features.
    margins = dict(PLANTED_MARGINS, cosine=2 * np.sqrt(heads.shape[2]) * FEATURE_PARITY / np.linalg.norm(heads, axis=2).min())
    for tau in NETWORK_TAUS:
        options = dict(DEFAULTS, tau=tau)
        try:
            results = [maskcut(heads[i], h, w, options, margins) for i in range(heads.shape[0])]
            break
        except IllConditioned as e:
            print(f"{model}, tau {tau}: {e}")
    else:
        raise IllConditioned(f"{model}: no threshold of {NETWORK_TAUS} gives a well-conditioned case")
    images = []
    for i, (kept, cuts) in enumerate(results):
        images.append({**describe(kept, cuts, h, w), "image": upsample([o["mask"] for o in kept], h, w, height, width)})
        print(f"{model} image {i}, tau {tau}: {len(kept)} objects of {[int(o['mask'].sum()) for o in kept]} patches")
    return {
        "grid": [h, w], "options": options, "margins": margins, "image_size": [height, width],
        "features": {"from": f"{spec['file']} without the cls row", "shape": list(heads.shape)},
        "images": images,
    }


def main():
    manifest = {
        "generator": f"make_maskcut_fixtures.py (numpy {np.__version__}, scipy {scipy.__version__})",
        "epsilon": EPS,
        "cases": {},
    }
    for name, h, w, dim, noise, first_seed, label in PLANTED:
        # The first seed from first_seed on whose features are well-conditioned (see the module docstring).
        for seed in range(first_seed, first_seed + 100):
            features = planted(h, w, dim, noise, seed, label)
            try:
                kept, cuts = maskcut(features, h, w, DEFAULTS, PLANTED_MARGINS)
                break
            except IllConditioned as e:
                print(f"{name}, seed {seed}: {e}")
        else:
            raise IllConditioned(f"{name}: no well-conditioned seed")
        manifest["cases"][name] = {
            "grid": [h, w], "options": DEFAULTS, "margins": PLANTED_MARGINS, "seed": seed, "noise": noise,
            "features": {"file": write_f32(f"maskcut_{name}.features.f32", features), "shape": [h * w, dim]},
            **describe(kept, cuts, h, w),
        }
        print(f"{name}: {len(kept)} objects of {[int(o['mask'].sum()) for o in kept]} patches, {len(cuts)} cuts")

    models = json.load(open(os.path.join(OUT_DIR, "fixtures.json")))["models"]
    for model in NETWORK_MODELS:
        manifest["cases"][model] = network_case(model, models[model])
    with open(os.path.join(OUT_DIR, "maskcut.json"), "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()

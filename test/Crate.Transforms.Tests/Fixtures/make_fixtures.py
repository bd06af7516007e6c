#!/usr/bin/python3
"""Generate the PyTorch reference fixtures for the .NET CRATE port.

What it writes (all into the directory holding this script):
  * fixtures.json                      manifest: architectures, wrappers, arrays (file + shape),
                                       and the list of checkpoints a safe loader must refuse.
  * crate_square.pt                    32x32 image, patch 8, d 48, depth 3, 4 heads x 12, 7 classes,
                                       pool 'cls'. Realistic classification checkpoint:
                                       {epoch, arch, state_dict ('module.' prefix, from DataParallel),
                                        best_acc1, optimizer (AdamW after one real step), scheduler}.
  * crate_rect_p4.pt                   24x40 image, patch 4, d 32, depth 2, 2 heads x 16, 5 classes,
                                       pool 'mean'; saved as {'model': state_dict}.
  * crate_narrow_inner.pt              16x16 image, patch 8, d 32, depth 2, 3 heads x 8 (K*p = 24 != d),
                                       3 classes, pool 'cls'; saved as a bare state_dict.
  * <model>.<array>.f32                expected values, raw little-endian float32, C-contiguous
                                       (input, logits, cls_attention, head_features_last, layer_outputs,
                                       ista_zero_fraction; for crate_square also interp_input,
                                       interp_logits, interp_pos_embedding).
  * evil_global.pt, complex_dtype.pt,  checkpoints a safe loader must REFUSE (nothing dangerous is
    unsupported_opcode.pt,             executed while generating them; evil_global.pt is never loaded).
    not_a_checkpoint.pt

How to rerun (from the repository root; needs Debian's python3-torch, PyTorch 1.13, CPU):
    /usr/bin/python3 test/Crate.Transforms.Tests/Fixtures/make_fixtures.py

The generation is deterministic (fixed seed, single thread). `ReferenceLayoutCrate` below is an
independent implementation written from the reference semantics in shared/spec/reference-crate.md;
its state_dict keys are exactly the reference keys. At the end the script reloads the three model
checkpoints with torch.load, rebuilds the model and checks that the saved logits are reproduced
exactly.
"""

import collections
import copy
import io
import json
import os
import pickletools
import zipfile

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

OUT_DIR = os.path.dirname(os.path.abspath(__file__))
SEED = 20240607
ISTA_ETA = 0.1
ISTA_LAMBDA = 0.1
LN_EPS = 1e-5


# --------------------------------------------------------------------------------------------
# Independent implementation of the reference CRATE layout.
# --------------------------------------------------------------------------------------------
class Patchify(nn.Module):
    """B x C x H x W -> B x N x (p1 p2 c): row in patch, column in patch, then channel."""

    def __init__(self, patch):
        super().__init__()
        self.patch = patch

    def forward(self, x):
        b, c, hh, ww = x.shape
        p = self.patch
        h, w = hh // p, ww // p
        x = x.reshape(b, c, h, p, w, p)          # b c h p1 w p2
        x = x.permute(0, 2, 4, 3, 5, 1)          # b h w p1 p2 c
        return x.reshape(b, h * w, p * p * c)


class PreNormed(nn.Module):
    """Holds `norm` (LayerNorm) and `fn`; the caller decides how the two are combined."""

    def __init__(self, d, fn):
        super().__init__()
        self.norm = nn.LayerNorm(d, eps=LN_EPS)
        self.fn = fn


class MSSA(nn.Module):
    def __init__(self, d, heads, head_dim):
        super().__init__()
        self.heads = heads
        self.head_dim = head_dim
        inner = heads * head_dim
        self.qkv = nn.Linear(d, inner, bias=False)
        if heads == 1 and head_dim == d:
            self.to_out = nn.Identity()
        else:
            self.to_out = nn.Sequential(nn.Linear(inner, d), nn.Dropout(0.0))

    def forward(self, x, record=None):
        b, n, _ = x.shape
        w = self.qkv(x)                                                   # b n (K p)
        wh = w.reshape(b, n, self.heads, self.head_dim).permute(0, 2, 1, 3)  # b K n p
        a = torch.softmax(wh @ wh.transpose(-1, -2) * self.head_dim ** -0.5, dim=-1)
        o = (a @ wh).permute(0, 2, 1, 3).reshape(b, n, self.heads * self.head_dim)
        if record is not None:
            record["features"] = w
            record["attention"] = a
        return self.to_out(o)


class ISTA(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(d, d))
        nn.init.kaiming_uniform_(self.weight, a=0)

    def forward(self, x):
        D = self.weight
        return F.relu(x + ISTA_ETA * (x @ D - (x @ D.t()) @ D) - ISTA_ETA * ISTA_LAMBDA)


class Transformer(nn.Module):
    def __init__(self, d, depth, heads, head_dim):
        super().__init__()
        self.layers = nn.ModuleList(
            nn.ModuleList([PreNormed(d, MSSA(d, heads, head_dim)), PreNormed(d, ISTA(d))])
            for _ in range(depth))

    def forward(self, z, records=None):
        for attn, ista in self.layers:
            rec = {} if records is not None else None
            z = z + attn.fn(attn.norm(z), rec)           # skip uses the RAW z
            z = ista.fn(ista.norm(z))                     # no skip around ISTA
            if records is not None:
                rec["output"] = z
                records.append(rec)
        return z


class ReferenceLayoutCrate(nn.Module):
    def __init__(self, image_height, image_width, patch, channels, d, depth, heads, head_dim,
                 classes, pool):
        super().__init__()
        assert image_height % patch == 0 and image_width % patch == 0
        assert pool in ("cls", "mean")
        self.patch, self.d, self.pool = patch, d, pool
        self.grid = (image_height // patch, image_width // patch)
        n = self.grid[0] * self.grid[1]
        patch_dim = channels * patch * patch
        self.to_patch_embedding = nn.Sequential(
            Patchify(patch), nn.LayerNorm(patch_dim, eps=LN_EPS), nn.Linear(patch_dim, d),
            nn.LayerNorm(d, eps=LN_EPS))
        self.pos_embedding = nn.Parameter(torch.randn(1, n + 1, d))
        self.cls_token = nn.Parameter(torch.randn(1, 1, d))
        self.transformer = Transformer(d, depth, heads, head_dim)
        self.mlp_head = nn.Sequential(nn.LayerNorm(d, eps=LN_EPS), nn.Linear(d, classes))

    def forward(self, img, records=None, pos_embedding=None):
        x = self.to_patch_embedding(img)
        b = x.shape[0]
        x = torch.cat([self.cls_token.expand(b, -1, -1), x], dim=1)
        x = x + (self.pos_embedding if pos_embedding is None else pos_embedding)
        x = self.transformer(x, records)
        x = x[:, 0] if self.pool == "cls" else x.mean(dim=1)
        return self.mlp_head(x)


def make_nontrivial(model, ista_scale):
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.LayerNorm):
                m.weight.copy_(1 + 0.3 * torch.randn_like(m.weight))
                m.bias.copy_(0.2 * torch.randn_like(m.bias))
            if isinstance(m, MSSA):
                m.qkv.weight.mul_(4.0)
            if isinstance(m, ISTA):
                nn.init.kaiming_uniform_(m.weight, a=0)
                m.weight.mul_(ista_scale)
        model.cls_token.copy_(torch.randn_like(model.cls_token))
        model.pos_embedding.copy_(torch.randn_like(model.pos_embedding))


def interpolate_pos(pos, old_grid, new_grid):
    d = pos.shape[-1]
    grid = pos[:, 1:].reshape(1, old_grid[0], old_grid[1], d).permute(0, 3, 1, 2)
    grid = F.interpolate(grid, size=new_grid, mode="bicubic", align_corners=False)
    grid = grid.permute(0, 2, 3, 1).reshape(1, new_grid[0] * new_grid[1], d)
    return torch.cat([pos[:, :1], grid], dim=1)


# --------------------------------------------------------------------------------------------
# Expected values.
# --------------------------------------------------------------------------------------------
@torch.no_grad()
def expected_arrays(model, x):
    records = []
    logits = model(x, records)
    cls_att = []
    for rec in records:
        row = rec["attention"][:, :, 0, 1:]                  # b K N
        cls_att.append(row / row.sum(dim=-1, keepdim=True))
    outputs = torch.stack([r["output"] for r in records])
    zero_frac = torch.tensor([(r["output"] == 0).float().mean().item() for r in records])
    return collections.OrderedDict([
        ("input", x),
        ("logits", logits),
        ("cls_attention", torch.stack(cls_att)),
        ("head_features_last", records[-1]["features"]),
        ("layer_outputs", outputs),
        ("ista_zero_fraction", zero_frac),
    ])


def write_f32(name, t):
    arr = np.ascontiguousarray(t.detach().cpu().numpy().astype("<f4"))
    fname = name + ".f32"
    arr.tofile(os.path.join(OUT_DIR, fname))
    return {"file": fname, "shape": list(arr.shape)}


MODELS = collections.OrderedDict([
    ("crate_square", dict(image_height=32, image_width=32, patch=8, channels=3, d=48, depth=3,
                          heads=4, head_dim=12, classes=7, pool="cls",
                          wrapper="state_dict+module.")),
    ("crate_rect_p4", dict(image_height=24, image_width=40, patch=4, channels=3, d=32, depth=2,
                           heads=2, head_dim=16, classes=5, pool="mean", wrapper="model")),
    ("crate_narrow_inner", dict(image_height=16, image_width=16, patch=8, channels=3, d=32, depth=2,
                                heads=3, head_dim=8, classes=3, pool="cls", wrapper="bare")),
])
ARCH_KEYS = ["image_height", "image_width", "patch", "channels", "d", "depth", "heads",
             "head_dim", "classes", "pool"]
ISTA_SCALE = 1.0


def build(arch):
    return ReferenceLayoutCrate(**{k: arch[k] for k in ARCH_KEYS})


def main():
    torch.manual_seed(SEED)
    torch.set_num_threads(1)
    manifest = {
        "generator": "make_fixtures.py (PyTorch %s, seed %d)" % (torch.__version__, SEED),
        "dtype": "float32 little-endian, C-contiguous",
        "ista": {"eta": ISTA_ETA, "lambda": ISTA_LAMBDA}, "layernorm_eps": LN_EPS,
        "models": collections.OrderedDict(),
    }
    summary = []

    for name, arch in MODELS.items():
        model = build(arch)
        make_nontrivial(model, ISTA_SCALE)
        model.eval()
        x = torch.randn(2, arch["channels"], arch["image_height"], arch["image_width"])
        path = os.path.join(OUT_DIR, name + ".pt")
        extra = {}

        if arch["wrapper"] == "state_dict+module.":
            # Realistic training checkpoint: DataParallel wrapper (CPU: just wraps), AdamW, LambdaLR,
            # one real backward + step; expected values are computed AFTER the step (saved weights).
            dp = nn.DataParallel(model)
            opt = torch.optim.AdamW(dp.parameters(), lr=4e-4, weight_decay=0.1)
            sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda e: min((e + 1) / 20, 1.0))
            model.train()
            xb = torch.randn(4, arch["channels"], arch["image_height"], arch["image_width"])
            yb = torch.randint(0, arch["classes"], (4,))
            loss = F.cross_entropy(dp(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            model.eval()
            opt.zero_grad(set_to_none=True)
            state = dp.state_dict()
            assert all(k.startswith("module.") for k in state)
            torch.save({"epoch": 3, "arch": "crate_tiny", "state_dict": state,
                        "best_acc1": torch.tensor(12.5), "optimizer": opt.state_dict(),
                        "scheduler": sched.state_dict()}, path)
        elif arch["wrapper"] == "model":
            torch.save({"model": model.state_dict()}, path)
        else:
            torch.save(model.state_dict(), path)

        arrays = expected_arrays(model, x)
        zf = arrays["ista_zero_fraction"]
        assert all(0.2 <= v <= 0.9 for v in zf.tolist()), (name, zf)

        if name == "crate_square":
            with torch.no_grad():
                xi = torch.randn(2, arch["channels"], 40, 48)
                pos_i = interpolate_pos(model.pos_embedding, model.grid, (5, 6))
                logits_i = model(xi, pos_embedding=pos_i)
            arrays["interp_input"] = xi
            arrays["interp_logits"] = logits_i
            arrays["interp_pos_embedding"] = pos_i
            extra = {"interp": {"image_height": 40, "image_width": 48, "grid": [5, 6],
                                "mode": "bicubic", "align_corners": False,
                                "note": "cls position kept; patch positions interpolated from 4x4"}}

        entry = collections.OrderedDict((k, arch[k]) for k in ARCH_KEYS)
        entry["file"] = name + ".pt"
        entry["wrapper"] = arch["wrapper"]
        entry["grid"] = list(model.grid)
        entry.update(extra)
        entry["arrays"] = collections.OrderedDict(
            (k, write_f32("%s.%s" % (name, k), v)) for k, v in arrays.items())
        manifest["models"][name] = entry
        summary.append("%-20s zero fractions %s  max|logit| %.4f" % (
            name, ["%.3f" % v for v in zf.tolist()], arrays["logits"].abs().max().item()))
        if "interp_logits" in arrays:
            summary.append("%-20s interp max|logit| %.4f" % ("", arrays["interp_logits"].abs().max().item()))

    write_refused(manifest)
    with open(os.path.join(OUT_DIR, "fixtures.json"), "w") as f:
        json.dump(manifest, f, indent=2)
        f.write("\n")

    verify(manifest)

    print("\n".join(summary))
    total = 0
    for fn in sorted(os.listdir(OUT_DIR)):
        if fn.endswith((".pt", ".f32", ".json")):
            size = os.path.getsize(os.path.join(OUT_DIR, fn))
            total += size
            print("%8d  %s" % (size, fn))
    print("%8d  total" % total)


# --------------------------------------------------------------------------------------------
# Checkpoints that a safe loader must refuse.
# --------------------------------------------------------------------------------------------
class Evil:
    """Pickles to a call of os.system. Only ever pickled here; never unpickled."""

    def __reduce__(self):
        return (os.system, ("echo pwned",))


def write_refused(manifest):
    refused = collections.OrderedDict()

    # 1. A GLOBAL that would run a shell command. Pickling only records the reference.
    p = os.path.join(OUT_DIR, "evil_global.pt")
    torch.save({"state_dict": collections.OrderedDict(w=torch.zeros(2, 2)), "x": Evil()}, p)
    with zipfile.ZipFile(p) as z:
        pkl = z.read("evil_global/data.pkl")
    globals_ = [arg for op, arg, _ in pickletools.genops(pkl) if op.name == "GLOBAL"]
    assert any(g in ("posix system", "os system") for g in globals_), globals_
    refused["evil_global.pt"] = "pickle GLOBAL %r (would call os.system)" % [
        g for g in globals_ if g.endswith(" system")][0]

    # 2. A complex64 tensor (ComplexFloatStorage).
    p = os.path.join(OUT_DIR, "complex_dtype.pt")
    torch.save(collections.OrderedDict(w=torch.randn(3, 2, dtype=torch.complex64),
                                       b=torch.randn(3)), p)
    with zipfile.ZipFile(p) as z:
        pkl = z.read("complex_dtype/data.pkl")
    assert b"ComplexFloatStorage" in pkl
    refused["complex_dtype.pt"] = "bare state_dict with a complex64 tensor 'w' (torch ComplexFloatStorage)"

    # 3. Torch zip layout (data.pkl + version copied from crate_narrow_inner.pt, renamed to this
    #    stem as torch 1.13 names entries '<stem>/...') whose data.pkl is a protocol-2 EXT1 pickle.
    #    The tensor entries data/N are left out to keep the fixture small.
    src = os.path.join(OUT_DIR, "crate_narrow_inner.pt")
    dst = os.path.join(OUT_DIR, "unsupported_opcode.pt")
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_STORED) as zout:
        for info in zin.infolist():
            rest = info.filename.split("/", 1)[1]
            if rest.startswith("data/"):
                continue
            data = b"\x80\x02\x82\x01." if rest == "data.pkl" else zin.read(info.filename)
            zout.writestr(zipfile.ZipInfo("unsupported_opcode/" + rest, date_time=(1980, 1, 1, 0, 0, 0)), data)
    refused["unsupported_opcode.pt"] = "torch zip layout (data.pkl, version); data.pkl = b'\\x80\\x02\\x82\\x01.' (EXT1 opcode)"

    # 4. Plain text.
    text = ("This is not a PyTorch checkpoint. It is plain ASCII text used to check that the "
            "loader rejects files that are neither a torch zip archive nor a legacy pickle. ")
    text = (text * 3)[:199] + "\n"
    with open(os.path.join(OUT_DIR, "not_a_checkpoint.pt"), "w") as f:
        f.write(text)
    assert os.path.getsize(os.path.join(OUT_DIR, "not_a_checkpoint.pt")) == 200
    refused["not_a_checkpoint.pt"] = "200 bytes of plain text"

    manifest["must_refuse"] = refused


# --------------------------------------------------------------------------------------------
# Self-check: reload the checkpoints (never evil_global.pt) and reproduce the saved values.
# --------------------------------------------------------------------------------------------
def read_f32(info):
    return torch.from_numpy(np.fromfile(os.path.join(OUT_DIR, info["file"]), dtype="<f4")
                            .reshape(info["shape"]))


def verify(manifest):
    for name, entry in manifest["models"].items():
        ck = torch.load(os.path.join(OUT_DIR, entry["file"]), map_location="cpu")
        if entry["wrapper"] == "state_dict+module.":
            state = collections.OrderedDict((k[len("module."):], v) for k, v in ck["state_dict"].items())
        elif entry["wrapper"] == "model":
            state = ck["model"]
        else:
            state = ck
        model = build(entry)
        model.load_state_dict(state, strict=True)
        model.eval()
        arrs = entry["arrays"]
        got = expected_arrays(model, read_f32(arrs["input"]))
        for k, v in got.items():
            assert torch.equal(v, read_f32(arrs[k])), (name, k)
        if "interp_input" in arrs:
            with torch.no_grad():
                pos_i = interpolate_pos(model.pos_embedding, model.grid, tuple(entry["interp"]["grid"]))
                li = model(read_f32(arrs["interp_input"]), pos_embedding=pos_i)
            assert torch.equal(pos_i, read_f32(arrs["interp_pos_embedding"])), name
            assert torch.equal(li, read_f32(arrs["interp_logits"])), name
        print("verified %s: reloaded weights reproduce all saved arrays exactly" % name)


if __name__ == "__main__":
    main()

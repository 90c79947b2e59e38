"""Shared helpers for the golden-case generators: NumPy computes every expected value.

Each family script builds a list of cases and calls write(family, cases), producing
test/goldens/<family>.json, which test/goldens.test.ts checks op by op.

A case is {"op": name, "args": [...], "out": encoded or [encoded, ...]} or, for inputs
that must be refused, {"op": name, "args": [...], "error": "substring of the message"}.
Args are encoded arrays ({"dtype","shape","data"}), weak JS scalars ({"weak": v}) or
plain JSON values ({"value": v}) such as axes.
"""
import json
import math
import os

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT_DIR = os.path.join(ROOT, "test", "goldens")

# MLX's promotion table (mlx/dtype.cpp); lathe follows it, NumPy does not.
_ORDER = ["bool", "uint8", "uint16", "uint32", "uint64", "int8", "int16", "int32", "int64",
          "float16", "float32", "float64", "bfloat16"]
_T = """bool uint8 uint16 uint32 uint64 int8 int16 int32 int64 float16 float32 float64 bfloat16
uint8 uint8 uint16 uint32 uint64 int16 int16 int32 int64 float16 float32 float64 bfloat16
uint16 uint16 uint16 uint32 uint64 int32 int32 int32 int64 float16 float32 float64 bfloat16
uint32 uint32 uint32 uint32 uint64 int64 int64 int64 int64 float16 float32 float64 bfloat16
uint64 uint64 uint64 uint64 uint64 float32 float32 float32 float32 float16 float32 float64 bfloat16
int8 int16 int32 int64 float32 int8 int16 int32 int64 float16 float32 float64 bfloat16
int16 int16 int32 int64 float32 int16 int16 int32 int64 float16 float32 float64 bfloat16
int32 int32 int32 int64 float32 int32 int32 int32 int64 float16 float32 float64 bfloat16
int64 int64 int64 int64 float32 int64 int64 int64 int64 float16 float32 float64 bfloat16
float16 float16 float16 float16 float16 float16 float16 float16 float16 float16 float32 float64 float32
float32 float32 float32 float32 float32 float32 float32 float32 float32 float32 float32 float64 float32
float64 float64 float64 float64 float64 float64 float64 float64 float64 float64 float64 float64 float64
bfloat16 bfloat16 bfloat16 bfloat16 bfloat16 bfloat16 bfloat16 bfloat16 bfloat16 float32 float32 float64 bfloat16"""
PROMOTE = {(a, b): row.split()[j] for a, row in zip(_ORDER, _T.splitlines()) for j, b in enumerate(_ORDER)}

ALL_DTYPES = _ORDER
FLOATS = ["float16", "bfloat16", "float32", "float64"]
INTS = ["uint8", "uint16", "uint32", "uint64", "int8", "int16", "int32", "int64"]


def promote(a, b):
    return PROMOTE[(a, b)]


def bf16_round(x):
    """float32 values rounded to bfloat16 (nearest even), kept as float32."""
    x = np.asarray(x, dtype=np.float32)
    bits = x.view(np.uint32).astype(np.uint64)
    nan = np.isnan(x)
    rounded = ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16) << 16
    out = rounded.astype(np.uint32).view(np.float32)
    return np.where(nan, np.float32(np.nan), out)


def np_dtype(name):
    """The NumPy dtype that holds values of a lathe dtype (bfloat16 lives in float32)."""
    return np.float32 if name == "bfloat16" else np.dtype(name)


def cast(x, name):
    """Values as lathe would store them in dtype `name` (bfloat16 rounded, in float32)."""
    with np.errstate(all="ignore"):
        if name == "bfloat16":
            return bf16_round(np.asarray(x, dtype=np.float32))
        return np.asarray(x).astype(np_dtype(name))


def enc(x, dtype=None):
    """An array argument or result. `dtype` names the lathe dtype (needed for bfloat16)."""
    x = np.asarray(x)
    name = dtype or str(x.dtype)
    flat = x.reshape(-1)
    if name in ("int64", "uint64"):
        data = [str(int(v)) for v in flat]
    elif name == "bool":
        data = [bool(v) for v in flat]
    elif name in FLOATS:
        data = [("nan" if math.isnan(v) else "inf" if v > 0 else "-inf") if not math.isfinite(v) else float(v)
                for v in flat.astype(np.float64)]
    else:
        data = [int(v) for v in flat]
    return {"dtype": name, "shape": list(x.shape), "data": data}


def weak(v):
    """A bare JS number or boolean (a weak scalar for promotion)."""
    return {"weak": v}


def val(v):
    """A plain JSON argument (axes, shapes, flags, null)."""
    return {"value": v}


def rand(shape, name, rng, low=-3.0, high=3.0):
    """Random values representable in dtype `name` (ints in a small range)."""
    if name == "bool":
        return rng.random(shape) < 0.5
    if name in INTS:
        info = np.iinfo(name)
        lo = max(int(info.min), -50)
        hi = min(int(info.max), 50)
        return rng.integers(lo, hi + 1, size=shape).astype(name)
    return cast(rng.uniform(low, high, size=shape), name)


def write(family, cases):
    os.makedirs(OUT_DIR, exist_ok=True)
    path = os.path.join(OUT_DIR, f"{family}.json")
    with open(path, "w") as f:
        json.dump({"family": family, "numpy": np.__version__, "cases": cases}, f, separators=(",", ":"))
        f.write("\n")
    print(f"{path}: {len(cases)} cases")

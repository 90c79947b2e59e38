"""Scans vs NumPy: cumsum, cumprod, cummax, cummin, logcumsumexp with MLX's arguments
(a, axis, reverse, inclusive). Integers wrap in their dtype (cumsum of bool gives int32);
float results are accumulated in float64 and rounded once, as lathe's CPU does."""
import warnings

import numpy as np
from common import enc, val, rand, cast, write, ALL_DTYPES, FLOATS

warnings.simplefilter("ignore")
rng = np.random.default_rng(5)
cases = []

OPS = {
    "cumsum": (np.add, lambda dt: 0),
    "cumprod": (np.multiply, lambda dt: 1),
    "cummax": (np.maximum, lambda dt: -np.inf if dt in FLOATS else (False if dt == "bool" else np.iinfo(dt).min)),
    "cummin": (np.minimum, lambda dt: np.inf if dt in FLOATS else (True if dt == "bool" else np.iinfo(dt).max)),
    "logcumsumexp": (np.logaddexp, lambda dt: -np.inf),
}


def out_dtype(op, dt):
    if op == "cumsum" and dt == "bool":
        return "int32"
    if op == "logcumsumexp" and dt not in FLOATS:
        return "float32"
    return dt


def work(op, x, dt):
    """Values in the dtype NumPy should accumulate in: float64 for floats, the output dtype for integers."""
    odt = out_dtype(op, dt)
    if odt in FLOATS:
        return x.astype(np.float64)
    return x.astype(odt)


def expected(op, x, dt, axis, reverse, inclusive):
    ufunc, ident = OPS[op]
    odt = out_dtype(op, dt)
    w = work(op, x, dt)
    if axis is None:
        w, axis = w.reshape(-1), 0
    if reverse:
        w = np.flip(w, axis)
    with np.errstate(all="ignore"):
        r = ufunc.accumulate(w, axis=axis, dtype=w.dtype) if w.size else w.copy()
    if not inclusive and w.size:
        first = np.full_like(np.take(r, [0], axis=axis), ident(odt))
        r = np.concatenate([first, np.take(r, range(r.shape[axis] - 1), axis=axis)], axis=axis)
    if reverse:
        r = np.flip(r, axis)
    return cast(r, odt), odt


def data(shape, dt, special=False, small=False):
    x = rand(shape, dt, rng, low=-1.5 if small else -3, high=1.5 if small else 3)
    if special and dt in FLOATS and x.size >= 5:
        flat = x.reshape(-1)
        flat[1], flat[3], flat[-1] = np.nan, np.inf, -np.inf
    return x


SHAPES = {(): [None], (0,): [None, 0], (7,): [None, 0, -1], (3, 4): [None, 0, 1, -1], (2, 3, 4): [0, 1, 2, -2], (0, 3): [0, 1]}
FLAGS = [(False, True), (True, True), (False, False), (True, False)]

for op in OPS:
    for shape, axes in SHAPES.items():
        for i, axis in enumerate(axes):
            for j, (reverse, inclusive) in enumerate(FLAGS):
                dt = ["float32", "int32", "float64", "int8", "float16", "bfloat16", "uint8", "int64", "bool", "uint32"][(i * 4 + j + len(op)) % 10]
                x = data(shape, dt, small=op == "cumprod")
                out, odt = expected(op, x, dt, axis, reverse, inclusive)
                add_args = [enc(x, dt), val(axis), val(reverse), val(inclusive)]
                cases.append({"op": op, "args": add_args, "out": enc(out, odt)})
    for dt in ALL_DTYPES:
        x = data((3, 5), dt, small=op == "cumprod")
        for axis in [0, 1]:
            out, odt = expected(op, x, dt, axis, False, True)
            cases.append({"op": op, "args": [enc(x, dt), val(axis)], "out": enc(out, odt)})
    for dt in FLOATS:
        x = data((2, 6), dt, special=True)
        for axis, reverse in [(1, False), (1, True), (0, False)]:
            out, odt = expected(op, x, dt, axis, reverse, True)
            cases.append({"op": op, "args": [enc(x, dt), val(axis), val(reverse)], "out": enc(out, odt)})
    cases.append({"op": op, "args": [enc(data((2, 3), "float32")), val(2)], "error": "axis 2 is out of bounds"})
    cases.append({"op": op, "args": [enc(data((), "float32")), val(0)], "error": "out of bounds"})

# integer wraparound in the input dtype (MLX keeps it; NumPy would widen)
x = np.array([100, 100, 100, -128], dtype=np.int8)
cases.append({"op": "cumsum", "args": [enc(x), val(0)], "out": enc(np.cumsum(x, dtype=np.int8))})
x = np.array([2 ** 31 - 1, 1, 7], dtype=np.int32)
cases.append({"op": "cumsum", "args": [enc(x), val(0)], "out": enc(np.cumsum(x, dtype=np.int32))})
cases.append({"op": "cumprod", "args": [enc(x), val(0)], "out": enc(np.cumprod(x, dtype=np.int32))})
x = np.array([2 ** 40, 2 ** 30, 3], dtype=np.uint64)
cases.append({"op": "cumprod", "args": [enc(x), val(0)], "out": enc(np.cumprod(x, dtype=np.uint64))})
# logcumsumexp of large values stays finite
x = np.array([1000.0, 1000.0, -1000.0, 1001.0], np.float32)
out, odt = expected("logcumsumexp", x, "float32", 0, False, True)
cases.append({"op": "logcumsumexp", "args": [enc(x), val(0)], "out": enc(out, odt)})

write("scan", cases)

"""Reductions vs NumPy: sum, prod, max, min, all, any, argmax, argmin, mean, var, std,
logsumexp, softmax. Dtypes follow MLX (see src/core/ops/reduce.ts); float results are
computed in float64 and rounded once to the output dtype."""
import warnings

import numpy as np
from common import enc, val, rand, cast, write, ALL_DTYPES, FLOATS, INTS

warnings.simplefilter("ignore")  # empty means and ddof >= N warn; the NaN/inf results are the point
rng = np.random.default_rng(11)
cases = []


def add(op, args, out, **kw):
    cases.append({"op": op, "args": args, "out": out, **kw})


def err(op, args, msg):
    cases.append({"op": op, "args": args, "error": msg})


def data(shape, dt, special=False):
    x = rand(shape, dt, rng)
    if special and dt in FLOATS and x.size >= 4:
        flat = x.reshape(-1)
        flat[1], flat[-1] = np.nan, np.inf
        flat[0] = -np.inf
    return x


def sum_dtype(dt):
    if dt == "bool" or dt in ("int8", "int16"):
        return "int32"
    if dt in ("uint8", "uint16"):
        return "uint32"
    return dt


def float_of(dt):
    return dt if dt in FLOATS else "float32"


def exact(x, dt):
    """Values widened for exact arithmetic: float64, or 64-bit integers (which wrap like 32-bit ones mod 2^32)."""
    if dt in FLOATS:
        return x.astype(np.float64)
    return x.astype(np.uint64 if dt == "uint64" else np.int64)


def np_axis(axis):
    return tuple(axis) if isinstance(axis, list) else axis


def reduced_sizes(shape, axis):
    if axis is None:
        return list(shape)
    return [shape[a] for a in (axis if isinstance(axis, list) else [axis])]


def finish(r, dt):
    with np.errstate(all="ignore"):
        return cast(np.asarray(r), dt)


def red_expected(op, x, dt, axis, keepdims):
    ax = np_axis(axis)
    with np.errstate(all="ignore"):
        if op == "sum":
            return finish(np.sum(exact(x, dt), axis=ax, keepdims=keepdims), sum_dtype(dt)), sum_dtype(dt)
        if op == "prod":
            return finish(np.prod(exact(x, dt), axis=ax, keepdims=keepdims), sum_dtype(dt)), sum_dtype(dt)
        if op in ("max", "min"):
            f = np.max if op == "max" else np.min
            return finish(f(x, axis=ax, keepdims=keepdims), dt), dt
        if op in ("all", "any"):
            f = np.all if op == "all" else np.any
            return f(x, axis=ax, keepdims=keepdims), "bool"
        if op == "mean":
            return finish(np.mean(exact(x, dt).astype(np.float64), axis=ax, keepdims=keepdims), float_of(dt)), float_of(dt)
        if op == "logsumexp":
            return finish(logsumexp(x.astype(np.float64), ax, keepdims), float_of(dt)), float_of(dt)
    raise ValueError(op)


def logsumexp(x, axis, keepdims):
    if x.size == 0:
        return np.full(np.sum(x, axis=axis, keepdims=keepdims).shape, -np.inf)
    m = np.max(x, axis=axis, keepdims=True)
    safe = np.where(np.isfinite(m), m, 0)
    r = np.log(np.sum(np.exp(x - safe), axis=axis, keepdims=True)) + safe
    r = np.where(np.isfinite(m), r, m)
    return r if keepdims else np.squeeze(r, axis=axis if axis is not None else tuple(range(x.ndim)))


def softmax(x, axis):
    if x.size == 0:
        return x
    m = np.max(x, axis=axis, keepdims=True)
    e = np.exp(x - m)
    return e / np.sum(e, axis=axis, keepdims=True)


AXES = {
    (): [None],
    (0,): [None, 0, -1],
    (7,): [None, 0, -1, [0]],
    (3, 4): [None, 0, 1, -1, [0, 1], [-1, 0]],
    (2, 3, 4): [None, 0, 1, 2, -2, [0, 2], [1, 2], [0, 1], [2, 0, 1]],
    (2, 1, 3): [[0, 2], 1],
    (0, 3): [0, 1, None],
}

# ---------------------------------------------------------------- sum, prod, max, min, all, any, mean, logsumexp
for op in ["sum", "prod", "max", "min", "all", "any", "mean", "logsumexp"]:
    for shape, axes in AXES.items():
        for i, axis in enumerate(axes):
            for keepdims in [False, True]:
                dt = ["float32", "int32", "float64", "int8", "uint8", "float16", "bfloat16", "bool", "int64", "uint16"][(i * 2 + keepdims + len(op)) % 10]
                if op in ("logsumexp", "mean") and dt == "bool":
                    dt = "float32"
                x = data(shape, dt)
                if op in ("max", "min") and 0 in reduced_sizes(shape, axis):
                    continue
                out, odt = red_expected(op, x, dt, axis, keepdims)
                add(op, [enc(x, dt), val(axis), val(keepdims)], enc(out, odt))
    # every dtype, reducing the middle axis and everything
    for dt in ALL_DTYPES:
        if op in ("logsumexp", "mean") and dt == "bool":
            continue
        for axis in [1, None]:
            x = data((2, 5, 3), dt)
            out, odt = red_expected(op, x, dt, axis, False)
            add(op, [enc(x, dt), val(axis)], enc(out, odt))
    # NaN and infinities
    for dt in FLOATS:
        x = data((3, 5), dt, special=True)
        for axis in [0, 1, None]:
            out, odt = red_expected(op, x, dt, axis, False)
            add(op, [enc(x, dt), val(axis)], enc(out, odt))
    err(op, [enc(data((2, 3), "float32")), val(2)], "axis 2 is out of bounds")
    err(op, [enc(data((2, 3), "float32")), val([0, -2])], "repeated axis")

# integer overflow wraps in the widened dtype, as MLX (int32 sums of big int32 values)
x = np.array([2 ** 31 - 1, 5, 2 ** 30], dtype=np.int32)
add("sum", [enc(x), val(None)], enc(np.array(np.sum(x.astype(np.int64))).astype(np.int32)))
add("prod", [enc(x), val(None)], enc(np.array(np.prod(x.astype(np.int64))).astype(np.int32)))
x = np.array([255, 255, 255], dtype=np.uint8)
add("sum", [enc(x), val(0)], enc(np.array(765, dtype=np.uint32)))
x = np.array([-128, -128, 100], dtype=np.int8)
add("sum", [enc(x), val(None)], enc(np.array(-156, dtype=np.int32)))
x = np.array([2 ** 63 - 1, 2], dtype=np.int64)
add("sum", [enc(x), val(None)], enc(np.array(-(2 ** 63) + 1, dtype=np.int64)))
# all/any of NaN: NaN is nonzero
add("all", [enc(np.array([np.nan, 1.0], dtype=np.float32)), val(None)], enc(np.array(True)))
add("any", [enc(np.array([np.nan, 0.0], dtype=np.float32)), val(None)], enc(np.array(True)))
add("any", [enc(np.array([-0.0, 0.0], dtype=np.float32)), val(None)], enc(np.array(False)))
# empty reductions: identities, and errors where there is none
for op, expect in [("sum", 0.0), ("prod", 1.0), ("all", True), ("any", False)]:
    x = np.zeros((0,), np.float32)
    add(op, [enc(x), val(None)], enc(np.array(expect, dtype=np.bool_ if op in ("all", "any") else np.float32)))
add("mean", [enc(np.zeros((0,), np.float32)), val(None)], enc(np.array(np.nan, dtype=np.float32)))
add("logsumexp", [enc(np.zeros((3, 0), np.float32)), val(1)], enc(np.full((3,), -np.inf, np.float32)))
for op in ["max", "min", "argmax", "argmin"]:
    err(op, [enc(np.zeros((0,), np.float32)), val(None)], "empty")
    err(op, [enc(np.zeros((3, 0), np.float32)), val(1)], "empty")
    err(op, [enc(np.zeros((0, 3), np.float32)), val(0)], "empty")
add("max", [enc(np.zeros((0, 3), np.float32)), val(1)], enc(np.zeros((0,), np.float32)))

# ---------------------------------------------------------------- argmax, argmin
for op, f in [("argmax", np.argmax), ("argmin", np.argmin)]:
    for shape, axes in AXES.items():
        for i, axis in enumerate(axes):
            if isinstance(axis, list) or (0 in shape and (axis is None or shape[axis] == 0)):
                continue
            for keepdims in [False, True]:
                dt = ALL_DTYPES[(i * 3 + keepdims) % len(ALL_DTYPES)]
                x = data(shape, dt)
                out = f(x, axis=axis, keepdims=keepdims)
                add(op, [enc(x, dt), val(axis), val(keepdims)], enc(np.asarray(out).astype(np.uint32)))
    for dt in ALL_DTYPES:
        x = data((3, 9), dt)
        for axis in [0, 1, None]:
            add(op, [enc(x, dt), val(axis)], enc(np.asarray(f(x, axis=axis)).astype(np.uint32)))
    for dt in FLOATS:
        x = data((3, 9), dt, special=True)
        for axis in [0, 1, None]:
            add(op, [enc(x, dt), val(axis)], enc(np.asarray(f(x, axis=axis)).astype(np.uint32)))
    # ties: the first occurrence; long rows run the unrolled lanes
    x = np.array([[1, 3, 3, 0, 3], [2, 2, 2, 2, 2]], dtype=np.float32)
    add(op, [enc(x), val(1)], enc(f(x, axis=1).astype(np.uint32)))
    x = np.tile(np.array([4.0, -1.0, 4.0, 7.0, 7.0, 0.5, 7.0, -3.0], np.float32), 5)
    add(op, [enc(x), val(0)], enc(np.array(f(x), dtype=np.uint32)))
    x = np.full((11,), -np.inf, np.float32)
    add(op, [enc(x), val(0)], enc(np.array(0, dtype=np.uint32)))
    err(op, [enc(data((2, 3), "float32")), val(-3)], "axis -3 is out of bounds")
    err(op, [enc(data((2, 3), "float32")), val([0, 1])], "axis must be one integer")

# ---------------------------------------------------------------- var and std
for op, f in [("var", np.var), ("std", np.std)]:
    for shape, axes in AXES.items():
        for i, axis in enumerate(axes):
            for ddof in [0, 1]:
                dt = ["float32", "float64", "int32", "float16", "bfloat16", "uint8", "int64"][(i + ddof) % 7]
                x = data(shape, dt)
                keepdims = i % 2 == 1
                with np.errstate(all="ignore"):
                    out = f(x.astype(np.float64), axis=np_axis(axis), keepdims=keepdims, ddof=ddof)
                add(op, [enc(x, dt), val(axis), val(keepdims), val(ddof)], enc(finish(out, float_of(dt)), float_of(dt)))
    for dt in FLOATS:
        x = data((3, 5), dt, special=True)
        with np.errstate(all="ignore"):
            add(op, [enc(x, dt), val(1)], enc(finish(f(x.astype(np.float64), axis=1), dt), dt))
    # a large offset: two passes keep the precision a one-pass formula loses
    x = (1e4 + rng.uniform(-1, 1, size=(64,))).astype(np.float32)
    add(op, [enc(x), val(None)], enc(np.array(f(x.astype(np.float64)), dtype=np.float32)), rtol=1e-3)
    err(op, [enc(data((2, 3), "float32")), val(5)], "out of bounds")

# ---------------------------------------------------------------- softmax
for shape, axes in AXES.items():
    for i, axis in enumerate(axes):
        dt = ["float32", "float16", "bfloat16", "float64", "int32"][i % 5]
        x = data(shape, dt)
        with np.errstate(all="ignore"):
            out = softmax(x.astype(np.float64), np_axis(axis))
        add("softmax", [enc(x, dt), val(axis)], enc(finish(out, float_of(dt)), float_of(dt)))
for dt in FLOATS:
    x = data((3, 6), dt)
    x[0, 2] = 80 if dt != "float16" else 11  # large values stay finite: the max is subtracted first
    x[1] = -np.inf
    x[1, 4] = 0.5
    x[2, 3] = np.nan
    with np.errstate(all="ignore"):
        add("softmax", [enc(x, dt), val(-1)], enc(finish(softmax(x.astype(np.float64), -1), dt), dt))
        add("softmax", [enc(x, dt), val(0), val(True)], enc(finish(softmax(x.astype(np.float64), 0), dt), dt))
x = np.array([1000.0, 1001.0, 999.0], np.float32)
add("softmax", [enc(x)], enc(softmax(x.astype(np.float64), None).astype(np.float32)))
err("softmax", [enc(data((2, 3), "float32")), val(3)], "out of bounds")

# logsumexp extremes: large values and all -inf rows
x = np.array([[1000.0, 1000.0], [-np.inf, -np.inf], [np.inf, 1.0], [-1000.0, -1001.0]], np.float32)
add("logsumexp", [enc(x), val(1)], enc(logsumexp(x.astype(np.float64), 1, False).astype(np.float32)))

write("reduce", cases)

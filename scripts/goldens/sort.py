"""Sorting vs NumPy: sort, argsort (stable, NaN last), partition, argpartition, topk.

A partition is only pinned down where every position is determined (lines of length 3
with kth = 1, or length <= 2, distinct values), so only such lines are compared here;
longer lines are checked by property in test/core/sort.test.ts. topk is MLX's: the last k
of partition(a, -k) (k = n returns the input as it is)."""
import numpy as np
from common import enc, val, rand, write, ALL_DTYPES, FLOATS

rng = np.random.default_rng(3)
cases = []


def add(op, args, out):
    cases.append({"op": op, "args": args, "out": out})


def err(op, args, msg):
    cases.append({"op": op, "args": args, "error": msg})


def data(shape, dt, special=False):
    x = rand(shape, dt, rng)
    if special and dt in FLOATS and x.size >= 6:
        flat = x.reshape(-1)
        flat[0], flat[2], flat[3], flat[-1] = np.nan, np.inf, -np.inf, np.nan
    return x


def distinct(shape, dt):
    """Distinct values along every line (a permutation of 0..n-1 shifted), so partitions are unique."""
    n = int(np.prod(shape)) if shape else 1
    v = rng.permutation(n).reshape(shape) - n // 2
    if dt == "bool":
        return v > 0
    if dt.startswith("uint"):
        v = v + n
    return v.astype(np.float32 if dt == "bfloat16" else dt)


def flat_axis(x, axis):
    return (x.reshape(-1), 0) if axis is None else (x, axis)


SHAPES = {(): [None], (0,): [None, 0, -1], (7,): [None, 0, -1], (3, 4): [None, 0, 1, -1, -2], (2, 3, 4): [0, 1, 2, -1], (0, 3): [0, 1]}

# ---------------------------------------------------------------- sort, argsort
for shape, axes in SHAPES.items():
    for i, axis in enumerate(axes):
        dt = ALL_DTYPES[(i * 5 + len(shape)) % len(ALL_DTYPES)]
        x = data(shape, dt)
        xs, ax = flat_axis(x, axis)
        add("sort", [enc(x, dt), val(axis)], enc(np.sort(xs, axis=ax, kind="stable"), dt))
        add("argsort", [enc(x, dt), val(axis)], enc(np.argsort(xs, axis=ax, kind="stable").astype(np.uint32)))
for dt in ALL_DTYPES:
    x = data((4, 9), dt)
    for axis in [0, 1]:
        add("sort", [enc(x, dt), val(axis)], enc(np.sort(x, axis=axis, kind="stable"), dt))
        add("argsort", [enc(x, dt), val(axis)], enc(np.argsort(x, axis=axis, kind="stable").astype(np.uint32)))
    add("sort", [enc(x, dt)], enc(np.sort(x, axis=-1), dt))
for dt in FLOATS:
    x = data((3, 8), dt, special=True)
    for axis in [0, 1, None]:
        xs, ax = flat_axis(x, axis)
        add("sort", [enc(x, dt), val(axis)], enc(np.sort(xs, axis=ax), dt))
        add("argsort", [enc(x, dt), val(axis)], enc(np.argsort(xs, axis=ax, kind="stable").astype(np.uint32)))
# stability: many ties (and -0 == 0) keep their order; a long line runs the merge passes
x = rng.integers(0, 4, size=(3, 300)).astype(np.float32)
x[0, 5], x[0, 9] = -0.0, 0.0
add("argsort", [enc(x), val(1)], enc(np.argsort(x, axis=1, kind="stable").astype(np.uint32)))
x = rng.integers(-5, 5, size=(70, 2)).astype(np.int64)
add("argsort", [enc(x), val(0)], enc(np.argsort(x, axis=0, kind="stable").astype(np.uint32)))
add("sort", [enc(x), val(0)], enc(np.sort(x, axis=0)))
for op in ["sort", "argsort"]:
    err(op, [enc(data((2, 3), "float32")), val(2)], "axis 2 is out of bounds")
    err(op, [enc(data((), "float32"))], "out of bounds")

# ---------------------------------------------------------------- partition, argpartition
for dt in ALL_DTYPES:
    for shape, axis, kth in [((3,), 0, 1), ((2, 3), -1, 1), ((3, 2), 0, -2), ((2, 3, 3), 1, 1), ((4, 2), 1, 0), ((2, 2), 0, 1), ((1, 3), 0, 0)]:
        x = distinct(shape, dt) if dt != "bool" else data(shape, dt)
        if dt == "bool" and shape[axis] > 2:
            continue
        add("partition", [enc(x, dt), val(kth), val(axis)], enc(np.partition(x, kth, axis=axis), dt))
        add("argpartition", [enc(x, dt), val(kth), val(axis)], enc(np.argpartition(x, kth, axis=axis).astype(np.uint32)))
for dt in FLOATS:
    x = np.array([[np.nan, 1.0, 2.0], [np.nan, np.nan, -1.0], [np.inf, np.nan, -np.inf]], np.float32)
    add("partition", [enc(x, dt), val(1)], enc(np.partition(x, 1, axis=-1), dt))
    add("argpartition", [enc(x, dt), val(1)], enc(np.argpartition(x, 1, axis=-1).astype(np.uint32)))
x = distinct((3,), "float32")
add("partition", [enc(x), val(1), val(None)], enc(np.partition(x, 1)))
for op in ["partition", "argpartition"]:
    err(op, [enc(data((2, 3), "float32")), val(3)], "kth 3 is out of bounds")
    err(op, [enc(data((2, 3), "float32")), val(-4)], "kth -4 is out of bounds")
    err(op, [enc(data((2, 3), "float32")), val(0), val(2)], "axis 2 is out of bounds")
    err(op, [enc(np.zeros((0,), np.float32)), val(0)], "out of bounds")

# ---------------------------------------------------------------- topk
for dt in ALL_DTYPES:
    for shape, axis in [((3,), 0), ((2, 3), -1), ((3, 2), 0), ((2, 3, 3), 1)]:
        x = distinct(shape, dt) if dt != "bool" else data(shape, dt)
        n = shape[axis]
        for k in ([1, 2] if dt != "bool" else [n]):
            top = x if k == n else np.take(np.partition(x, n - k, axis=axis), range(n - k, n), axis=axis)
            add("topk", [enc(x, dt), val(k), val(axis)], enc(top, dt))
x = np.array([[3.0, np.nan, 1.0], [2.0, 5.0, 4.0]], np.float32)
add("topk", [enc(x), val(1)], enc(np.array([[np.nan], [5.0]], np.float32)))
x = distinct((2, 3), "int32")
add("topk", [enc(x), val(0)], enc(np.zeros((2, 0), np.int32)))
add("topk", [enc(x), val(3)], enc(x))
add("topk", [enc(x), val(1), val(None)], enc(np.array([x.max()], np.int32)))
err("topk", [enc(x), val(4)], "k=4 is out of range")
err("topk", [enc(x), val(-1)], "k=-1 is out of range")
err("topk", [enc(x), val(1), val(2)], "axis 2 is out of bounds")

write("sort", cases)

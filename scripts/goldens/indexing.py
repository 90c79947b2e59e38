"""Indexing goldens: take, takeAlongAxis, putAlongAxis, gather, scatter*, slice, sliceUpdate,
searchsorted, and the NumPy-style index / indexUpdate / indexAdd, all checked against NumPy.

Index values here stay in range (NumPy raises where lathe clamps or drops; the unit tests
cover that), except the dynamic slice starts, whose clamping is computed below.
"""
import numpy as np
from common import enc, weak, val, rand, cast, write

rng = np.random.default_rng(7)
cases = []


def sl(start=None, stop=None, step=None):
    """An index slice, decoded to mx.s(start, stop, step)."""
    return {"slice": [start, stop, step]}


def lst(items):
    """A JS array of arguments (an index tuple)."""
    return {"list": items}


def arr(shape, dt):
    return rand(shape, dt, rng)


def idx(shape, n, dt="int32", neg=True):
    """Random in-range indices for an axis of size n (negative ones too)."""
    lo = -n if neg and dt[0] != "u" else 0
    return rng.integers(lo, n, size=shape).astype(dt)


def add(op, args, out, dt=None, **kw):
    case = {"op": op, "args": args, "out": enc(out, dt)}
    case.update(kw)
    cases.append(case)


def err(op, args, msg):
    cases.append({"op": op, "args": args, "error": msg})


def finish(x, dt):
    """A NumPy result stored as lathe dtype dt (bfloat16 values rounded)."""
    return cast(x, dt) if dt == "bfloat16" else x


DTYPES = ["float32", "int64", "float16", "bfloat16", "bool", "uint8", "int32", "float64"]

# ---------------------------------------------------------------- take
for dt in DTYPES:
    a = arr((3, 4), dt)
    i = idx((5,), 4)
    add("take", [enc(a, dt), enc(i), val(1)], np.take(a, i, axis=1), dt)
    i0 = idx((2, 2), 3, "int64")
    add("take", [enc(a, dt), enc(i0), val(-2)], np.take(a, i0, axis=0), dt)
for dt, axis in [("float32", 0), ("int64", -1), ("float16", 1), ("bfloat16", 2), ("bool", None)]:
    a = arr((2, 3, 4), dt)
    n = a.size if axis is None else a.shape[axis]
    i = idx((2, 3), n, "int64")
    add("take", [enc(a, dt), enc(i), val(axis)], np.take(a, i, axis=axis), dt)
a = arr((2, 3, 4), "float32")
for it in ["int8", "uint32", "int16", "uint64"]:
    i = idx((4,), 3, it)
    add("take", [enc(a), enc(i), val(1)], np.take(a, i, axis=1))
add("take", [enc(a), enc(np.array(-1, np.int32)), val(2)], np.take(a, -1, axis=2))           # 0-d index drops the axis
add("take", [enc(a), val([[0, -1], [1, 1]]), val(0)], np.take(a, [[0, -1], [1, 1]], axis=0))  # JS list indices
add("take", [enc(a), val(5)], np.take(a, 5))                                                  # no axis: flattened
add("take", [enc(a), enc(np.zeros((0,), np.int32)), val(1)], np.take(a, np.zeros((0,), np.int32), axis=1))
add("take", [enc(np.float32(2.5)), enc(np.array([0, 0], np.int32))], np.take(np.float32(2.5), [0, 0]))
add("take", [enc(np.zeros((0, 3), np.float32)), enc(np.zeros((0,), np.int32)), val(0)], np.zeros((0, 3), np.float32))
err("take", [enc(a), enc(np.array([0], np.int32)), val(3)], "axis 3 is out of bounds")
err("take", [enc(a), enc(np.array([0.0], np.float32)), val(0)], "indices must be integers, got float32")
err("take", [enc(a), enc(np.array([True])), val(0)], "indices must be integers, got bool")
err("take", [enc(np.zeros((0, 3), np.float32)), enc(np.array([0], np.int32)), val(0)], "size 0")

# ---------------------------------------------------------------- takeAlongAxis / putAlongAxis
for dt in DTYPES:
    a = arr((3, 4), dt)
    i = idx((3, 2), 4)
    add("takeAlongAxis", [enc(a, dt), enc(i), val(1)], np.take_along_axis(a, i, axis=1), dt)
    i0 = idx((2, 4), 3, "int64")
    add("takeAlongAxis", [enc(a, dt), enc(i0), val(-2)], np.take_along_axis(a, i0, axis=0), dt)
    v = arr((3, 2), dt)
    iu = np.stack([rng.permutation(4)[:2] for _ in range(3)]).astype(np.int32)  # no duplicates per row
    out = a.copy()
    np.put_along_axis(out, iu, v, axis=1)
    add("putAlongAxis", [enc(a, dt), enc(iu), enc(v, dt), val(1)], out, dt)
a = arr((2, 3, 4), "float32")
i = idx((1, 3, 5), 4)  # broadcasts over axis 0
add("takeAlongAxis", [enc(a), enc(i), val(2)], np.take_along_axis(a, np.broadcast_to(i, (2, 3, 5)), axis=2))
i = idx((6,), 24)
add("takeAlongAxis", [enc(a), enc(i), val(None)], np.take_along_axis(a.reshape(-1), i, axis=0))
add("takeAlongAxis", [enc(a), enc(np.zeros((2, 0, 4), np.int32)), val(1)], np.zeros((2, 0, 4), np.float32))
out = a.copy()
iu = np.array([[[3], [0], [1]]], np.int32)
np.put_along_axis(out, iu, np.float32(7.5), axis=2)
add("putAlongAxis", [enc(a), enc(iu), weak(7.5), val(2)], out)
out = a.copy().reshape(-1)
np.put_along_axis(out, np.array([1, -2, 5]), np.array([1, 2, 3], np.float32), axis=0)
add("putAlongAxis", [enc(a), enc(np.array([1, -2, 5], np.int32)), enc(np.array([1, 2, 3], np.float32)), val(None)], out.reshape(2, 3, 4))
err("takeAlongAxis", [enc(a), enc(np.zeros((3, 4), np.int32)), val(1)], "must have as many dimensions")
err("takeAlongAxis", [enc(a), enc(np.zeros((2, 3, 4), np.int32)), val(3)], "out of bounds")
err("takeAlongAxis", [enc(a), enc(np.zeros((2, 2, 4), np.int32)), val(2)], "cannot be broadcast")
err("putAlongAxis", [enc(a), enc(np.zeros((2, 3, 1), np.int32)), enc(np.zeros((2, 3, 2), np.float32)), val(2)], "do not broadcast")
err("putAlongAxis", [enc(a), enc(np.zeros((2, 3, 1), np.float32)), weak(1.0), val(2)], "indices must be integers")


# ---------------------------------------------------------------- gather / scatter (reference loops)
def windows(a_shape, idxs, axes, sizes, drop):
    """(position, window start) for every index position; out-of-range windows clamp or drop."""
    ishape = np.broadcast_shapes(*[i.shape for i in idxs]) if idxs else ()
    idxs = [np.broadcast_to(i, ishape) for i in idxs]
    for pos in np.ndindex(*ishape):
        start = [0] * len(a_shape)
        keep = True
        for k, ax in enumerate(axes):
            v = int(idxs[k][pos])
            v = v + a_shape[ax] if v < 0 else v
            hi = a_shape[ax] - sizes[ax]
            if v < 0 or v > hi:
                keep = False
                v = min(max(v, 0), hi)
            start[ax] = v
        if keep or not drop:
            yield pos, tuple(slice(s, s + sizes[d]) for d, s in enumerate(start))


def ref_gather(a, idxs, axes, sizes):
    ishape = np.broadcast_shapes(*[i.shape for i in idxs]) if idxs else ()
    out = np.zeros(ishape + tuple(sizes), a.dtype)
    for pos, region in windows(a.shape, idxs, axes, sizes, drop=False):
        out[pos] = a[region]
    return out


COMBINE = {
    "scatter": lambda acc, v: v,
    "scatterAdd": lambda acc, v: acc + v,
    "scatterProd": lambda acc, v: acc * v,
    "scatterMax": np.maximum,
    "scatterMin": np.minimum,
}


def ref_scatter(op, a, idxs, upd, axes, dt):
    out = a.copy()
    nidx = len(np.broadcast_shapes(*[i.shape for i in idxs])) if idxs else 0
    sizes = upd.shape[nidx:]
    with np.errstate(all="ignore"):
        for pos, region in windows(a.shape, idxs, axes, sizes, drop=True):
            out[region] = finish(COMBINE[op](out[region], upd[pos]), dt)
    return out


for dt in ["float32", "int64", "float16", "bfloat16", "int32", "float64", "uint8", "bool"]:
    a = arr((4, 3), dt)
    i = np.array([0, 2, 0, -1, 2], np.int32)  # duplicates
    u = arr((5, 1, 3), dt)
    for op in ["scatterAdd", "scatterProd", "scatterMax", "scatterMin"]:
        add(op, [enc(a, dt), enc(i), enc(u, dt), val(0)], ref_scatter(op, a, [i], u, [0], dt), dt)
    iu = np.array([3, 1], np.int64)
    uu = arr((2, 1, 3), dt)
    add("scatter", [enc(a, dt), enc(iu), enc(uu, dt), val(0)], ref_scatter("scatter", a, [iu], uu, [0], dt), dt)
    add("gather", [enc(a, dt), enc(i), val(0), val([1, 2])], ref_gather(a, [i], [0], [1, 2]), dt)
a = arr((3, 4, 5), "float32")
a[0, 0, 0] = np.nan
i0 = np.array([[0], [2]], np.int32)
i1 = np.array([1, -1, 0], np.int64)  # broadcasts with i0 to (2, 3)
u = arr((2, 3, 1, 1, 5), "float32")
for op in ["scatter", "scatterAdd", "scatterMax", "scatterMin"]:
    add(op, [enc(a), lst([enc(i0), enc(i1)]), enc(u), val([0, 1])], ref_scatter(op, a, [i0, i1], u, [0, 1], "float32"))
ub = arr((1, 3, 1, 1, 5), "float32")  # updates broadcast over the index shape's leading axis
add("scatterAdd", [enc(a), lst([enc(i0), enc(i1)]), enc(ub), val([0, 1])],
    ref_scatter("scatterAdd", a, [i0, i1], np.broadcast_to(ub, (2, 3, 1, 1, 5)), [0, 1], "float32"))
i2 = np.array([3, 0, -2], np.int32)
u2 = arr((3, 2, 4, 2), "float32")  # windows of (2, 4, 2) at indices on axis 2
add("scatterAdd", [enc(a), enc(i2), enc(u2), val(2)], ref_scatter("scatterAdd", a, [i2], u2, [2], "float32"))
add("gather", [enc(a), enc(i2), val(2), val([2, 4, 2])], ref_gather(a, [i2], [2], [2, 4, 2]))
add("gather", [enc(a), lst([enc(i0), enc(i1)]), val([0, 1]), val([1, 1, 5])], ref_gather(a, [i0, i1], [0, 1], [1, 1, 5]))
add("gather", [enc(a), enc(np.array(2, np.int32)), val(-1), val([3, 4, 1])], ref_gather(a, [np.array(2)], [2], [3, 4, 1]))
add("scatter", [enc(a), enc(np.zeros((0,), np.int32)), enc(np.zeros((0, 1, 4, 5), np.float32)), val(0)], a)
err("scatter", [enc(a), lst([enc(i0)]), enc(u), val([0, 1])], "got 1 index arrays for 2 axes")
err("scatter", [enc(a), enc(i2), enc(np.zeros((3, 2), np.float32)), val(0)], "must have 4 dimensions")
err("scatter", [enc(a), enc(i2), enc(np.zeros((3, 4, 4, 5), np.float32)), val(0)], "do not fit")
err("scatterAdd", [enc(a), enc(i2), enc(np.zeros((2, 1, 4, 5), np.float32)), val(0)], "do not match the index shape")
err("scatterAdd", [enc(a), enc(i2), enc(np.zeros((3, 1, 4, 5), np.float32)), val(3)], "out of bounds")
err("scatterMax", [enc(a), lst([enc(i2), enc(i2)]), enc(np.zeros((3, 1, 1, 5), np.float32)), val([0, -3])], "repeated axis")
err("scatterMin", [enc(a), enc(i2.astype(np.float32)), enc(np.zeros((3, 1, 4, 5), np.float32)), val(0)], "indices must be integers")
err("gather", [enc(a), enc(i2), val(0), val([1, 4])], "slice sizes")
err("gather", [enc(a), enc(i2), val(0), val([1, 5, 5])], "slice sizes")


# ---------------------------------------------------------------- dynamic slice / sliceUpdate
def clamp_start(v, dim, size):
    v = v + dim if v < 0 else v
    return min(max(v, 0), dim - size)


for dt in ["float32", "int64", "bfloat16", "bool"]:
    a = arr((4, 5, 3), dt)
    for starts, axes, size in [([1, 2], [0, 1], [2, 2, 3]), ([-1], [2], [4, 5, 2]), ([7], [1], [1, 3, 3]), ([0, -9], [-1, 0], [3, 1, 1])]:
        begin = [0, 0, 0]
        for s_, ax in zip(starts, axes):
            begin[ax % 3] = clamp_start(s_, a.shape[ax % 3], size[ax % 3])
        region = tuple(slice(b, b + n) for b, n in zip(begin, size))
        add("slice", [enc(a, dt), enc(np.array(starts, np.int32)), val(axes), val(size)], a[region], dt)
        add("slice", [enc(a, dt), val(starts), val(axes), val(size)], a[region], dt)  # static JS starts
        upd = arr(tuple(size), dt)
        out = a.copy()
        out[region] = upd
        add("sliceUpdate", [enc(a, dt), enc(upd, dt), enc(np.array(starts, np.int64)), val(axes)], out, dt)
        add("sliceUpdate", [enc(a, dt), enc(upd, dt), val(starts), val(axes)], out, dt)
a = arr((4, 5), "float32")
add("slice", [enc(a), enc(np.array(2, np.int32)), val([0]), val([1, 5])], a[2:3])  # 0-d start (MLX's example)
err("slice", [enc(a), enc(np.array([1, 2], np.int32)), val([0]), val([1, 5])], "must hold one index per axis")
err("slice", [enc(a), val([1]), val([0]), val([1, 6])], "slice sizes")
err("slice", [enc(a), val([1]), val([2]), val([1, 5])], "out of bounds")
err("slice", [enc(a), enc(np.array([1.0], np.float32)), val([0]), val([1, 5])], "indices must be integers")
err("sliceUpdate", [enc(a), enc(np.zeros((5,), np.float32)), val([0]), val([0])], "must have the dimensions")
err("sliceUpdate", [enc(a), enc(np.zeros((1, 5), np.float32)), val([0, 1]), val([0])], "got 2 start indices for 1 axes")

# ---------------------------------------------------------------- stridedSlice
for dt in ["float32", "int64", "bfloat16", "bool"]:
    a = arr((4, 5, 6), dt)
    for start, stop, steps in [([1, None], [None, 0], [2, -1]), ([-1], [None], [-2]), ([], [], None),
                               ([0, -2, 7], [4, 1, -8], [3, -1, -3]), ([None, None, 2], [None, None, 2], None)]:
        key = tuple(slice(b, e, (steps or [None] * len(start))[k]) for k, (b, e) in enumerate(zip(start, stop)))
        add("stridedSlice", [enc(a, dt), val(start), val(stop), val(steps)], a[key], dt)
a = arr((4, 5), "float32")
err("stridedSlice", [enc(a), val([0, 0, 0]), val([1, 1, 1])], "one entry per sliced axis")
err("stridedSlice", [enc(a), val([0]), val([1, 2])], "one entry per sliced axis")
err("stridedSlice", [enc(a), val([0]), val([3]), val([0])], "slice step cannot be zero")
err("stridedSlice", [enc(a), val([0.5]), val([3])], "slice start must be an integer")

# ---------------------------------------------------------------- searchsorted
for dt in ["float32", "int32", "int64", "float16", "bfloat16", "uint8", "float64"]:
    a = np.sort(arr((9,), dt))
    a[3] = a[4]  # a run of equal values
    v = np.concatenate([a[[0, 4, 8]], arr((5,), dt)]).reshape(2, 4)
    for side in ["left", "right"]:
        add("searchsorted", [enc(a, dt), enc(v, dt), val(side)], np.searchsorted(a, v, side=side).astype(np.int32))
a = np.array([-np.inf, -1, 0, 0, 2, np.inf, np.nan, np.nan], np.float32)
v = np.array([np.nan, np.inf, 0, -np.inf, 5, -7], np.float32)
for side in ["left", "right"]:
    add("searchsorted", [enc(a), enc(v), val(side)], np.searchsorted(a, v, side=side).astype(np.int32))
a = np.array([False, False, True])
add("searchsorted", [enc(a), enc(np.array([True, False])), val("right")], np.searchsorted(a, [True, False], side="right").astype(np.int32))
a = np.array([1, 3, 5, 7], np.int32)
add("searchsorted", [enc(a), weak(4.5)], np.int32(np.searchsorted(a, 4.5)))
add("searchsorted", [enc(a), enc(np.zeros((0, 2), np.int32))], np.zeros((0, 2), np.int32))
add("searchsorted", [enc(np.zeros((0,), np.float32)), enc(np.array([1.0], np.float32))], np.zeros((1,), np.int32))
err("searchsorted", [enc(np.zeros((2, 2), np.float32)), enc(np.float32(1))], "must be 1-D")
err("searchsorted", [enc(a), enc(np.int32(1)), val("middle")], "side must be 'left' or 'right'")


# ---------------------------------------------------------------- index / indexUpdate / indexAdd
def py(ix):
    """A golden index to the NumPy index it stands for."""
    if isinstance(ix, dict) and "slice" in ix:
        return slice(*ix["slice"])
    if isinstance(ix, dict) and "value" in ix:
        v = ix["value"]
        return Ellipsis if v == "..." else np.array(v) if isinstance(v, list) else v
    return IX_ARRAYS[id(ix)]


IX_ARRAYS = {}


def ia(x):
    """An index array argument (remembered so py() can find its NumPy value)."""
    e = enc(x)
    IX_ARRAYS[id(e)] = x
    return e


def index_cases(a, dt, exprs):
    for ex in exprs:
        key = tuple(py(i) for i in ex)
        add("index", [enc(a, dt)] + list(ex), a[key], dt)


a = arr((4, 5, 6), "float32")
basic = [
    [val(1)], [val(-1), val(2)], [sl(1, 3)], [sl(None, None, -1)], [sl(-1, -5, -2), val(0)],
    [sl(None, None, 2), sl(4, 0, -3), sl(-2)], [val("...")], [val("..."), val(-2)], [val(None)],
    [val(1), val(None), val("..."), val(None)], [sl(10, 20)], [sl(3, 1)], [sl(-100, 100, 3)], [],
    [val("..."), sl(None, None, -2), val(None)],
]
adv = [
    [ia(np.array([0, 3, -1, 2], np.int32))],
    [val([1, 1, 0])],
    [sl(), ia(np.array([[0], [4]], np.int64)), ia(np.array([1, 5, -6], np.int32))],    # adjacent, broadcast
    [ia(np.array([1, 0], np.int32)), sl(), ia(np.array([5, 5], np.int32))],            # separated: block first
    [val(0), sl(), ia(np.array([0, 1], np.int32))],                                    # int counts as advanced
    [sl(), val(2), ia(np.array([0, 1, 2], np.int32))],                                 # adjacent int + array
    [val(None), val(0), ia(np.array([0, 1], np.int32))],
    [ia(np.array([1, 2], np.int32)), val(None), ia(np.array([1, 2], np.int32))],       # None separates
    [sl(), ia(np.array([0, 1], np.int32)), val("..."), ia(np.array([0, 1], np.int32))],  # ellipsis separates
    [sl(None, None, -1), ia(np.array([[1, 2]], np.uint8)), sl(1, 5, 2)],
    [ia(np.array(2, np.int32)), sl(1, 3)],                                              # 0-d index array
    [ia(np.zeros((0,), np.int32)), val(1)],
    [val("..."), ia(np.array([[-1, 0], [2, 3]], np.int16))],
]
index_cases(a, "float32", basic + adv)
for dt in ["int64", "float16", "bfloat16", "bool", "uint16"]:
    index_cases(arr((3, 4), dt), dt, [[val(-1)], [sl(None, None, -2), ia(np.array([3, 0, 3], np.int32))], [val(None), sl(1), val("...")]])
index_cases(np.float32(3.5), "float32", [[val("...")], [val(None)], [], [val(None), val("..."), val(None)]])
index_cases(np.zeros((0, 3), np.float32), "float32", [[sl(), val(1)], [val("..."), ia(np.array([2, 0], np.int32))], [sl(None, None, -1)]])
err("index", [enc(a), val(0), val(0), val(0), val(0)], "too many indices for an array of dimension 3: got 4")
err("index", [enc(a), val(4)], "index 4 is out of bounds for axis 0 with size 4")
err("index", [enc(a), sl(), val(-6)], "index -6 is out of bounds for axis 1 with size 5")
err("index", [enc(a), val("..."), val("...")], "single ellipsis")
err("index", [enc(a), sl(None, None, 0)], "slice step cannot be zero")
err("index", [enc(a), enc(np.array([True, False, True, True]))], "boolean mask")
err("index", [enc(a), enc(np.array([1.0], np.float32))], "must be integers, got float32")
err("index", [enc(a), enc(np.array([0, 1], np.int32)), enc(np.array([0, 1, 2], np.int32))], "cannot be broadcast")
err("index", [enc(np.zeros((0, 3), np.float32)), enc(np.array([0], np.int32))], "size 0")
err("index", [enc(a), val(1.5)], "not an integer")
err("index", [enc(a), val("x")], "unsupported index")


def update_cases(a, dt, exprs):
    for ex, value, vdesc in exprs:
        key = tuple(py(i) for i in ex)
        out = a.copy()
        out[key] = value
        add("indexUpdate", [enc(a, dt), lst(list(ex)), vdesc], finish(out, dt), dt)
        out = a.copy()
        value = np.asarray(value)
        while value.ndim > a[key].ndim and value.shape[0] == 1:
            value = value[0]  # np.add.at does not drop leading unit axes as assignment does
        with np.errstate(all="ignore"):
            np.add.at(out, key, value)
        add("indexAdd", [enc(a, dt), lst(list(ex)), vdesc], finish(out, dt), dt)


def upd_arr(shape, dt):
    v = arr(shape, dt)
    return v, enc(v, dt)


a = arr((4, 5, 6), "float32")
v23 = upd_arr((2, 3), "float32")
update_cases(a, "float32", [
    ([val(1)], np.float32(2.5), weak(2.5)),
    ([sl(None, None, -2), val(0)], *upd_arr((6,), "float32")),
    ([val("..."), sl(1, 4)], *upd_arr((5, 1), "float32")),
    ([val(None), val(2), sl(4, 0, -2)], *upd_arr((1, 1, 2, 6), "float32")),  # leading 1s dropped
    ([ia(np.array([0, 2, 0, -4], np.int32))], *upd_arr((5, 6), "float32")),    # duplicates accumulate in indexAdd
    ([sl(), ia(np.array([[0], [4]], np.int32)), ia(np.array([1, 5, 1], np.int32))], *upd_arr((4, 2, 3), "float32")),
    ([ia(np.array([1, 0], np.int32)), sl(1, 4), ia(np.array([5, 5], np.int32))], *upd_arr((2, 3), "float32")),
    ([val(0), sl(), ia(np.array([0, 1], np.int32))], *upd_arr((2, 5), "float32")),
    ([sl(None, None, -1), ia(np.array([[1, 2]], np.int64)), sl(1, 5, 2)], *upd_arr((4, 1, 2, 2), "float32")),
    ([sl(2, 3), val(None), ia(np.array([3], np.int32)), val(1)], np.float32(-1), weak(-1)),
    ([ia(np.array([1, 1], np.int32)), ia(np.array([2, 2], np.int32)), ia(np.array([3, 3], np.int32))], np.float32(1), weak(1)),
])
for dt in ["int64", "float16", "bfloat16", "bool", "int8"]:
    b = arr((3, 4), dt)
    update_cases(b, dt, [
        ([sl(None, None, -1), val(1)], *upd_arr((3,), dt)),
        ([ia(np.array([2, 0, 2], np.int32))], *upd_arr((1, 4), dt)),
        ([sl(1), ia(np.array([0, -1], np.int32))], *upd_arr((2,), dt)),
    ])
b = arr((3, 4), "int32")
update_cases(b, "int32", [([val(0)], np.int32(2), weak(2.7))])  # the value is cast to a's dtype
b = arr((3, 4), "float32")
m = np.array([True, False, True])
out = b.copy(); out[m] = np.float32(0)
add("indexUpdate", [enc(b), enc(m), weak(0)], out)
mv = arr((4,), "float32")
out = b.copy(); out[m] += mv
add("indexAdd", [enc(b), lst([enc(m), val("...")]), enc(mv)], out)
m2 = b > 0
out = b.copy(); out[m2] = np.float32(-1)
add("indexUpdate", [enc(b), enc(m2), weak(-1)], out)
err("indexUpdate", [enc(b), lst([val(0)]), enc(np.zeros((3,), np.float32))], "cannot broadcast a value of shape (3,) to the indexed shape (4,)")
err("indexAdd", [enc(b), lst([val(3)]), weak(1)], "index 3 is out of bounds")
err("indexUpdate", [enc(b), enc(np.array([True, False])), weak(1)], "does not match the leading axes")
err("indexUpdate", [enc(b), lst([sl(), enc(np.array([True, False, True, True]))]), weak(1)], "boolean mask")
err("indexAdd", [enc(b), lst([val(0), val(0), val(0)]), weak(1)], "too many indices")

write("indexing", cases)

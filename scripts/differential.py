"""NumPy side of test/differential.test.ts: reads a batch of cases as JSON on stdin, prints
NumPy's results as JSON on stdout (one entry per case, in order).

A case is {"op", "args": [...]}: each arg is an encoded array (the encoding of
scripts/goldens/common.py), {"value": v} (plain JSON), {"slice": [start, stop, step]}, or a
list of args (concatenate's arrays, index tuples). Results follow MLX's dtype rules
(common.PROMOTE; sums widen small integers), computed in float64 for float outputs and rounded
once to the output dtype, so they are the correctly rounded answer. Each result may carry an
"atol" for sums of many terms; an op with several outputs gives a list.

The references for the ops beyond the first ~70 live in REFS (op name -> function of the
decoded args). Convolutions are plain loops; scatters apply their updates in order.
"""
import json
import math
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "goldens"))
from common import FLOATS, INTS, cast, enc, np_dtype, promote  # noqa: E402

EPS = {"float16": 2 ** -10, "bfloat16": 2 ** -7, "float32": 2 ** -23, "float64": 2 ** -52}


def dec(e):
    name = e["dtype"]
    vals = [float(v) if v in ("nan", "inf", "-inf") else v for v in e["data"]]
    if name in ("int64", "uint64"):
        vals = [int(v) for v in vals]
    return np.array(vals, dtype=np_dtype(name)).reshape(e["shape"]), name


def arg(a):
    if isinstance(a, list):
        return [arg(e) for e in a]
    if "value" in a:
        return a["value"]
    if "slice" in a:
        return slice(*a["slice"])
    return dec(a)


def float_of(name):
    return name if name in FLOATS else "float32"


def sum_dtype(name):
    if name in ("bool", "int8", "int16"):
        return "int32"
    if name in ("uint8", "uint16"):
        return "uint32"
    return name


def axis_of(v):
    return tuple(v) if isinstance(v, list) else v


def f64(x):
    return x.astype(np.float64)


UNARY_FLOAT = {
    "exp": np.exp, "log": np.log, "sqrt": np.sqrt, "sin": np.sin, "cos": np.cos, "tanh": np.tanh,
    "arctan": np.arctan, "log1p": np.log1p, "expm1": np.expm1, "reciprocal": lambda x: 1 / x,
    "rsqrt": lambda x: 1 / np.sqrt(x), "sigmoid": lambda x: 1 / (1 + np.exp(-x)), "log2": np.log2,
    "log10": np.log10, "tan": np.tan, "arcsin": np.arcsin, "arccos": np.arccos, "sinh": np.sinh, "cosh": np.cosh,
    "arcsinh": np.arcsinh, "arccosh": np.arccosh, "arctanh": np.arctanh, "erf": lambda x: ERF(x),
    "erfinv": lambda x: ERFINV(x), "degrees": np.degrees, "radians": np.radians,
}
UNARY_SAME = {"abs": np.abs, "negative": np.negative, "square": np.square, "sign": np.sign,
              "floor": np.floor, "ceil": np.ceil, "stopGradient": lambda x: x}
BINARY = {
    "add": np.add, "subtract": np.subtract, "multiply": np.multiply, "maximum": np.maximum,
    "minimum": np.minimum, "floorDivide": np.floor_divide, "remainder": np.remainder, "power": np.power,
}
BINARY_FLOAT = {"divide": np.divide, "arctan2": np.arctan2, "logaddexp": np.logaddexp}
COMPARE = {"equal": np.equal, "notEqual": np.not_equal, "less": np.less, "lessEqual": np.less_equal,
           "greater": np.greater, "greaterEqual": np.greater_equal}


def compute(op, args):
    """(result array or list of arrays, lathe dtype name(s), atol or None)."""
    if op in REFS:
        return REFS[op](*args)
    if op in UNARY_FLOAT:
        (x, d), = args
        out = float_of(d)
        return cast(UNARY_FLOAT[op](f64(x)), out), out, None
    if op in UNARY_SAME:
        (x, d), = args
        if d in FLOATS:
            return cast(UNARY_SAME[op](f64(x)), d), d, None
        return UNARY_SAME[op](x).astype(np_dtype(d)), d, None
    if op in BINARY or op in BINARY_FLOAT or op in COMPARE:
        (x, dx), (y, dy) = args
        dt = promote(dx, dy)
        if op in COMPARE:
            return COMPARE[op](cast(x, dt).astype(np.float64) if dt in FLOATS else cast(x, dt),
                               cast(y, dt).astype(np.float64) if dt in FLOATS else cast(y, dt)), "bool", None
        if op in BINARY_FLOAT:
            out = float_of(dt)
            return cast(BINARY_FLOAT[op](f64(cast(x, dt)), f64(cast(y, dt))), out), out, None
        if dt in FLOATS:
            return cast(BINARY[op](f64(cast(x, dt)), f64(cast(y, dt))), dt), dt, None
        with np.errstate(all="ignore"):
            return BINARY[op](cast(x, dt), cast(y, dt)).astype(np_dtype(dt)), dt, None
    if op == "where":
        (c, _), (x, dx), (y, dy) = args
        dt = promote(dx, dy)
        return np.where(c.astype(bool), cast(x, dt), cast(y, dt)), dt, None
    if op in ("sum", "prod", "max", "min", "mean", "variance", "std", "logsumexp", "argmax", "argmin", "all", "any"):
        (x, d), axis, keepdims = args[0], axis_of(args[1]), args[2]
        ddof = args[3] if len(args) > 3 else 0
        if op in ("argmax", "argmin"):
            f = np.argmax if op == "argmax" else np.argmin
            return f(f64(x) if d in FLOATS else x, axis=axis, keepdims=keepdims).astype(np.uint32), "uint32", None
        if op in ("all", "any"):
            return getattr(np, op)(x, axis=axis, keepdims=keepdims), "bool", None
        if op in ("max", "min"):
            return getattr(np, op)(x, axis=axis, keepdims=keepdims), d, None
        if op in ("sum", "prod"):
            out = sum_dtype(d)
            if out in FLOATS:
                ref = getattr(np, op)(f64(x), axis=axis, keepdims=keepdims)
                scale = np.sum(np.abs(f64(x)), axis=axis, keepdims=keepdims) if op == "sum" else np.abs(ref)
                return cast(ref, out), out, float(np.max(scale, initial=0) * EPS[out] * 4)
            with np.errstate(all="ignore"):
                return getattr(np, op)(x.astype(np_dtype(out)), axis=axis, keepdims=keepdims, dtype=np_dtype(out)), out, None
        out = float_of(d)
        xf = f64(x)
        if op == "mean":
            ref = np.mean(xf, axis=axis, keepdims=keepdims)
        elif op == "variance":
            ref = np.var(xf, axis=axis, keepdims=keepdims, ddof=ddof)
        elif op == "std":
            ref = np.std(xf, axis=axis, keepdims=keepdims, ddof=ddof)
        else:
            m = np.max(xf, axis=axis, keepdims=True, initial=-np.inf)  # empty: -inf, as MLX
            ref = (np.log(np.sum(np.exp(xf - m), axis=axis, keepdims=True)) + m).reshape(np.sum(xf, axis=axis, keepdims=keepdims).shape)
        # Sums of many terms: allow a few units of the dtype's epsilon on the largest magnitude.
        scale = float(np.max(np.abs(xf), initial=0)) ** (2 if op == "variance" else 1)
        return cast(ref, out), out, scale * EPS[out] * 8
    if op == "matmul":
        (a, da), (b, db) = args
        dt = promote(da, db)
        if dt not in FLOATS:  # integers wrap in their dtype; bools give any(a and b)
            with np.errstate(all="ignore"):
                return as_dtype(np.matmul(a.astype(np.int64), b.astype(np.int64)), dt), dt, None
        ref = np.matmul(f64(cast(a, dt)), f64(cast(b, dt)))
        k = a.shape[-1]
        scale = float(np.max(np.abs(f64(a)), initial=0) * np.max(np.abs(f64(b)), initial=0)) * k
        return cast(ref, dt), dt, scale * EPS[dt] * 2
    if op == "transpose":
        (x, d), axes = args
        return np.transpose(x, axes), d, None
    if op == "reshape":
        (x, d), shape = args
        return np.reshape(x, shape), d, None
    if op == "swapaxes":
        (x, d), a1, a2 = args
        return np.swapaxes(x, a1, a2), d, None
    if op == "moveaxis":
        (x, d), s, t = args
        return np.moveaxis(x, s, t), d, None
    if op == "concatenate":
        arrays, axis = args
        dt = arrays[0][1]
        for _, d in arrays[1:]:
            dt = promote(dt, d)
        return np.concatenate([cast(x, dt) for x, _ in arrays], axis=axis), dt, None
    if op in ("bitwiseAnd", "bitwiseOr", "bitwiseXor"):
        (x, dx), (y, dy) = args
        dt = promote(dx, dy)
        f = {"bitwiseAnd": np.bitwise_and, "bitwiseOr": np.bitwise_or, "bitwiseXor": np.bitwise_xor}[op]
        return f(cast(x, dt), cast(y, dt)), dt, None
    if op in ("logicalAnd", "logicalOr"):
        (x, _), (y, _) = args
        return (np.logical_and if op == "logicalAnd" else np.logical_or)(x != 0, y != 0), "bool", None
    if op == "take":
        (x, d), (idx, _), axis = args
        return np.take(x, idx, axis=axis), d, None
    if op == "clip":
        (x, d), lo, hi = args
        return (np.clip(f64(x), lo, hi) if d in FLOATS else np.clip(x, lo, hi).astype(np_dtype(d))), d, None
    if op == "softmax":
        (x, d), axis = args
        xf = f64(x)
        e = np.exp(xf - np.max(xf, axis=axis, keepdims=True))
        return cast(e / np.sum(e, axis=axis, keepdims=True), float_of(d)), float_of(d), None
    if op == "tile":
        (x, d), reps = args
        return np.tile(x, reps), d, None
    if op == "repeat":
        (x, d), reps, axis = args
        return np.repeat(x, reps, axis=axis), d, None
    if op == "roll":
        (x, d), shift, axis = args
        return np.roll(x, shift, axis=axis_of(axis)), d, None
    if op == "stack":
        arrays, axis = args
        dt = arrays[0][1]
        for _, d in arrays[1:]:
            dt = promote(dt, d)
        return np.stack([cast(x, dt) for x, _ in arrays], axis=axis), dt, None
    if op == "flatten":
        (x, d), start, end = args
        nd = max(x.ndim, 1)
        s, e = start % nd, end % nd
        shape = x.shape[:s] + (int(np.prod(x.shape[s:e + 1], dtype=np.int64)),) + x.shape[e + 1:] if x.ndim else (1,)
        return x.reshape(shape), d, None
    if op == "diagonal":
        (x, d), offset, a1, a2 = args
        return np.diagonal(x, offset, a1, a2), d, None
    if op == "expandDims":
        (x, d), axis = args
        return np.expand_dims(x, axis_of(axis)), d, None
    if op == "squeeze":
        (x, d), axis = args
        return np.squeeze(x, axis_of(axis)), d, None
    if op in ("sort", "argsort"):
        (x, d), axis = args
        if op == "sort":
            return np.sort(x, axis=axis), d, None
        return np.argsort(x, axis=axis, kind="stable").astype(np.uint32), "uint32", None
    if op == "repr":
        (x, d), = args
        return repr_with_dtype(x, d), None, None
    raise ValueError(f"unknown op {op}")


# ---------------------------------------------------------------- erf, erfinv

try:
    from scipy.special import erf as ERF, erfinv as ERFINV  # noqa: N812
except ImportError:  # NumPy alone: math.erf, and erfinv by Newton steps on it
    _erf = np.vectorize(math.erf, otypes=[np.float64])
    _erfc = np.vectorize(math.erfc, otypes=[np.float64])

    def ERF(x):
        return _erf(x)

    def ERFINV(y):
        y = np.asarray(y, dtype=np.float64)
        a = np.abs(y)
        with np.errstate(all="ignore"):
            x = np.where(a < 1, np.sqrt(-np.log1p(-a * a)), np.nan)  # a start near the root
            for _ in range(60):  # near 1 the residual comes from erfc, which keeps its digits
                r = np.where(a < 0.5, _erf(x) - a, (1 - a) - _erfc(x))
                x = x - r / (2 / math.sqrt(math.pi) * np.exp(-x * x))
        return np.sign(y) * np.where(a == 1, np.inf, x)


# ---------------------------------------------------------------- the ops added to the [core] coverage
# Each reference takes the case's decoded args ((array, dtype name) pairs for arrays) and
# returns (result or list of results, dtype name(s), atol or None).

def as_dtype(x, name):
    """float64 or integer values converted as lathe casts (C casts; nonzero is true)."""
    if name == "bool":
        return np.asarray(x) != 0
    if name in FLOATS:
        return cast(f64(np.asarray(x)), name)
    x = np.asarray(x)
    return (np.trunc(x) if x.dtype.kind == "f" else x).astype(np_dtype(name))


def in_dtype(x, d, out):
    return x if d == out else as_dtype(x, out)


def sum_atol(x, name):
    """A few units of the dtype's epsilon on the sum of |x| (for results that are sums)."""
    return float(np.sum(np.abs(f64(np.asarray(x))))) * EPS[name] * 4 if name in FLOATS else None


FINFO_MAX = {"float16": 65504.0, "bfloat16": 3.3895313892515355e38, "float32": float(np.finfo(np.float32).max),
             "float64": float(np.finfo(np.float64).max)}


def predicate(f, if_int):
    def ref(a):
        x, d = a
        return (f(f64(x)) if d in FLOATS else np.full(x.shape, if_int)), "bool", None
    return ref


def round_ref(a, decimals):
    x, d = a
    if d == "bfloat16":  # computed in float32, stored once as bfloat16
        return cast(np.round(x.astype(np.float32), decimals), d), d, None
    if d in FLOATS or decimals >= 0 or d == "bool":
        return np.round(x, decimals), d, None
    with np.errstate(all="ignore"):
        return np.round(f64(x), decimals).astype(np.int64).astype(np_dtype(d)), d, None


def nan_to_num(a, nan, posinf, neginf):
    x, d = a
    if d not in FLOATS:
        return x, d, None
    big = FINFO_MAX[d]
    xf = f64(x)
    r = np.where(np.isnan(xf), nan, xf)
    r = np.where(xf == np.inf, big if posinf is None else posinf, r)
    r = np.where(xf == -np.inf, -big if neginf is None else neginf, r)
    return cast(r, d), d, None


def shift(f):
    def ref(a, b):
        (x, dx), (y, dy) = a, b
        dt = promote(dx, dy)
        dt = "uint8" if dt == "bool" else dt
        return f(as_dtype(x, dt), as_dtype(y, dt)), dt, None
    return ref


def close_args(a, b):
    (x, dx), (y, dy) = a, b
    fd = float_of(promote(dx, dy))
    return f64(as_dtype(x, fd)), f64(as_dtype(y, fd))


def isclose(a, b, rtol, atol, equal_nan):
    return np.isclose(*close_args(a, b), rtol=rtol, atol=atol, equal_nan=equal_nan), "bool", None


def allclose(a, b, rtol, atol, equal_nan):
    return np.array(np.allclose(*close_args(a, b), rtol=rtol, atol=atol, equal_nan=equal_nan)), "bool", None


def array_equal(a, b, equal_nan):
    (x, dx), (y, dy) = a, b
    if x.shape != y.shape:
        return np.array(False), "bool", None
    dt = promote(dx, dy)
    xs, ys = as_dtype(x, dt), as_dtype(y, dt)
    return np.array(np.array_equal(xs, ys, equal_nan=equal_nan and dt in FLOATS)), "bool", None


SCAN_OUT = {"cumsum": lambda d: "int32" if d == "bool" else d, "cumprod": lambda d: d, "cummax": lambda d: d,
            "cummin": lambda d: d, "logcumsumexp": float_of}


def identity_of(op, d):
    if op == "cumsum":
        return 0
    if op == "cumprod":
        return 1
    if op == "logcumsumexp":
        return -np.inf
    top = op == "cummin"
    if d == "bool":
        return top
    if d in FLOATS:
        return np.inf if top else -np.inf
    info = np.iinfo(d)
    return info.max if top else info.min


ACCUMULATE = {"cumsum": np.cumsum, "cumprod": np.cumprod, "cummax": np.maximum.accumulate,
              "cummin": np.minimum.accumulate, "logcumsumexp": np.logaddexp.accumulate}


def scan(op):
    """Scans through NumPy's accumulations: reverse flips, exclusive shifts in the identity."""
    def ref(a, axis, reverse=False, inclusive=True):
        x, d = a
        if axis is None:
            x, axis = x.reshape(-1), 0
        axis %= x.ndim
        out = SCAN_OUT[op](d)
        xs = np.flip(x, axis) if reverse else x
        with np.errstate(all="ignore"):
            if out in FLOATS:
                acc = cast(ACCUMULATE[op](f64(xs), axis=axis), out)
            elif out == "bool":
                acc = ACCUMULATE[op](xs.astype(np.int64), axis=axis) != 0
            else:
                acc = ACCUMULATE[op](xs.astype(np_dtype(out)), axis=axis, dtype=np_dtype(out))
        n = acc.shape[axis]
        if not inclusive and n:
            first = as_dtype(np.full([1 if i == axis else k for i, k in enumerate(acc.shape)], identity_of(op, out)), out)
            acc = np.concatenate([first, np.take(acc, np.arange(n - 1), axis=axis)], axis=axis)
        if reverse:
            acc = np.flip(acc, axis)
        atol = None
        if op == "cumsum" and out in FLOATS:
            atol = sum_atol(x, out)
        elif op == "cumprod" and out in FLOATS:
            atol = float(np.max(np.abs(f64(acc)), initial=0)) * EPS[out] * 4
        return acc, out, atol
    return ref


def split_ref(a, sections, axis):
    x, d = a
    parts = np.split(x, sections, axis=axis)
    return parts, [d] * len(parts), None


def trace_ref(a, offset, a1, a2, dtype=None):
    x, d = a
    diag = np.diagonal(x, offset, a1, a2)
    out = dtype or d
    if d in FLOATS:  # summed in the array's dtype, then cast (as MLX)
        return as_dtype(cast(np.sum(f64(diag), axis=-1), d), out), out, sum_atol(diag, d)
    return as_dtype(np.sum(diag.astype(np.int64) if d != "uint64" else diag, axis=-1), out), out, None


def clamp_start(v, dim, size):
    return min(max(v + dim if v < 0 else v, 0), dim - size)


def starts_of(starts):
    if isinstance(starts, tuple):  # an index array
        return [int(v) for v in starts[0].reshape(-1)]
    return list(starts)


def slice_ref(a, starts, axes, sizes):
    x, d = a
    begin = [0] * x.ndim
    for k, ax in enumerate(axes):
        ax %= x.ndim
        begin[ax] = clamp_start(starts_of(starts)[k], x.shape[ax], sizes[ax])
    return x[tuple(slice(b, b + n) for b, n in zip(begin, sizes))], d, None


def slice_update_ref(a, u, starts, axes):
    (x, d), (v, _) = a, u
    begin = [0] * x.ndim
    for k, ax in enumerate(axes):
        ax %= x.ndim
        begin[ax] = clamp_start(starts_of(starts)[k], x.shape[ax], v.shape[ax])
    y = x.copy()
    y[tuple(slice(b, b + n) for b, n in zip(begin, v.shape))] = as_dtype(v, d)
    return y, d, None


def take_along_axis(a, idx, axis):
    (x, d), (i, _) = a, idx
    if axis is None:
        x, i, axis = x.reshape(-1), i.reshape(-1), 0
    return np.take_along_axis(x, i.astype(np.int64), axis=axis), d, None


def put_along_axis(a, idx, vals, axis):
    (x, d), (i, _) = a, idx
    v = vals[0] if isinstance(vals, tuple) else np.asarray(vals)
    y = x.copy()
    flat = y.reshape(-1) if axis is None else y
    np.put_along_axis(flat, i.astype(np.int64).reshape(-1) if axis is None else i.astype(np.int64), as_dtype(v, d), axis=0 if axis is None else axis)
    return y, d, None


SCATTER = {"scatter": None, "scatterAdd": np.add, "scatterProd": np.multiply, "scatterMax": np.maximum, "scatterMin": np.minimum}


def scatter(op):
    """MLX's scatter as a loop: each index position writes (or combines) its window of
    updates at the indices on `axes` and 0 elsewhere, in order; windows that do not fit are
    dropped. Each combine rounds to the dtype, as a sequential kernel does."""
    def ref(a, indices, updates, axes):
        (x, d), (u, _) = a, updates
        axes = [ax % x.ndim for ax in ([axes] if isinstance(axes, int) else axes)]
        idx = [i.astype(np.int64) for i, _ in ([indices] if isinstance(indices, tuple) else indices)]
        idx = np.broadcast_arrays(*idx) if idx else []
        ishape = idx[0].shape if idx else ()
        wshape = u.shape[len(ishape):]
        u = np.broadcast_to(as_dtype(u, d), ishape + wshape)
        y = x.copy()
        for pos in np.ndindex(*ishape):
            begin = [0] * x.ndim
            ok = True
            for k, ax in enumerate(axes):
                v = int(idx[k][pos])
                v = v + x.shape[ax] if v < 0 else v
                ok = ok and 0 <= v <= x.shape[ax] - wshape[ax]
                begin[ax] = v
            if not ok:
                continue
            region = tuple(slice(b, b + n) for b, n in zip(begin, wshape))
            f = SCATTER[op]
            with np.errstate(all="ignore"):
                y[region] = u[pos] if f is None else as_dtype(f(f64(y[region]), f64(u[pos])), d) if d in FLOATS else f(y[region], u[pos])
        return y, d, None
    return ref


def searchsorted(a, v, side):
    (x, dx), (y, dy) = a, v
    dt = promote(dx, dy)
    xs, ys = as_dtype(x, dt), as_dtype(y, dt)
    return np.searchsorted(xs, ys, side=side).astype(np.int32), "int32", None


def np_index(indices):
    out = []
    for i in indices:
        if isinstance(i, tuple):
            out.append(i[0].astype(np.int64))
        elif i == "...":
            out.append(Ellipsis)
        elif isinstance(i, list):
            out.append(np.array(i, dtype=np.int64))
        else:
            out.append(i)
    return tuple(out)


def index_ref(a, *indices):
    x, d = a
    return x[np_index(indices)], d, None


def index_update(add):
    def ref(a, indices, value):
        (x, d), v = a, value
        idx = np_index(indices if isinstance(indices, list) else [indices])
        val = as_dtype(v[0], d) if isinstance(v, tuple) else as_dtype(np.asarray(v), d)
        if not add:
            y = x.copy()
            y[idx] = val
            return y, d, None
        y = f64(x) if d in FLOATS else x.copy()
        with np.errstate(all="ignore"):
            np.add.at(y, idx, f64(val) if d in FLOATS else val)
        return (cast(y, d) if d in FLOATS else y), d, sum_atol(val, d)
    return ref


def sorted_ref(a, axis):
    x, d = a
    return np.sort(x, axis=axis), d, None


def topk_sorted(a, k, axis):
    x, d = a
    s = np.sort(x, axis=axis)
    return np.take(s, np.arange(s.shape[axis] - k, s.shape[axis]), axis=axis), d, None


def arange_of_axis(a, axis):
    x, _ = a
    n = x.shape[axis]
    shape = [1] * x.ndim
    shape[axis] = n
    return np.broadcast_to(np.arange(n, dtype=np.uint32).reshape(shape), x.shape), "uint32", None


def dot_atol(xs, k, name):
    scale = np.prod([float(np.max(np.abs(f64(x)), initial=0)) for x in xs]) * max(k, 1)
    return float(scale) * EPS[name] * 4


def addmm(c, a, b, alpha, beta):
    (z, dc), (x, da), (y, db) = c, a, b
    dt = promote(promote(da, db), dc)
    ref = alpha * np.matmul(f64(x), f64(y)) + beta * f64(z)
    atol = dot_atol([x, y], x.shape[-1], dt) * max(abs(alpha), 1) + float(np.max(np.abs(f64(z)), initial=0)) * abs(beta) * EPS[dt] * 2
    return cast(ref, dt), dt, atol


def outer(a, b):
    (x, da), (y, db) = a, b
    dt = promote(da, db)
    return cast(np.outer(f64(x), f64(y)), dt), dt, None


def inner(a, b):
    (x, da), (y, db) = a, b
    dt = promote(da, db)
    k = x.shape[-1] if x.ndim else 1
    return cast(np.inner(f64(x), f64(y)), dt), dt, dot_atol([x, y], k, dt)


def tensordot(a, b, axes):
    (x, da), (y, db) = a, b
    dt = promote(da, db)
    k = int(np.prod([x.shape[i] for i in (range(x.ndim - axes, x.ndim) if isinstance(axes, int) else np.atleast_1d(axes[0]))]))
    return cast(np.tensordot(f64(x), f64(y), axes), dt), dt, dot_atol([x, y], k, dt)


def einsum(sub, *ops):
    dt = ops[0][1]
    for _, d in ops[1:]:
        dt = promote(dt, d)
    ref = np.einsum(sub, *[f64(x) for x, _ in ops])
    terms = int(np.prod([x.size for x, _ in ops])) / max(ref.size, 1)
    return cast(ref, dt), dt, dot_atol([x for x, _ in ops], terms, dt)


def ord_of(o):
    return {"inf": np.inf, "-inf": -np.inf}.get(o, o)


def norm(a, ord, axis, keepdims):
    x, d = a
    out = float_of(d)
    ref = np.linalg.norm(f64(x), ord_of(ord), axis_of(axis), keepdims)
    return cast(ref, out), out, float(np.sum(np.abs(f64(x)))) * EPS[out] * 8


def astype_ref(a, dtype):
    x, d = a
    with np.errstate(all="ignore"):
        return as_dtype(x, dtype), dtype, None


def raw_bytes(x, name):
    x = x.reshape(-1)  # a 0-d array cannot change its itemsize
    if name == "bfloat16":
        return (x.astype(np.float32).view(np.uint32) >> 16).astype(np.uint16).view(np.uint8)
    return np.ascontiguousarray(x.astype(np.uint8) if name == "bool" else x).view(np.uint8)


SIZE = {"bool": 1, "bfloat16": 2}


def view_ref(a, dtype):
    x, d = a
    size = SIZE.get(d) or np.dtype(d).itemsize
    osize = SIZE.get(dtype) or np.dtype(dtype).itemsize
    raw = raw_bytes(x, d).reshape(-1)
    shape = list(x.shape[:-1]) + [x.shape[-1] * size // osize] if x.ndim else []
    if dtype == "bfloat16":
        y = (raw.view(np.uint16).astype(np.uint32) << 16).view(np.float32)
    elif dtype == "bool":
        y = raw != 0
    else:
        y = raw.view(np.dtype(dtype))
    return y.reshape(shape), dtype, None


def per_dim(v, nd):
    return list(v) if isinstance(v, list) else [v] * nd


def conv_ref(x, w, stride, padding, dilation, groups):
    """Cross-correlation, channels last: x (N, S..., Cin), w (Cout, K..., Cin/groups)."""
    nd = x.ndim - 2
    s, p, dl = per_dim(stride, nd), per_dim(padding, nd), per_dim(dilation, nd)
    xp = np.pad(x, [(0, 0)] + [(q, q) for q in p] + [(0, 0)])
    K = w.shape[1:-1]
    O = [(xp.shape[1 + i] - dl[i] * (K[i] - 1) - 1) // s[i] + 1 for i in range(nd)]
    cout, cig = w.shape[0], w.shape[-1]
    cog = cout // groups
    out = np.zeros((x.shape[0], *O, cout))
    for o in np.ndindex(*O):
        for k in np.ndindex(*K):
            at = tuple(o[i] * s[i] + k[i] * dl[i] for i in range(nd))
            patch = xp[(slice(None),) + at]  # (N, Cin)
            for g in range(groups):
                wk = w[(slice(g * cog, (g + 1) * cog),) + k]  # (cog, cig)
                out[(slice(None),) + o + (slice(g * cog, (g + 1) * cog),)] += patch[:, g * cig:(g + 1) * cig] @ wk.T
    return out


def conv_transpose_ref(x, w, stride, padding, dilation, output_padding, groups):
    """The transpose of conv_ref: input position i with kernel tap k adds to output
    i * stride + k * dilation - padding."""
    nd = x.ndim - 2
    s, p, dl, op = per_dim(stride, nd), per_dim(padding, nd), per_dim(dilation, nd), per_dim(output_padding, nd)
    K = w.shape[1:-1]
    L = x.shape[1:-1]
    O = [(L[i] - 1) * s[i] - 2 * p[i] + dl[i] * (K[i] - 1) + 1 + op[i] for i in range(nd)]
    full = [(L[i] - 1) * s[i] + dl[i] * (K[i] - 1) + 1 + op[i] for i in range(nd)]
    cout, cig = w.shape[0], w.shape[-1]
    cog = cout // groups
    acc = np.zeros((x.shape[0], *full, cout))
    for i in np.ndindex(*L):
        for k in np.ndindex(*K):
            at = tuple(i[j] * s[j] + k[j] * dl[j] for j in range(nd))
            for g in range(groups):
                wk = w[(slice(g * cog, (g + 1) * cog),) + k]  # (cog, cig)
                acc[(slice(None),) + at + (slice(g * cog, (g + 1) * cog),)] += x[(slice(None),) + i + (slice(g * cig, (g + 1) * cig),)] @ wk.T
    lo = [max(q, 0) for q in p]
    return acc[(slice(None),) + tuple(slice(lo[j], lo[j] + O[j]) for j in range(nd)) + (slice(None),)]


def conv(transpose):
    def ref(a, b, *params):
        (x, dx), (w, dw) = a, b
        dt = promote(dx, dw)
        xf, wf = f64(cast(x, dt)), f64(cast(w, dt))
        out = conv_transpose_ref(xf, wf, *params) if transpose else conv_ref(xf, wf, *params)
        return cast(out, dt), dt, dot_atol([x, w], int(np.prod(w.shape[1:])), dt)
    return ref


def convolve(a, v, mode):
    (x, dx), (y, dy) = a, v
    dt = promote(dx, dy)
    return cast(np.convolve(f64(cast(x, dt)), f64(cast(y, dt)), mode), dt), dt, dot_atol([x, y], min(x.size, y.size), dt)


def arange(start, stop, step, dtype):
    if dtype in FLOATS:
        return cast(np.arange(start, stop, step, dtype=np.float64), dtype), dtype, None
    return np.arange(start, stop, step, dtype=np_dtype(dtype)), dtype, None


def linspace(start, stop, num, dtype):
    return cast(np.linspace(start, stop, num), dtype), dtype, 1e-6 if dtype != "float64" else None


def fill_ref(shape, vals, dtype):
    if isinstance(vals, tuple):
        v, d = vals
        dt = dtype or d
        return np.broadcast_to(in_dtype(v, d, dt), shape), dt, None
    dt = dtype or ("bool" if isinstance(vals, bool) else "int32" if float(vals).is_integer() else "float32")
    return as_dtype(np.full(shape, vals, dtype=np.float64), dt), dt, None


def like(fill):
    def ref(a, *rest):
        x, d = a
        vals, dtype = (fill, None) if fill is not None else (rest[0], rest[1] if len(rest) > 1 else None)
        return fill_ref(list(x.shape), vals, dtype or d)
    return ref


def meshgrid(arrays, sparse, indexing):
    outs = np.meshgrid(*[x for x, _ in arrays], sparse=sparse, indexing=indexing)
    return list(outs), [d for _, d in arrays], None


def pad_ref(a, widths, mode="constant", value=0):
    x, d = a
    if x.ndim == 0:
        return x, d, None
    if mode == "edge":
        return np.pad(x, widths, mode="edge"), d, None
    return np.pad(x, widths, constant_values=as_dtype(np.asarray(value), d)), d, None


REFS = {
    "round": round_ref,
    "isnan": predicate(np.isnan, False), "isinf": predicate(np.isinf, False), "isfinite": predicate(np.isfinite, True),
    "isposinf": predicate(np.isposinf, False), "isneginf": predicate(np.isneginf, False),
    "logicalNot": lambda a: (a[0] == 0, "bool", None),
    "bitwiseInvert": lambda a: (np.invert(a[0]), a[1], None),
    "nanToNum": nan_to_num,
    "leftShift": shift(np.left_shift), "rightShift": shift(np.right_shift),
    "isclose": isclose, "allclose": allclose, "arrayEqual": array_equal,
    **{op: scan(op) for op in SCAN_OUT},
    "unflatten": lambda a, axis, shape: (a[0].reshape(a[0].shape[:axis % a[0].ndim] + tuple(shape) + a[0].shape[axis % a[0].ndim + 1:]), a[1], None),
    "broadcastTo": lambda a, shape: (np.broadcast_to(a[0], shape), a[1], None),
    "broadcastArrays": lambda arrays: (list(np.broadcast_arrays(*[x for x, _ in arrays])), [d for _, d in arrays], None),
    "split": split_ref,
    "atleast1d": lambda a: (np.atleast_1d(a[0]), a[1], None),
    "atleast2d": lambda a: (np.atleast_2d(a[0]), a[1], None),
    "atleast3d": lambda a: (np.atleast_3d(a[0]), a[1], None),
    "diag": lambda a, k: (np.diag(a[0], k), a[1], None),
    "trace": trace_ref,
    "slice": slice_ref, "sliceUpdate": slice_update_ref,
    "takeAlongAxis": take_along_axis, "putAlongAxis": put_along_axis,
    **{op: scatter(op) for op in SCATTER},
    "searchsorted": searchsorted,
    "index": index_ref, "indexUpdate": index_update(False), "indexAdd": index_update(True),
    "partition": sorted_ref, "argpartition": sorted_ref, "topk": topk_sorted, "argpartitionIndices": arange_of_axis,
    "addmm": addmm, "outer": outer, "inner": inner, "tensordot": tensordot, "einsum": einsum, "norm": norm,
    "astype": astype_ref, "view": view_ref,
    "conv1d": conv(False), "conv2d": conv(False), "conv3d": conv(False),
    "convTranspose1d": conv(True), "convTranspose2d": conv(True), "convTranspose3d": conv(True), "convolve": convolve,
    "arange": arange, "linspace": linspace,
    "eye": lambda n, m, k, dtype: (as_dtype(np.eye(n, m, k), dtype), dtype, None),
    "identity": lambda n, dtype: (as_dtype(np.identity(n), dtype), dtype, None),
    "tri": lambda n, m, k, dtype: (as_dtype(np.tri(n, m, k), dtype), dtype, None),
    "tril": lambda a, k: (np.tril(a[0], k), a[1], None), "triu": lambda a, k: (np.triu(a[0], k), a[1], None),
    "meshgrid": meshgrid,
    "zeros": lambda shape, dtype: fill_ref(shape, 0, dtype), "ones": lambda shape, dtype: fill_ref(shape, 1, dtype),
    "full": lambda shape, vals, dtype=None: fill_ref(shape, vals, dtype),
    "zerosLike": like(0), "onesLike": like(1), "fullLike": like(None),
    "pad": pad_ref,
}


# ---------------------------------------------------------------- factorizations (CPU)

def fact_atol(ref, name, a):
    """Errors of a backward-stable factorization: a few hundred epsilons of the result's scale."""
    n = a.shape[-1] if a.ndim else 1
    return float(np.max(np.abs(ref), initial=0)) * EPS[name] * 64 * n


def fact(f):
    def ref(*args):
        arrays = [x for x in args if isinstance(x, tuple)]
        dt = arrays[0][1]
        for _, d in arrays[1:]:
            dt = promote(dt, d)
        out = f(*[f64(x[0]) if isinstance(x, tuple) else x for x in args])
        if isinstance(out, list):
            return [cast(o, dt) for o in out], [dt] * len(out), max(fact_atol(o, dt, arrays[0][0]) for o in out)
        return cast(out, dt), dt, fact_atol(out, dt, arrays[0][0])
    return ref


def triangle(a, upper):
    return np.triu(a) if upper else np.tril(a)


def sym_from(a, uplo):
    t = np.tril(a) if uplo == "L" else np.triu(a)
    return t + np.swapaxes(t, -1, -2) - t * np.eye(a.shape[-1])


def fix_signs(v):
    w = 1 / (np.arange(v.shape[-2]) + 1.37)
    return v * np.sign(np.sum(v * w[:, None], axis=-2, keepdims=True))


def qr_fixed(a):
    q, r = np.linalg.qr(a)
    d = np.sign(np.diagonal(r, 0, -2, -1))
    d = np.where(d == 0, 1, d)
    return [q * d[..., None, :], r * d[..., :, None]]


def cholesky(a, upper):
    c = np.linalg.cholesky(sym_from(a, "U" if upper else "L"))
    return np.swapaxes(c, -1, -2) if upper else c


def cholesky_inv(f, upper):
    t = triangle(f, upper)
    return np.linalg.inv(np.swapaxes(t, -1, -2) @ t if upper else t @ np.swapaxes(t, -1, -2))


REFS.update({
    "linalg.inv": fact(np.linalg.inv),
    "linalg.solve": fact(np.linalg.solve),
    "linalg.solveTriangular": fact(lambda a, b, upper: np.linalg.solve(triangle(a, upper), b)),
    "linalg.triInv": fact(lambda a, upper: np.linalg.inv(triangle(a, upper))),
    "linalg.cholesky": fact(cholesky),
    "linalg.choleskyInv": fact(cholesky_inv),
    "linalg.eigvalsh": fact(lambda a, uplo: np.linalg.eigvalsh(sym_from(a, uplo))),
    "linalg.eigh": fact(lambda a, uplo: (lambda w, v: [w, fix_signs(v)])(*np.linalg.eigh(sym_from(a, uplo)))),
    "linalg.svd": fact(lambda a, uv: np.linalg.svd(a, compute_uv=False)),
    "linalg.pinv": fact(np.linalg.pinv),
    "linalg.qr": fact(qr_fixed),
})


def flat_values(v):
    return [e for x in v for e in flat_values(x)] if isinstance(v, list) else [v]


def array_ref(values, dtype=None):
    """mx.array from nested JS values: all booleans give bool, all integers int32, else float32."""
    flat = flat_values(values)
    if dtype is None:
        dtype = "bool" if flat and all(isinstance(v, bool) for v in flat) else \
            "int32" if all(float(v).is_integer() for v in flat) and flat else "float32"
    return as_dtype(np.array(values, dtype=np.float64), dtype), dtype, None


REFS["array"] = array_ref


def repr_with_dtype(a, name):
    """NumPy's repr, with the dtype always shown (as lathe and MLX print)."""
    body = np.array2string(a, separator=", ", prefix="array(", suffix=")") if a.size > 0 else "[]"
    extras = [f"shape={a.shape}"] if a.size > 1000 or (a.size == 0 and a.shape != (0,)) else []
    extras.append(f"dtype={name}")
    head = "array(" + body + ","
    tail = ", ".join(extras) + ")"
    last = len(head) - (head.rfind("\n") + 1)
    return head + ("\n" + " " * 6 if last + len(tail) + 1 > 75 else " ") + tail


def main():
    cases = json.load(sys.stdin)
    out = []
    for c in cases:
        try:
            with np.errstate(all="ignore"):
                res, dtype, atol = compute(c["op"], [arg(a) for a in c["args"]])
            if c["op"] == "repr":
                out.append({"repr": res})
                continue
            if isinstance(res, list):  # several outputs
                entry = {"out": [enc(np.asarray(r), d) for r, d in zip(res, dtype)]}
            else:
                entry = {"out": enc(np.asarray(res), dtype)}
            if atol is not None and math.isfinite(atol):
                entry["atol"] = atol
            out.append(entry)
        except Exception as e:  # reported by the test with the case that caused it
            out.append({"error": f"{type(e).__name__}: {e}"})
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()

"""NumPy side of test/differential.test.ts: reads a batch of cases as JSON on stdin, prints
NumPy's results as JSON on stdout (one entry per case, in order).

A case is {"op", "args": [encoded arrays or {"value": v}]}; arrays use the encoding of
scripts/goldens/common.py. Results follow MLX's dtype rules (common.PROMOTE; sums widen small
integers), computed in float64 for float outputs and rounded once to the output dtype, so they
are the correctly rounded answer. Each result may carry an "atol" for sums of many terms.
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
    return a["value"] if "value" in a else dec(a)


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
}
UNARY_SAME = {"abs": np.abs, "negative": np.negative, "square": np.square, "sign": np.sign,
              "floor": np.floor, "ceil": np.ceil}
BINARY = {
    "add": np.add, "subtract": np.subtract, "multiply": np.multiply, "maximum": np.maximum,
    "minimum": np.minimum, "floorDivide": np.floor_divide, "remainder": np.remainder, "power": np.power,
}
BINARY_FLOAT = {"divide": np.divide, "arctan2": np.arctan2, "logaddexp": np.logaddexp}
COMPARE = {"equal": np.equal, "notEqual": np.not_equal, "less": np.less, "lessEqual": np.less_equal,
           "greater": np.greater, "greaterEqual": np.greater_equal}


def compute(op, args):
    """(result array or list of arrays, lathe dtype name(s), atol or None)."""
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
            ref = np.var(xf, axis=axis, keepdims=keepdims)
        elif op == "std":
            ref = np.std(xf, axis=axis, keepdims=keepdims)
        else:
            m = np.max(xf, axis=axis, keepdims=True, initial=-np.inf)  # empty: -inf, as MLX
            ref = (np.log(np.sum(np.exp(xf - m), axis=axis, keepdims=True)) + m).reshape(np.sum(xf, axis=axis, keepdims=keepdims).shape)
        # Sums of many terms: allow a few units of the dtype's epsilon on the largest magnitude.
        scale = float(np.max(np.abs(xf), initial=0)) ** (2 if op == "variance" else 1)
        return cast(ref, out), out, scale * EPS[out] * 8
    if op == "matmul":
        (a, da), (b, db) = args
        dt = promote(da, db)
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
    if op == "cumsum":
        (x, d), axis = args
        out = "int32" if d == "bool" else d  # MLX widens only bool
        if out in FLOATS:
            ref = np.cumsum(f64(x), axis=axis)
            return cast(ref, out), out, float(np.sum(np.abs(f64(x)))) * EPS[out] * 4
        return np.cumsum(x.astype(np_dtype(out)), axis=axis, dtype=np_dtype(out)), out, None
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
    if op == "pad":
        (x, d), widths = args
        return np.pad(x, widths), d, None
    if op in ("sort", "argsort"):
        (x, d), axis = args
        if op == "sort":
            return np.sort(x, axis=axis), d, None
        return np.argsort(x, axis=axis, kind="stable").astype(np.uint32), "uint32", None
    if op == "repr":
        (x, d), = args
        return repr_with_dtype(x, d), None, None
    raise ValueError(f"unknown op {op}")


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
                res, dtype, atol = compute(c["op"], [arg(a) if isinstance(a, dict) else [arg(e) for e in a] for a in c["args"]])
            if c["op"] == "repr":
                out.append({"repr": res})
                continue
            entry = {"out": enc(np.asarray(res), dtype)}
            if atol is not None and math.isfinite(atol):
                entry["atol"] = atol
            out.append(entry)
        except Exception as e:  # reported by the test with the case that caused it
            out.append({"error": f"{type(e).__name__}: {e}"})
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()

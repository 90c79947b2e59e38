"""Elementwise ops: unary, binary, where, clip, isclose/allclose/arrayEqual, nanToNum, astype.

Expected values come from NumPy computed in float64 on the inputs cast to the dtype lathe
computes in (MLX's: integers and bools become float32 for float ops), then rounded to the
output dtype; bfloat16 rounds from float32 (common.cast). Integer ops run in NumPy in the
integer dtype itself, so wrapping, division by zero (0) and shifts follow NumPy.
"""
import math

import numpy as np
import scipy.special as sp

from common import ALL_DTYPES, FLOATS, INTS, cast, enc, val, weak, write

rng = np.random.default_rng(7)
cases = []
NAN, INF = math.nan, math.inf
SHAPES = [(), (0,), (2, 3), (2, 1, 4)]  # besides (5,), which every dtype gets
FULL = ["float32", "int32"]  # dtypes that get every shape
SPECIAL = [NAN, INF, -INF, -0.0, 0.0, 1.0, -1.0, 0.5, -0.5, 2.5, -2.5, 1e-3, 100.0, 3.0e4, 1e-6, -7.25]


def add(op, args, out=None, error=None, name=None, **tol):
    c = {"op": op, "args": args}
    if name:
        c["name"] = name
    if error is not None:
        c["error"] = error
    else:
        c["out"] = out
    c.update(tol)
    cases.append(c)


def f64(x):
    return np.asarray(x).astype(np.float64)


def float_of(dt):
    return dt if dt in FLOATS else "float32"


def in_float(fn, xs, cdt):
    """fn over float64 copies of xs cast to cdt, rounded back to cdt."""
    with np.errstate(all="ignore"):
        return cast(fn(*[f64(cast(x, cdt)) for x in xs]), cdt)


def ints_in(lo, hi, dt, shape):
    info = np.iinfo(dt)
    lo, hi = max(int(info.min), math.ceil(lo)), min(int(info.max), math.floor(hi))
    return rng.integers(lo, hi + 1, size=shape).astype(dt)


def sample(shape, dt, dom=(-3.0, 3.0), idom=(-50, 50)):
    if dt == "bool":
        return rng.random(shape) < 0.5
    if dt in INTS:
        return ints_in(idom[0], idom[1], dt, shape)
    return cast(rng.uniform(dom[0], dom[1], size=shape), dt)


def int_edges(dt):
    info = np.iinfo(dt)
    vals = [int(info.min), int(info.max), 0, 1, 2, 7, int(info.max) - 1]
    if info.min < 0:
        vals += [-1, int(info.min) + 1]
    return np.array(vals, dtype=dt)


# ------------------------------------------------------------------ unary

POS, UNIT, COSH = ((0.05, 5.0), (1, 10)), ((-0.99, 0.99), (-1, 1)), ((1.0, 5.0), (1, 10))
# name: (numpy in float64, domain for floats and for integers)
FLOAT_UNARY = {
    "exp": (np.exp, (-5, 5), (-10, 10)),
    "expm1": (np.expm1, (-5, 5), (-10, 10)),
    "log": (np.log, *POS),
    "log1p": (np.log1p, (-0.9, 3), (0, 10)),
    "log2": (np.log2, *POS),
    "log10": (np.log10, *POS),
    "sqrt": (np.sqrt, *POS),
    "rsqrt": (lambda x: 1 / np.sqrt(x), *POS),
    "reciprocal": (lambda x: 1 / x, (-3, 3), (-10, 10)),
    "sin": (np.sin, (-3, 3), (-50, 50)),
    "cos": (np.cos, (-3, 3), (-50, 50)),
    "tan": (np.tan, (-1.4, 1.4), (-1, 1)),
    "arcsin": (np.arcsin, *UNIT),
    "arccos": (np.arccos, *UNIT),
    "arctan": (np.arctan, (-3, 3), (-50, 50)),
    "sinh": (np.sinh, (-3, 3), (-10, 10)),
    "cosh": (np.cosh, (-3, 3), (-10, 10)),
    "tanh": (np.tanh, (-3, 3), (-50, 50)),
    "arcsinh": (np.arcsinh, (-3, 3), (-50, 50)),
    "arccosh": (np.arccosh, *COSH),
    "arctanh": (np.arctanh, *UNIT),
    "erf": (sp.erf, (-3, 3), (-3, 3)),
    "erfinv": (sp.erfinv, *UNIT),
    "sigmoid": (sp.expit, (-8, 8), (-50, 50)),
    "degrees": (np.degrees, (-3, 3), (-50, 50)),
    "radians": (np.radians, (-200, 200), (-50, 50)),
}
SAME_UNARY = {  # float64 function; integers run in their dtype; bools are unchanged
    "abs": np.abs, "negative": np.negative, "sign": np.sign, "square": np.square,
    "floor": np.floor, "ceil": np.ceil, "stopGradient": lambda x: x,
}
PREDICATES = {
    "isnan": np.isnan, "isinf": np.isinf, "isfinite": np.isfinite, "isposinf": np.isposinf,
    "isneginf": np.isneginf, "logicalNot": np.logical_not,
}


def unary_out(op, x, dt):
    """Expected output of a unary op on x (stored as dtype dt), or None when refused."""
    if op in FLOAT_UNARY:
        cdt = float_of(dt)
        return enc(in_float(FLOAT_UNARY[op][0], [x], cdt), cdt)
    if op in PREDICATES:
        return enc(PREDICATES[op](f64(x) if dt in FLOATS else x), "bool")
    if op == "bitwiseInvert":
        return None if dt in FLOATS else enc(np.invert(x), dt)
    if dt == "bool":
        return None if op == "negative" else enc(x, dt)
    if dt in INTS:
        with np.errstate(all="ignore"):
            return enc(x if op in ("floor", "ceil", "stopGradient") else SAME_UNARY[op](x).astype(dt), dt)
    return enc(in_float(SAME_UNARY[op], [x], dt), dt)


UNARY = [*FLOAT_UNARY, *SAME_UNARY, *PREDICATES, "bitwiseInvert"]
for op in UNARY:
    fdom, idom = (FLOAT_UNARY[op][1], FLOAT_UNARY[op][2]) if op in FLOAT_UNARY else ((-3, 3), (-50, 50))
    for dt in ALL_DTYPES:
        shapes = [(5,)] + (SHAPES if dt in FULL else [])
        for shape in shapes:
            x = sample(shape, dt, fdom, idom)
            out = unary_out(op, x, dt)
            name = f"{op} {dt} {shape}"
            if out is None:
                add(op, [enc(x, dt)], error=f"[{op}]", name=name)
            else:
                add(op, [enc(x, dt)], out, name=name)
        if dt in FLOATS:  # NaN, Inf, -0, subnormal and out-of-domain inputs
            x = cast(SPECIAL, dt)
            out = unary_out(op, x, dt)
            if out is None:
                continue
            add(op, [enc(x, dt)], out, name=f"{op} {dt} special")
        elif dt in INTS and op not in FLOAT_UNARY:  # extremes wrap (abs(-128) is -128 in int8)
            x = int_edges(dt)
            add(op, [enc(x, dt)], unary_out(op, x, dt), name=f"{op} {dt} edges")

# round: half to even, with decimals (NumPy: each step in the array's own precision)
ROUNDING = np.array([0.5, 1.5, 2.5, -0.5, -2.5, 0.125, 0.375, 2.675, -1.005, 15, 25, 35, -45, 1234.5678, 0.0049999, 7.3])
for dt in ALL_DTYPES:
    if dt in FLOATS:
        x = cast(np.concatenate([ROUNDING, rng.uniform(-50, 50, 8), [NAN, INF, -INF, -0.0]]), dt)
        for d in [0, 1, 2, -1]:
            ref = np.round(x.astype(np.float16 if dt == "float16" else np.float32 if dt in ("bfloat16", "float32") else np.float64), d)
            add("round", [enc(x, dt), val(d)], enc(cast(ref, dt), dt), name=f"round {dt} decimals {d}")
    elif dt in INTS:
        x = np.concatenate([np.array([15, 25, 35, -15, -25, 14, 0, 5, -5, 45, 50, 99], dtype=dt) if dt.startswith("int") else np.array([15, 25, 35, 14, 0, 5, 45, 50, 99, 250], dtype=dt)])
        for d in [0, 2, -1, -2]:
            add("round", [enc(x, dt), val(d)], enc(np.round(x, d).astype(dt), dt), name=f"round {dt} decimals {d}")
    else:
        x = np.array([True, False])
        add("round", [enc(x, dt)], enc(x, dt), name="round bool")
add("round", [enc(np.zeros((2, 0), np.float32))], enc(np.zeros((2, 0), np.float32)), name="round empty")
add("round", [enc(np.float32(2.5))], enc(np.float32(2.0)), name="round 0-d")
add("round", [enc(np.ones(3, np.float32)), val(1.5)], error="[round] decimals must be an integer")

# nanToNum: NaN -> nan, Inf -> posinf or the dtype's largest finite value
FMAX = {"float16": 65504.0, "bfloat16": 3.3895313892515355e38, "float32": float(np.finfo(np.float32).max), "float64": float(np.finfo(np.float64).max)}
for dt in FLOATS:
    x = cast(SPECIAL, dt)
    v = f64(x)
    ref = np.where(np.isnan(v), 0.0, np.where(v == INF, FMAX[dt], np.where(v == -INF, -FMAX[dt], v)))
    add("nanToNum", [enc(x, dt)], enc(cast(ref, dt), dt), name=f"nanToNum {dt}")
    ref = np.where(np.isnan(v), 7.5, np.where(v == INF, 1000.0, np.where(v == -INF, -2.0, v)))
    add("nanToNum", [enc(x, dt), val(7.5), val(1000), val(-2)], enc(cast(ref, dt), dt), name=f"nanToNum {dt} values")
for dt in ["int32", "uint8", "bool", "int64"]:
    x = sample((2, 3), dt)
    add("nanToNum", [enc(x, dt)], enc(x, dt), name=f"nanToNum {dt} unchanged")

# ------------------------------------------------------------------ binary

def bool_power(a, b):
    return np.power(a.astype(np.uint8), b.astype(np.uint8)).astype(bool)


# name: (kind, NumPy function). kind: 'same' (promoted dtype), 'float' (float ops), 'cmp'
# (bool out), 'logical' (bool in and out), 'bits' (integers and bools), 'shift' (bools as uint8)
BINARY = {
    "add": ("same", np.add), "subtract": ("same", np.subtract), "multiply": ("same", np.multiply),
    "divide": ("float", np.divide), "floorDivide": ("same", np.floor_divide), "remainder": ("same", np.remainder),
    "power": ("same", np.power), "maximum": ("same", np.maximum), "minimum": ("same", np.minimum),
    "equal": ("cmp", np.equal), "notEqual": ("cmp", np.not_equal), "less": ("cmp", np.less),
    "lessEqual": ("cmp", np.less_equal), "greater": ("cmp", np.greater), "greaterEqual": ("cmp", np.greater_equal),
    "logicalAnd": ("logical", np.logical_and), "logicalOr": ("logical", np.logical_or),
    "bitwiseAnd": ("bits", np.bitwise_and), "bitwiseOr": ("bits", np.bitwise_or), "bitwiseXor": ("bits", np.bitwise_xor),
    "leftShift": ("shift", np.left_shift), "rightShift": ("shift", np.right_shift),
    "arctan2": ("float", np.arctan2), "logaddexp": ("float", np.logaddexp),
}
BOOL_SAME = {"add": np.logical_or, "multiply": np.logical_and, "maximum": np.maximum, "minimum": np.minimum, "power": bool_power}


def binary_out(op, a, b, dt):
    """Expected output for same-dtype inputs, or an error substring."""
    kind, fn = BINARY[op]
    with np.errstate(all="ignore"):
        if kind == "float":
            cdt = float_of(dt)
            return enc(in_float(fn, [a, b], cdt), cdt)
        if kind == "cmp":
            return enc(fn(f64(a), f64(b)) if dt in FLOATS else fn(a, b), "bool")
        if kind == "logical":
            return enc(fn(a, b), "bool")
        if kind in ("bits", "shift"):
            if dt in FLOATS:
                return f"[{op}] expected integer or bool inputs"
            if kind == "shift" and dt == "bool":
                return enc(fn(a.astype(np.uint8), b.astype(np.uint8)), "uint8")
            return enc(fn(a, b).astype(dt), dt)
        if dt == "bool":
            return enc(BOOL_SAME[op](a, b), "bool") if op in BOOL_SAME else f"[{op}]"
        if dt in INTS:
            return enc(fn(a, b).astype(dt), dt)
        return enc(in_float(fn, [a, b], dt), dt)


def binary_case(op, a, b, dt, name, tag=None):
    out = binary_out(op, a, b, dt)
    if isinstance(out, str):
        if tag is None:  # one refusal per op and dtype is enough
            add(op, [enc(a, dt), enc(b, dt)], error=out, name=name)
        return
    add(op, [enc(a, dt), enc(b, dt)], out, name=name)


PAIRS = [((2, 3), (3,)), ((2, 1), (1, 3)), ((), (2, 3)), ((0,), (0,)), ((), ()), ((2, 1, 4), (3, 1)), ((0, 3), (1, 3))]
SHIFT_MAX = {"int8": 10, "uint8": 10, "int16": 18, "uint16": 18}
for op, (kind, _) in BINARY.items():
    for dt in ALL_DTYPES:
        pairs = [((5,), (5,))] + (PAIRS if dt in FULL else [])
        for sa, sb in pairs:
            if op == "power" and dt not in FLOATS:
                a = sample(sa, dt, idom=(-6, 6))
                b = sample(sb, dt, idom=(0, 6))
            elif op == "power":
                a, b = sample(sa, dt, (0.1, 3)), sample(sb, dt)
            elif kind == "shift" and dt in INTS:
                a = sample(sa, dt)
                b = ints_in(0, SHIFT_MAX.get(dt, 40 if dt.endswith("32") else 70), dt, sb)
            else:
                a, b = sample(sa, dt), sample(sb, dt)
            binary_case(op, a, b, dt, f"{op} {dt} {sa}&{sb}")
        if dt in FLOATS and kind not in ("bits", "shift"):  # every pair of special values
            s = cast([NAN, INF, -INF, -0.0, 0.0, 1.0, -1.0, 2.5, -0.5, 3.0, 1e-3], dt)
            binary_case(op, s.reshape(-1, 1), s.reshape(1, -1), dt, f"{op} {dt} special", tag="special")
        if dt in INTS and kind in ("same", "bits", "cmp"):  # extremes: wrapping, division by zero, MIN // -1
            e = int_edges(dt)
            if op == "power":
                binary_case(op, e.reshape(-1, 1), np.array([0, 1, 2, 3, 7], dtype=dt).reshape(1, -1), dt, f"{op} {dt} edges", tag="edges")
            else:
                binary_case(op, e.reshape(-1, 1), e.reshape(1, -1), dt, f"{op} {dt} edges", tag="edges")
        if dt in INTS and kind == "shift":  # past the width, and negative amounts for signed types
            bits = np.dtype(dt).itemsize * 8
            amounts = [0, 1, bits - 1, bits, bits + 3] + ([-1, -5] if dt.startswith("int") else [])
            e = int_edges(dt)
            b = np.array(amounts, dtype=dt)
            binary_case(op, e.reshape(-1, 1), b.reshape(1, -1), dt, f"{op} {dt} edges", tag="edges")

# errors: broadcasting, refused dtypes
add("add", [enc(np.ones((2, 3), np.float32)), enc(np.ones(4, np.float32))], error="[add] shapes (2,3) and (4,) cannot be broadcast")
add("multiply", [enc(np.ones((2, 3), np.int32)), enc(np.ones((3, 2), np.int32))], error="[multiply] shapes (2,3) and (3,2) cannot be broadcast")
add("subtract", [enc(np.ones(3, bool)), weak(True)], error="[subtract] subtraction is not defined for bools")
add("bitwiseAnd", [enc(np.ones(3, np.int32)), weak(1.5)], error="[bitwiseAnd] expected integer or bool inputs")
add("bitwiseInvert", [enc(np.ones(3, np.float16), "float16")], error="[bitwiseInvert] expected an integer or bool array")
add("negative", [enc(np.ones(3, bool))], error="[negative] not defined for bool arrays")
add("add", [enc(np.ones(3, np.uint8)), weak(300)], error="[add] the scalar 300 does not fit in uint8")
add("maximum", [enc(np.ones(3, np.uint16)), weak(-1)], error="[maximum] the scalar -1 does not fit in uint16")
add("multiply", [weak(128), enc(np.ones(3, np.int8))], error="[multiply] the scalar 128 does not fit in int8")

# ------------------------------------------------------------------ where, clip

for dt in ALL_DTYPES:
    c = rng.random((2, 3)) < 0.5
    x, y = sample((2, 3), dt), sample((2, 3), dt)
    add("where", [enc(c), enc(x, dt), enc(y, dt)], enc(np.where(c, x, y), dt), name=f"where {dt}")
c = rng.random((3,)) < 0.5
x, y = sample((2, 1), "float32"), sample((), "float32")
add("where", [enc(c), enc(x), enc(y)], enc(np.where(c, x, y).astype(np.float32)), name="where broadcast")
add("where", [enc(np.zeros(0, bool)), enc(np.zeros(0, np.float32)), enc(np.float32(1))], enc(np.zeros(0, np.float32)), name="where empty")
x = sample((2, 3), "float16")
add("where", [enc(c), enc(x, "float16"), weak(1.5)], enc(cast(np.where(c, x, 1.5), "float16"), "float16"), name="where float16 & weak float")
add("where", [enc(c), weak(1), weak(2.5)], enc(np.where(c, 1, 2.5).astype(np.float32)), name="where weak int & weak float")
add("where", [enc(c), weak(1), weak(2)], enc(np.where(c, 1, 2).astype(np.int32)), name="where weak ints")
cf = cast([0.0, NAN, -0.0, 2.0, -1.0, 0.0], "float32")  # a float condition: NaN counts as true
add("where", [enc(cf), weak(1), weak(0)], enc(np.where(cf != 0, 1, 0).astype(np.int32)), name="where float condition")
x, y = sample((2, 3), "int8"), sample((2, 3), "uint8")
add("where", [enc(c), enc(x), enc(y)], enc(np.where(c, x, y).astype(np.int16)), name="where promotes int8 & uint8")
add("where", [enc(np.ones((2, 3), bool)), enc(np.ones(4, np.float32)), weak(0)], error="[where] shapes (2,3) and (4,) and () cannot be broadcast")

for dt in ALL_DTYPES:
    if dt == "bool":
        continue
    x = sample((2, 4), dt)
    lo, hi = sample((4,), dt), sample((2, 1), dt)
    with np.errstate(all="ignore"):
        if dt in FLOATS:
            ref = cast(np.minimum(np.maximum(f64(x), f64(lo)), f64(hi)), dt)
        else:
            ref = np.minimum(np.maximum(x, lo), hi)
    add("clip", [enc(x, dt), enc(lo, dt), enc(hi, dt)], enc(ref, dt), name=f"clip {dt} arrays")
    ref = np.clip(f64(x), -2, 2) if dt in FLOATS else np.clip(x, 0 if dt.startswith("u") else -2, 2)
    lo_w = 0 if dt.startswith("u") else -2
    add("clip", [enc(x, dt), weak(lo_w), weak(2)], enc(cast(ref, dt), dt), name=f"clip {dt} weak")
x = cast([NAN, -5, 0.5, 7, INF, -INF], "float32")
add("clip", [enc(x), val(None), weak(1.0)], enc(cast(np.minimum(f64(x), 1.0), "float32")), name="clip max only")
add("clip", [enc(x), weak(-1), val(None)], enc(cast(np.maximum(f64(x), -1.0), "float32")), name="clip min only")
xi = np.array([-3, 0, 5, 9], np.int32)
add("clip", [enc(xi), weak(-1.5), weak(4.5)], enc(np.clip(xi, -1.5, 4.5).astype(np.float32)), name="clip int32 with weak floats")
add("clip", [enc(x), val(None), val(None)], error="[clip] at least one of min and max")

# ------------------------------------------------------------------ isclose, allclose, arrayEqual

A = cast([1.0, 1.0, 1e10, 1e-8, 0.0, NAN, INF, INF, -INF, 1.0, 100.0, 0.0], "float32")
B = cast([1.0 + 1e-6, 1.1, 1.00001e10, 2e-8, 1e-9, NAN, INF, -INF, -INF, INF, 100.001, -0.0], "float32")
for rtol, atol, eqnan in [(1e-5, 1e-8, False), (1e-5, 1e-8, True), (0.0, 0.0, False), (1e-2, 0.5, False)]:
    ref = np.isclose(A.astype(np.float32), B.astype(np.float32), rtol=rtol, atol=atol, equal_nan=eqnan)
    args = [enc(A), enc(B), val(rtol), val(atol), val(eqnan)]
    add("isclose", args, enc(ref), name=f"isclose rtol={rtol} atol={atol} equalNan={eqnan}")
    add("allclose", args, enc(np.bool_(ref.all())), name=f"allclose rtol={rtol} atol={atol} equalNan={eqnan}")
for dt in ["float64", "float16", "int32", "uint8"]:
    a = sample((2, 3), dt)
    b = sample((3,), dt)
    b2 = np.where(rng.random((2, 3)) < 0.5, a, np.broadcast_to(b, (2, 3))).astype(a.dtype)
    cdt = float_of(dt)
    ref = np.isclose(f64(cast(a, cdt)), f64(cast(b2, cdt)))
    add("isclose", [enc(a, dt), enc(b2, dt)], enc(ref), name=f"isclose {dt}")
    add("isclose", [enc(a, dt), enc(b, dt)], enc(np.isclose(f64(cast(a, cdt)), f64(cast(b, cdt)))), name=f"isclose {dt} broadcast")
    add("allclose", [enc(a, dt), enc(a, dt)], enc(np.bool_(True)), name=f"allclose {dt} same")
x = sample((3,), "float32")
add("allclose", [enc(x), enc(np.zeros(0, np.float32))], error="[isclose] shapes (3,) and (0,) cannot be broadcast")
add("allclose", [enc(np.zeros(0, np.float32)), enc(np.zeros(0, np.float32))], enc(np.bool_(True)), name="allclose empty")

N = cast([1.0, NAN, 2.0], "float32")
add("arrayEqual", [enc(N), enc(N)], enc(np.bool_(False)), name="arrayEqual nan")
add("arrayEqual", [enc(N), enc(N), val(True)], enc(np.bool_(True)), name="arrayEqual nan equalNan")
add("arrayEqual", [enc(np.arange(3, dtype=np.int32)), enc(np.arange(3, dtype=np.float32))], enc(np.bool_(True)), name="arrayEqual across dtypes")
add("arrayEqual", [enc(np.arange(3, dtype=np.int32)), enc(np.arange(4, dtype=np.int32))], enc(np.bool_(False)), name="arrayEqual shapes differ")
add("arrayEqual", [enc(np.ones((2, 1), np.int32)), enc(np.ones((2,), np.int32))], enc(np.bool_(False)), name="arrayEqual no broadcasting")
add("arrayEqual", [enc(np.zeros((0, 2), np.int8)), enc(np.zeros((0, 2), np.int8))], enc(np.bool_(True)), name="arrayEqual empty")
for dt in ALL_DTYPES:
    a = sample((2, 3), dt)
    add("arrayEqual", [enc(a, dt), enc(a, dt)], enc(np.bool_(True)), name=f"arrayEqual {dt} same")
    b = a.copy()
    b.flat[4] = (not b.flat[4]) if dt == "bool" else b.flat[4] + 1
    add("arrayEqual", [enc(a, dt), enc(b, dt)], enc(np.bool_(False)), name=f"arrayEqual {dt} differ")

# ------------------------------------------------------------------ astype: every pair of dtypes

FLOAT_VALUES = [0.0, -0.0, 1.0, -1.0, 0.5, -0.7, 2.5, -2.5, 100.9, -100.9, 126.6, -127.9, 254.6, 1000.25, -3e4, 65504.0,
                7e4, 1e9, -2.1e9, 4.2e9, 3e15, -3e15, 1e19, 1e-3, 1e-6, 1e-9, 1e-40, 3e38, -3.3e38, 1e300, NAN, INF, -INF]
INT_VALUES = [0, 1, -1, 2, 7, 100, -100, 127, -128, 128, 200, 255, 256, 300, -300, 32767, -32768, 40000, 65535, 65536,
              70000, -70000, 2**24 + 1, 2**31 - 1, -2**31, 2**31, 2**32 - 1, 2**32 + 5, 2**53 + 1, -(2**60) - 2**36 - 1,
              2**60 + 2**36 + 1, 2**63 - 1, -2**63, 2**64 - 1, 2**63 + 2**40 + 1]


def int_fits(dt, v):
    info = np.iinfo(dt)
    return info.min <= v <= info.max


def astype_source(src, dst):
    """Values of src whose conversion to dst is defined (floats to integers: truncations in range)."""
    if src == "bool":
        return np.array([True, False, True])
    if src in INTS:
        return np.array([v for v in INT_VALUES if int_fits(src, v)], dtype=src)
    x = cast(FLOAT_VALUES, src)
    if dst in INTS:
        v = f64(x)
        keep = [i for i, t in enumerate(v) if math.isfinite(t) and int_fits(dst, math.trunc(t))
                and not (dst.endswith("64") and abs(t) >= 2**63)]
        x = x[keep]
    return x


def bf16_once(v):
    """A 64-bit integer rounded once to bfloat16's 8 significant bits (through float32 would round twice)."""
    m = abs(int(v))
    shift = max(m.bit_length() - 8, 0)
    q, r = divmod(m, 1 << shift)
    half = (1 << shift) >> 1
    if shift and (r > half or (r == half and q & 1)):
        q += 1
    return math.copysign(float(q << shift), int(v))


for src in ALL_DTYPES:
    for dst in ALL_DTYPES:
        x = astype_source(src, dst)
        with np.errstate(all="ignore"):
            if dst == "bfloat16" and src in ("int64", "uint64"):
                ref = np.array([bf16_once(v) for v in x], dtype=np.float32)
            elif dst == "bfloat16":
                ref = cast(x, "bfloat16")
            else:
                ref = x.astype(bool if dst == "bool" else dst)
        add("astype", [enc(x, src), val(dst)], enc(ref, dst), name=f"astype {src}->{dst}", rtol=0, atol=0)
add("astype", [enc(np.zeros((2, 0), np.float32)), val("int8")], enc(np.zeros((2, 0), np.int8)), name="astype empty")
add("astype", [enc(np.float32(-2.7)), val("int16")], enc(np.int16(-2)), name="astype 0-d")
add("astype", [enc(np.ones(2, np.float32)), val("float8")], error="[astype] unknown dtype 'float8'")

# float16 rounding, exhaustively around every kind of boundary: ties to even between all
# neighbouring float16 values of a sample of exponents, a float32 step either side of each
# tie, subnormals, underflow, overflow to Inf and NaN.
bits = np.concatenate([rng.integers(0, 0x7BFF, 700), np.arange(0, 40), np.arange(0x3BF0, 0x3C10), np.arange(0x7BE0, 0x7BFF)]).astype(np.uint16)
lo = bits.view(np.float16).astype(np.float64)
hi = (bits + 1).view(np.float16).astype(np.float64)
ties = ((lo + hi) / 2).astype(np.float32)
f32 = np.concatenate([ties, np.nextafter(ties, np.float32(np.inf)), np.nextafter(ties, np.float32(0)), lo.astype(np.float32)])
f32 = np.concatenate([f32, -f32[::7], np.array([65504, 65519.99, 65520, 65536, 1e5, 3e38, np.inf, -np.inf, np.nan, -0.0,
                                                2**-25, 2**-25 * 1.0000001, 2**-26, 2**-24, 2**-14, 2**-14 * 0.99999], np.float32)])
add("astype", [enc(f32, "float32"), val("float16")], enc(f32.astype(np.float16)), name="astype float32->float16 ties", rtol=0, atol=0)
f64v = np.concatenate([((lo + hi) / 2)[:400], np.nextafter((lo + hi) / 2, np.inf)[:400], np.nextafter((lo + hi) / 2, 0)[:400],
                       rng.uniform(-7e4, 7e4, 200), np.exp(rng.uniform(-20, 11, 200))])
add("astype", [enc(f64v, "float64"), val("float16")], enc(f64v.astype(np.float16)), name="astype float64->float16 ties", rtol=0, atol=0)

write("elementwise", cases)

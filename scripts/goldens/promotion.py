"""Type promotion: MLX's table over every pair of dtypes, and weak JS scalars.

NumPy promotes differently from MLX (uint64 + int64 is float64 there, float32 in MLX;
int8 + float16 is float16 in both, but int32 + float16 is float64 in NumPy), so expected
values cast both inputs to MLX's result dtype first (common.PROMOTE) and compute there.

Weak scalars (bare JS numbers and booleans) follow MLX's Python scalars:
- an integer takes the array's dtype (bool arrays: int32); it must fit there, else the op
  throws (`add(uint8Array, 300)`: "[add] the scalar 300 does not fit in uint8"). lathe also
  checks 64-bit integer dtypes, where MLX lets the value wrap;
- a float takes the array's dtype if that is a float, else float32;
- a boolean takes the array's dtype;
- with no array at all, integers are int32, floats float32, booleans bool, promoted as arrays.
"""
import numpy as np

from common import ALL_DTYPES, FLOATS, INTS, PROMOTE, cast, enc, weak, write

rng = np.random.default_rng(11)
cases = []


def sample(shape, dt):
    if dt == "bool":
        return rng.random(shape) < 0.5
    if dt in INTS:
        info = np.iinfo(dt)
        lo, hi = (int(info.min), int(info.max)) if info.bits <= 16 else (max(int(info.min), -100000), 100000)
        return rng.integers(lo, hi + 1, size=shape).astype(dt)
    return cast(rng.uniform(-100, 100, size=shape), dt)


def compute(fn, xs, dt):
    """fn over xs cast to dtype dt, in float64 for floats (then rounded), else in dt itself."""
    with np.errstate(all="ignore"):
        if dt in FLOATS:
            return cast(fn(*[cast(x, dt).astype(np.float64) for x in xs]), dt)
        if dt == "bool":
            return fn(*[np.asarray(x, bool) for x in xs])
        return fn(*[cast(x, dt) for x in xs]).astype(dt)


def bool_add(a, b):
    return np.logical_or(a, b)


def add_fn(dt):
    return bool_add if dt == "bool" else np.add


# add over every pair of dtypes, both argument orders, with broadcasting
for a_dt in ALL_DTYPES:
    for b_dt in ALL_DTYPES:
        r = PROMOTE[(a_dt, b_dt)]
        a, b = sample((2, 3), a_dt), sample((3,), b_dt)
        cases.append({"op": "add", "name": f"add {a_dt}+{b_dt}", "args": [enc(a, a_dt), enc(b, b_dt)],
                      "out": enc(compute(add_fn(r), [a, b], r), r)})

# other ops over a few mixed pairs: the table applies to all of them
MIXED = [("int8", "uint8"), ("int32", "float16"), ("uint64", "int64"), ("bfloat16", "float16"), ("bool", "int8"),
         ("int64", "float32"), ("uint32", "int32"), ("bfloat16", "int32"), ("uint16", "float64"), ("bool", "bfloat16")]
OPS = {"multiply": np.multiply, "maximum": np.maximum, "minimum": np.minimum}
for a_dt, b_dt in MIXED:
    r = PROMOTE[(a_dt, b_dt)]
    a, b = sample((4,), a_dt), sample((4,), b_dt)
    for op, fn in OPS.items():
        f = np.logical_and if (r == "bool" and op == "multiply") else fn
        cases.append({"op": op, "name": f"{op} {a_dt}&{b_dt}", "args": [enc(a, a_dt), enc(b, b_dt)], "out": enc(compute(f, [a, b], r), r)})
    cases.append({"op": "less", "name": f"less {a_dt}&{b_dt}", "args": [enc(a, a_dt), enc(b, b_dt)],
                  "out": enc(compute(np.less, [a, b], r) if r != "bool" else np.less(a, b), "bool")})
    f = "float32" if r not in FLOATS else r  # divide computes integers in float32
    cases.append({"op": "divide", "name": f"divide {a_dt}&{b_dt}", "args": [enc(a, a_dt), enc(b, b_dt)], "out": enc(compute(np.divide, [a, b], f), f)})

# weak scalars against every dtype, on either side


def weak_dtype(dt, v):
    if isinstance(v, bool):
        return dt
    if isinstance(v, int):
        return "int32" if dt == "bool" else dt
    return dt if dt in FLOATS else "float32"


for dt in ALL_DTYPES:
    a = sample((2, 3), dt)
    if dt in INTS and dt.startswith("u"):
        a = np.minimum(a, 200).astype(dt)  # leave room below the top of uint8 for small scalars
    for v in [2, 1.5, True, 0, -3]:
        if dt.startswith("u") and isinstance(v, int) and not isinstance(v, bool) and v < 0:
            continue
        r = weak_dtype(dt, v)
        fn = np.logical_or if r == "bool" else np.add
        out = enc(compute(fn, [a, np.full((), v)], r), r)
        cases.append({"op": "add", "name": f"add {dt} + weak {v!r}", "args": [enc(a, dt), weak(v)], "out": out})
        cases.append({"op": "add", "name": f"add weak {v!r} + {dt}", "args": [weak(v), enc(a, dt)], "out": out})
    for op, fn in [("multiply", np.multiply), ("maximum", np.maximum)]:
        r = weak_dtype(dt, 2.5)
        cases.append({"op": op, "name": f"{op} {dt} & weak 2.5", "args": [enc(a, dt), weak(2.5)], "out": enc(compute(fn, [a, np.full((), 2.5)], r), r)})
    r = "float32" if dt not in FLOATS else dt
    cases.append({"op": "divide", "name": f"divide {dt} / weak 2", "args": [enc(a, dt), weak(2)], "out": enc(compute(np.divide, [a, np.full((), 2)], r), r)})
    if dt in FLOATS:  # a large weak float rounds into the dtype (float16: to Inf)
        cases.append({"op": "add", "name": f"add {dt} + weak 1e5", "args": [enc(a, dt), weak(1e5)], "out": enc(compute(np.add, [a, np.full((), 1e5)], dt), dt)})

# integer wrapping in the array dtype, and values at the limits that still fit
i8 = np.array([100, -100, 127, -128], np.int8)
cases.append({"op": "add", "name": "add int8 + weak 100 wraps", "args": [enc(i8), weak(100)], "out": enc((i8 + np.int8(100)).astype(np.int8))})
cases.append({"op": "add", "name": "add int8 + weak -128", "args": [enc(i8), weak(-128)], "out": enc((i8 + np.int8(-128)).astype(np.int8))})
u8 = np.array([0, 1, 200], np.uint8)
cases.append({"op": "add", "name": "add uint8 + weak 255", "args": [enc(u8), weak(255)], "out": enc((u8 + np.uint8(255)).astype(np.uint8))})
i64 = np.array([1, -5, 2**40], np.int64)
cases.append({"op": "add", "name": "add int64 + weak 2**53", "args": [enc(i64), weak(2**53)], "out": enc(i64 + np.int64(2**53))})

# neither argument an array: default dtypes, promoted as arrays
for x, y, dt, ref in [(2, 3, "int32", 5), (2, 1.5, "float32", 3.5), (True, 1, "int32", 2), (True, False, "bool", True), (1.5, True, "float32", 2.5)]:
    cases.append({"op": "add", "name": f"add weak {x!r} + weak {y!r}", "args": [weak(x), weak(y)], "out": enc(cast(np.array(ref), dt), dt)})

# integers that do not fit the array's dtype
for dt, v in [("uint8", 300), ("uint8", -1), ("int8", 128), ("int8", -129), ("int16", 40000), ("uint16", 65536),
              ("uint32", -1), ("int32", 2**31), ("uint64", -1), ("int64", 10**19)]:
    cases.append({"op": "add", "name": f"add {dt} + weak {v} overflows", "args": [enc(np.zeros(2, dt), dt), weak(v)],
                  "error": f"[add] the scalar {v} does not fit in {dt}"})
cases.append({"op": "subtract", "name": "subtract weak 300 - uint8", "args": [weak(300), enc(np.zeros(2, np.uint8))], "error": "[subtract] the scalar 300 does not fit in uint8"})
cases.append({"op": "where", "name": "where uint8 | weak 256", "args": [enc(np.ones(2, bool)), enc(np.zeros(2, np.uint8)), weak(256)], "error": "[where] the scalar 256 does not fit in uint8"})

write("promotion", cases)

"""Creation from values and fills vs NumPy: array, zeros, ones, full, zerosLike, onesLike,
fullLike; and view (bit reinterpretation) between every pair of dtypes.

MLX's dtype defaults differ from NumPy's (JS integers give int32, fractions float32), so
expected dtypes are spelled out. bfloat16 has no NumPy dtype: its bits are handled as
uint16 and widened into float32 (a bfloat16 is the top half of a float32)."""
import numpy as np
from common import ALL_DTYPES, FLOATS, INTS, cast, enc, rand, val, weak, write

rng = np.random.default_rng(23)
cases = []


def add(op, args, out, **kw):
    c = {"op": op, "args": args, "out": out}
    c.update(kw)
    cases.append(c)


def err(op, args, msg):
    cases.append({"op": op, "args": args, "error": msg})


def as_dtype(x, name):
    """x (float64 values) converted as lathe casts: nonzero is true, fractions truncate into
    integers, floats round to nearest even."""
    x = np.asarray(x, dtype=np.float64)
    return (x != 0) if name == "bool" else cast(x, name) if name in FLOATS else np.trunc(x).astype(name)


# ---------------------------------------------------------------- array from nested lists
# Default dtypes (MLX): all booleans -> bool, all integers -> int32 (booleans count as
# integers beside them), anything fractional -> float32, nothing -> float32.
for values, dt in [([[1, 2], [3, 4]], "int32"), ([1.5, 2], "float32"), ([True, False], "bool"), ([[1, 2.5]], "float32"),
                   ([True, 2], "int32"), ([], "float32"), ([[]], "float32"), ([[[1], [2]], [[3], [4]]], "int32"),
                   (3, "int32"), (2.5, "float32"), (True, "bool"), ([[0.1, -7.25, 1e-3]], "float32")]:
    add("array", [val(values)], enc(np.array(values, dtype=np.float64 if dt != "bool" else bool).astype(dt), dt))

# Explicit dtypes: floats round to nearest even, fractions truncate into integers (a C
# cast), any nonzero is true.
LISTS = {
    "bool": [[0, 1, 2], [-1, 0.5, 0]],
    "uint8": [[0, 1, 255], [7, 128, 3]], "uint16": [[0, 65535, 300], [1, 2, 3]], "uint32": [[0, 4294967295, 70000], [5, 6, 7]],
    "uint64": [[0, 2 ** 53, 12345], [1, 2, 3]], "int8": [[-128, 127, 0], [-1, 5, 9]], "int16": [[-32768, 32767, -5], [1, 2, 3]],
    "int32": [[-2 ** 31, 2 ** 31 - 1, 0], [1.7, -1.7, 2.5]], "int64": [[-2 ** 53, 2 ** 53, -7], [4, 5, 6]],
    "float16": [[0.1, -2.5, 65504], [1e-7, 3.14159, -0.0]], "bfloat16": [[0.1, -2.5, 1e38], [1e-3, 3.14159, 255]],
    "float32": [[0.1, -2.5, 3.4e38], [1e-40, 3.14159, -0.0]], "float64": [[0.1, -2.5, 1e300], [5e-324, 3.14159, -0.0]],
}
for dt, values in LISTS.items():
    exp = as_dtype(values, dt)
    add("array", [val(values), val(dt)], enc(exp, dt))
    add("array", [val(values[0][1]), val(dt)], enc(exp[0, 1], dt), name=f"array 0-d {dt}")
# From another array: a cast (NaN and Inf kept through floats).
for src, dst in [("float32", "float16"), ("int32", "float32"), ("float64", "bfloat16"), ("uint8", "bool"), ("float16", "int16")]:
    x = rand((2, 3), src, rng)
    if src in FLOATS:
        x.reshape(-1)[:2] = [np.nan, np.inf]
        if dst not in FLOATS:
            x.reshape(-1)[:2] = [1.5, -2.5]
    add("array", [enc(x, src), val(dst)], enc(as_dtype(x, dst), dst))
err("array", [val([[1, 2], [3]])], "ragged")
err("array", [val([1, 2]), val("float8")], "unknown dtype 'float8'")

# ---------------------------------------------------------------- zeros, ones
SHAPES = [[], [0], [2, 3], 4, [2, 0, 3], [1, 1, 5]]
for i, shape in enumerate(SHAPES):
    for dt in ALL_DTYPES if i == 2 else ["float32", ALL_DTYPES[(i * 5) % len(ALL_DTYPES)]]:
        add("zeros", [val(shape), val(dt)], enc(as_dtype(np.zeros(shape), dt), dt))
        add("ones", [val(shape), val(dt)], enc(as_dtype(np.ones(shape), dt), dt))
add("zeros", [val([2, 2])], enc(np.zeros((2, 2), np.float32)), name="zeros default float32")
add("ones", [val(3)], enc(np.ones(3, np.float32)), name="ones default float32")
for op in ("zeros", "ones"):
    err(op, [val([2, -1])], f"[{op}] invalid shape (2,-1)")
    err(op, [val([2.5])], "invalid shape")
    err(op, [val([2]), val("float8")], f"[{op}] unknown dtype 'float8'")

# ---------------------------------------------------------------- full
# Weak scalars: int -> int32, fraction -> float32, bool -> bool, unless a dtype is given.
for shape, v, dt, exp_dt in [([2, 3], 7, None, "int32"), ([2, 3], 2.5, None, "float32"), ([3], True, None, "bool"), ([], -4, None, "int32"),
                             ([0, 2], 1.5, None, "float32"), ([2, 2], 1.7, "int32", "int32"), ([2], -1.7, "int8", "int8"),
                             ([3], 0.1, "float16", "float16"), ([3], 0.1, "bfloat16", "bfloat16"), ([2], 0.1, "float64", "float64"),
                             ([2], 3, "bool", "bool"), ([2], 0, "bool", "bool"), ([2, 1], 2 ** 40, "int64", "int64"),
                             ([2], 65535, "uint16", "uint16"), ([4], 1e30, "float16", "float16"), (5, False, "float32", "float32")]:
    args = [val(shape), weak(v)] + ([val(dt)] if dt else [])
    add("full", args, enc(as_dtype(np.full(shape, v, dtype=np.float64), exp_dt), exp_dt))
# Array fills broadcast; their dtype is kept unless one is given (then a cast).
for shape, vshape, vdt, dt in [([2, 3], (3,), "float32", None), ([2, 3], (2, 1), "int64", None), ([4, 2, 3], (1, 3), "bfloat16", None),
                               ([2, 3], (), "uint8", None), ([2, 3], (3,), "float32", "int32"), ([3, 2], (2,), "float64", "float16"),
                               ([2, 0], (1,), "int16", None), ([2, 2], (2, 2), "bool", "float32"), ([3], (3,), "float16", "bfloat16")]:
    v = rand(vshape, vdt, rng)
    if vdt in FLOATS and v.size >= 2 and dt not in INTS:
        v.reshape(-1)[:2] = [np.nan, -np.inf]
    out_dt = dt or vdt
    exp = np.broadcast_to(v, shape)
    exp = exp if out_dt == vdt else as_dtype(exp, out_dt)
    add("full", [val(shape), enc(v, vdt)] + ([val(dt)] if dt else []), enc(exp, out_dt))
err("full", [val([2, 3]), enc(rand((2,), "float32", rng))], "[full] cannot broadcast the fill value of shape (2,) to shape (2,3)")
err("full", [val([3]), enc(rand((2, 3), "float32", rng))], "cannot broadcast")
err("full", [val([-2]), weak(1)], "[full] invalid shape (-2,)")
err("full", [val([2]), weak(1), val("int128")], "[full] unknown dtype 'int128'")

# ---------------------------------------------------------------- zerosLike, onesLike, fullLike
for shape, dt in [((2, 3), "float32"), ((), "int64"), ((0, 4), "float16"), ((3,), "bool"), ((2, 1, 2), "bfloat16"),
                  ((5,), "uint32"), ((2, 2), "int8"), ((1,), "float64")]:
    x = rand(shape, dt, rng)
    for op, fill in (("zerosLike", 0), ("onesLike", 1)):
        add(op, [enc(x, dt)], enc(as_dtype(np.full(shape, fill), dt), dt))
    # fullLike keeps x's dtype: a weak 2.7 truncates into integers and is true as a bool.
    add("fullLike", [enc(x, dt), weak(2.7)], enc(as_dtype(np.full(shape, 2.7), dt), dt))
    add("fullLike", [enc(x, dt), weak(3), val("float32")], enc(np.full(shape, 3, np.float32)), name="fullLike with dtype")
x = rand((2, 3), "float32", rng)
v = rand((3,), "int16", rng)
add("fullLike", [enc(x), enc(v, "int16")], enc(np.broadcast_to(v, (2, 3)).astype(np.float32)), name="fullLike array fill takes x's dtype")
add("fullLike", [enc(x), enc(v, "int16"), val("int16")], enc(np.broadcast_to(v, (2, 3)), "int16"))
err("fullLike", [enc(x), enc(rand((2,), "float32", rng))], "[fullLike] cannot broadcast the fill value of shape (2,) to shape (2,3)")
err("fullLike", [enc(x), weak(1), val("float128")], "[fullLike] unknown dtype 'float128'")

# ---------------------------------------------------------------- view
NP_BITS = {1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64}
SIZE = {d: (2 if d == "bfloat16" else 1 if d == "bool" else np.dtype(d).itemsize) for d in ALL_DTYPES}


def from_bytes(raw, name):
    """(values to encode, as NumPy holds them) of raw bytes read as `name`."""
    if name == "bfloat16":
        return (raw.view(np.uint16).astype(np.uint32) << 16).view(np.float32)
    if name == "bool":
        return raw.view(np.uint8) != 0
    return raw.view(np.dtype(name))


def source_bytes(name, nbytes):
    """Random bytes that are a valid array of `name`: bools 0/1, floats without NaN (the JSON
    encoding keeps no NaN payload)."""
    if name == "bool":
        return (rng.random(nbytes) < 0.5).astype(np.uint8)
    raw = rng.integers(0, 256, nbytes, dtype=np.uint8)
    if name in FLOATS:
        vals = from_bytes(raw, name)
        if name == "bfloat16":
            bits = raw.view(np.uint16)
            bits[np.isnan(vals)] = 0x3FC0  # 1.5
        else:
            raw.view(np.dtype(name))[np.isnan(vals)] = 1.5
    return raw


def view_case(src, dst, shape):
    n = int(np.prod(shape, dtype=np.int64)) * SIZE[src]
    raw = source_bytes(src, n)
    x = from_bytes(raw, src).reshape(shape)
    out_shape = list(shape[:-1]) + [shape[-1] * SIZE[src] // SIZE[dst]] if shape else []
    y = from_bytes(raw, dst).reshape(out_shape)
    add("view", [enc(x, src), val(dst)], enc(y, dst))


for src in ALL_DTYPES:
    for k, dst in enumerate(ALL_DTYPES):
        last = 8 // SIZE[src] * (1 + (k % 3))  # whole multiples of 8 bytes per row
        view_case(src, dst, [[2, last], [last], [3, 1, last]][k % 3])
        if SIZE[src] == SIZE[dst]:
            view_case(src, dst, [])
for src, dst, shape in [("float32", "uint8", (0, 2)), ("uint8", "float64", (2, 0)), ("int32", "float16", (2, 2, 3)), ("uint8", "int16", (5, 2))]:
    view_case(src, dst, list(shape))
err("view", [enc(rand((), "float32", rng)), val("int64")], "[view] cannot view a float32 array of shape () as int64")
err("view", [enc(rand((2, 3), "int16", rng), "int16"), val("float32")], "the last axis holds 6 bytes, which is not a multiple of the 4-byte itemsize")
err("view", [enc(rand((3,), "uint8", rng), "uint8"), val("bfloat16")], "[view] cannot view a uint8 array of shape (3,) as bfloat16")
err("view", [enc(rand((2,), "float32", rng)), val("float8")], "[view] unknown dtype 'float8'")

write("misc", cases)

"""Shape ops vs NumPy: reshape, flatten, unflatten, squeeze, expandDims, transpose,
moveaxis, swapaxes, broadcastTo, broadcastArrays, concatenate, stack, split, tile, repeat,
pad, roll, atleast1d/2d/3d, diagonal, diag, trace."""
import numpy as np
from common import enc, val, rand, cast, write, promote

rng = np.random.default_rng(7)
cases = []
DTS = ["float32", "int32", "bool", "int64", "float16", "bfloat16", "uint8", "float64"]


def lst(xs):
    """A JS array of arguments (concatenate's and stack's arrays)."""
    return {"list": xs}


def data(shape, dt, special=True):
    """Random values of dtype dt; floats get a NaN and an Inf when there is room."""
    x = rand(shape, dt, rng)
    if special and dt in ("float32", "float16", "bfloat16", "float64") and x.size >= 3:
        flat = x.reshape(-1)
        flat[0], flat[-1] = np.nan, -np.inf
    return x


def add(op, args, out, **kw):
    c = {"op": op, "args": args, "out": out}
    c.update(kw)
    cases.append(c)


def err(op, args, msg):
    cases.append({"op": op, "args": args, "error": msg})


def each_dtype(i):
    return DTS[i % len(DTS)]


# ---------------------------------------------------------------- reshape, flatten, unflatten
for i, (shape, new, exp) in enumerate([
    ((2, 3, 4), [4, -1], (4, 6)),
    ((6,), [2, 3], (2, 3)),
    ((), [1, 1], (1, 1)),
    ((0, 3), [3, 0], (3, 0)),
    ((0, 3), [-1, 3], (0, 3)),
    ((1,), [], ()),
    ((2, 2, 2), [-1], (8,)),
    ((3, 4), [2, 1, 6], (2, 1, 6)),
]):
    dt = each_dtype(i)
    x = data(shape, dt)
    add("reshape", [enc(x, dt), val(new)], enc(x.reshape(exp), dt))
err("reshape", [enc(data((2, 3), "float32")), val([4, 2])], "cannot reshape array of size 6")
err("reshape", [enc(data((2, 3), "float32")), val([-1, -1])], "invalid shape")
err("reshape", [enc(data((2, 3), "float32")), val([4, -1])], "cannot reshape")

for i, (shape, args) in enumerate([((2, 3, 4), []), ((2, 3, 4), [1, 2]), ((2, 3, 4), [-2, -1]), ((2, 3, 4), [0, 1]),
                                   ((), []), ((0, 3), []), ((5,), [0, 0])]):
    dt = each_dtype(i + 1)
    x = data(shape, dt)
    if not shape:
        exp = x.reshape(1)
    else:
        s = args[0] % x.ndim if args else 0
        e = (args[1] % x.ndim if len(args) > 1 else x.ndim - 1)
        exp = x.reshape(shape[:s] + (int(np.prod(shape[s:e + 1])),) + shape[e + 1:])
    add("flatten", [enc(x, dt)] + [val(a) for a in args], enc(exp, dt))
err("flatten", [enc(data((2, 3, 4), "int32")), val(2), val(1)], "comes after")
err("flatten", [enc(data((2, 3), "int32")), val(3)], "out of bounds")

for i, (shape, axis, new, exp) in enumerate([
    ((6, 4), 0, [2, 3], (2, 3, 4)),
    ((6, 4), -1, [2, -1], (6, 2, 2)),
    ((2, 12), 1, [2, 3, 2], (2, 2, 3, 2)),
    ((0, 4), 0, [0, 5], (0, 5, 4)),
]):
    dt = each_dtype(i + 2)
    x = data(shape, dt)
    add("unflatten", [enc(x, dt), val(axis), val(new)], enc(x.reshape(exp), dt))
err("unflatten", [enc(data((6, 4), "float32")), val(0), val([4, 4])], "cannot unflatten axis 0 of size 6")
err("unflatten", [enc(data((6, 4), "float32")), val(0), val([])], "must not be empty")
err("unflatten", [enc(data((6, 4), "float32")), val(2), val([2, 3])], "out of bounds")

# ---------------------------------------------------------------- squeeze, expandDims, atleast
for i, (shape, axis) in enumerate([((1, 3, 1), None), ((1, 3, 1), 0), ((1, 3, 1), [-1, 0]), ((), None), ((1, 0, 1), -1)]):
    dt = each_dtype(i + 3)
    x = data(shape, dt)
    exp = np.squeeze(x) if axis is None else np.squeeze(x, tuple(axis) if isinstance(axis, list) else axis)
    add("squeeze", [enc(x, dt)] + ([] if axis is None else [val(axis)]), enc(exp, dt))
err("squeeze", [enc(data((1, 3), "float32")), val(1)], "cannot squeeze axis 1 of size 3")
err("squeeze", [enc(data((1, 3), "float32")), val(2)], "out of bounds")

for i, (shape, axis) in enumerate([((2, 3), 0), ((2, 3), -1), ((2, 3), [0, 2]), ((), 0), ((0, 2), [-1, 1]), ((4,), [0, 1, 2])]):
    dt = each_dtype(i + 4)
    x = data(shape, dt)
    exp = np.expand_dims(x, tuple(axis) if isinstance(axis, list) else axis)
    add("expandDims", [enc(x, dt), val(axis)], enc(exp, dt))
err("expandDims", [enc(data((2, 3), "float32")), val(3)], "out of bounds")
err("expandDims", [enc(data((2, 3), "float32")), val([0, 0])], "repeated axis")

for name, fn in [("atleast1d", np.atleast_1d), ("atleast2d", np.atleast_2d), ("atleast3d", np.atleast_3d)]:
    for i, shape in enumerate([(), (3,), (2, 3), (2, 1, 3), (0,)]):
        dt = each_dtype(i)
        x = data(shape, dt)
        add(name, [enc(x, dt)], enc(fn(x), dt))

# ---------------------------------------------------------------- transpose, moveaxis, swapaxes
for i, (shape, axes) in enumerate([((2, 3, 4), None), ((2, 3, 4), [1, 0, 2]), ((2, 3, 4), [-1, 0, 1]), ((), None),
                                   ((0, 2), None), ((3,), [0]), ((2, 1, 3, 2), [3, 1, 0, 2])]):
    dt = each_dtype(i)
    x = data(shape, dt)
    add("transpose", [enc(x, dt)] + ([] if axes is None else [val(axes)]), enc(np.transpose(x, axes), dt))
err("transpose", [enc(data((2, 3, 4), "float32")), val([0, 0, 1])], "not a permutation")
err("transpose", [enc(data((2, 3, 4), "float32")), val([0, 1])], "not a permutation")
err("transpose", [enc(data((2, 3), "float32")), val([0, 2])], "out of bounds")

for i, (shape, s, d) in enumerate([((2, 3, 4), 0, -1), ((2, 3, 4), -1, 0), ((2, 3, 4), 1, 1), ((0, 3), 0, 1)]):
    dt = each_dtype(i + 5)
    x = data(shape, dt)
    add("moveaxis", [enc(x, dt), val(s), val(d)], enc(np.moveaxis(x, s, d), dt))
    add("swapaxes", [enc(x, dt), val(s), val(d)], enc(np.swapaxes(x, s, d), dt))
err("moveaxis", [enc(data((2, 3), "float32")), val(0), val(2)], "out of bounds")
err("swapaxes", [enc(data((2, 3), "float32")), val(-3), val(0)], "out of bounds")

# ---------------------------------------------------------------- broadcasting
for i, (shape, to) in enumerate([((3,), (2, 3)), ((1, 3), (4, 2, 3)), ((), (2, 2)), ((0, 1), (0, 3)), ((2, 1), (2, 0)), ((2, 3), (2, 3))]):
    dt = each_dtype(i + 6)
    x = data(shape, dt)
    add("broadcastTo", [enc(x, dt), val(list(to))], enc(np.broadcast_to(x, to), dt))
err("broadcastTo", [enc(data((3,), "float32")), val([4])], "cannot be broadcast")
err("broadcastTo", [enc(data((2, 3), "float32")), val([3])], "cannot broadcast shape (2,3) to (3,)")

for i, shapes in enumerate([[(3,), (2, 1)], [(), (2, 3), (3,)], [(0, 1), (1, 4)], [(2, 2)]]):
    dts = [each_dtype(i + k) for k in range(len(shapes))]
    xs = [data(s, d) for s, d in zip(shapes, dts)]
    outs = np.broadcast_arrays(*xs)
    add("broadcastArrays", [lst([enc(x, d) for x, d in zip(xs, dts)])], [enc(o, d) for o, d in zip(outs, dts)])
err("broadcastArrays", [lst([enc(data((3,), "float32")), enc(data((4,), "float32"))])], "cannot be broadcast")

# ---------------------------------------------------------------- concatenate, stack
for i, (shapes, axis) in enumerate([
    ([(2, 3), (4, 3)], 0),
    ([(2, 3), (2, 1), (2, 2)], 1),
    ([(2, 3, 1), (2, 3, 2)], -1),
    ([(0, 3), (2, 3)], 0),
    ([(2, 0), (2, 0)], 1),
    ([(5,), (1,)], 0),
    ([(2, 2), (3,)], None),
    ([(3, 2)], 0),
]):
    dt = each_dtype(i)
    xs = [data(s, dt) for s in shapes]
    exp = np.concatenate([x.reshape(-1) for x in xs]) if axis is None else np.concatenate(xs, axis)
    add("concatenate", [lst([enc(x, dt) for x in xs]), val(axis)], enc(exp, dt))
# dtype promotion follows MLX's table
for dts in [("int32", "float16"), ("uint8", "int8"), ("bool", "int64"), ("bfloat16", "float16"), ("bool", "bool", "uint8"), ("int64", "bfloat16")]:
    xs = [data((2, k + 1), d, special=False) for k, d in enumerate(dts)]
    out_dt = dts[0]
    for d in dts[1:]:
        out_dt = promote(out_dt, d)
    exp = np.concatenate([cast(x, out_dt) for x in xs], 1)
    add("concatenate", [lst([enc(x, d) for x, d in zip(xs, dts)]), val(1)], enc(exp, out_dt), name=f"concatenate {'+'.join(dts)}")
err("concatenate", [lst([enc(data((2, 3), "float32")), enc(data((4, 5), "float32"))]), val(0)], "must match except along the concatenation axis")
err("concatenate", [lst([enc(data((2, 3), "float32")), enc(data((3,), "float32"))]), val(0)], "must match")
err("concatenate", [lst([enc(data((), "float32")), enc(data((), "float32"))])], "zero-dimensional")
err("concatenate", [lst([enc(data((2, 3), "float32")), enc(data((2, 3), "float32"))]), val(2)], "axis 2 is out of bounds")
err("concatenate", [lst([])], "no arrays")

for i, (shape, n, axis) in enumerate([((2, 3), 3, 0), ((2, 3), 2, -1), ((2, 3), 2, 1), ((), 3, 0), ((0, 2), 2, 1), ((4,), 1, -2)]):
    dt = each_dtype(i + 2)
    xs = [data(shape, dt) for _ in range(n)]
    add("stack", [lst([enc(x, dt) for x in xs]), val(axis)], enc(np.stack(xs, axis), dt))
add("stack", [lst([enc(np.array([1, 2], np.int8)), enc(np.array([0.5, 1.5], np.float32))])], enc(np.array([[1, 2], [0.5, 1.5]], np.float32)))
err("stack", [lst([enc(data((2, 3), "float32")), enc(data((3, 2), "float32"))])], "must have the same shape")
err("stack", [lst([enc(data((2, 3), "float32"))]), val(3)], "out of bounds")

# ---------------------------------------------------------------- split
for i, (shape, ios, axis) in enumerate([
    ((6, 2), 3, 0),
    ((2, 6), [1, 3], 1),
    ((5, 2), [-2], 0),
    ((6,), [3, 1], 0),
    ((4, 3), [2, 10], 0),
    ((0, 3), 2, 0),
    ((2, 4, 3), 2, -2),
    ((3,), 1, 0),
    ((4,), [], 0),
]):
    dt = each_dtype(i)
    x = data(shape, dt)
    outs = np.split(x, ios if isinstance(ios, int) else list(ios), axis)
    add("split", [enc(x, dt), val(ios), val(axis)], [enc(o, dt) for o in outs])
err("split", [enc(data((6, 2), "float32")), val(4), val(0)], "cannot be split into 4 equal sections")
err("split", [enc(data((6, 2), "float32")), val(0), val(0)], "positive integer")
err("split", [enc(data((6, 2), "float32")), val(2), val(2)], "out of bounds")
err("split", [enc(data((), "float32")), val(1)], "out of bounds")

# ---------------------------------------------------------------- tile, repeat
for i, (shape, reps) in enumerate([((2, 3), 2), ((2, 3), [2, 1]), ((2, 3), [2, 1, 3]), ((), [3]), ((3,), [2, 2]),
                                   ((0, 2), [3, 2]), ((2, 2), [0, 1]), ((2, 1, 3), [2])]):
    dt = each_dtype(i + 3)
    x = data(shape, dt)
    add("tile", [enc(x, dt), val(reps)], enc(np.tile(x, reps), dt))
err("tile", [enc(data((2, 3), "float32")), val([-1])], "non-negative")

for i, (shape, r, axis) in enumerate([((2, 3), 2, None), ((2, 3), 3, 1), ((2, 3), 2, -2), ((2, 3), 0, 0), ((), 3, None), ((0, 2), 2, 1)]):
    dt = each_dtype(i + 4)
    x = data(shape, dt)
    add("repeat", [enc(x, dt), val(r)] + ([] if axis is None else [val(axis)]), enc(np.repeat(x, r, axis), dt))
err("repeat", [enc(data((2, 3), "float32")), val(-1)], "non-negative")
err("repeat", [enc(data((2, 3), "float32")), val(2), val(2)], "out of bounds")

# ---------------------------------------------------------------- pad
for i, (shape, pw, npw) in enumerate([
    ((2, 3), 1, 1),
    ((2, 3), [1, 2], (1, 2)),
    ((2, 3), [[1, 0], [0, 2]], ((1, 0), (0, 2))),
    ((2, 3, 2), [[1, 2]], ((1, 2),)),
    ((4,), [3], 3),
    ((0, 2), [[1, 1], [0, 1]], ((1, 1), (0, 1))),
    ((), 2, 2),
    ((2, 2), 0, 0),
]):
    dt = each_dtype(i)
    x = data(shape, dt)
    add("pad", [enc(x, dt), val(pw)], enc(np.pad(x, npw), dt))
for dt, v in [("int32", 5), ("uint8", 7), ("float16", -2.5), ("bfloat16", 1.5), ("int64", -3), ("bool", True), ("float32", 1.75)]:
    x = data((2, 3), dt)
    exp = np.pad(x, ((1, 0), (2, 1)), constant_values=cast(np.array(v), dt))
    add("pad", [enc(x, dt), val([[1, 0], [2, 1]]), val("constant"), {"weak": v}], enc(exp, dt))
x = data((2, 2), "float32")
add("pad", [enc(x), val(1), val("constant"), enc(np.array(np.nan, np.float32))], enc(np.pad(x, 1, constant_values=np.nan)), name="pad with a NaN array")
add("pad", [enc(x), val(1), val("constant"), enc(np.array(2.5, np.float64))], enc(np.pad(x, 1, constant_values=2.5)), name="pad value cast to the array's dtype")
for i, (shape, npw) in enumerate([((2, 3), ((1, 2), (2, 1))), ((3,), ((2, 3),)), ((2, 3, 2), ((1, 0), (0, 2), (1, 1))), ((1, 1), ((2, 2), (3, 0))), ((0, 3), ((0, 0), (1, 1)))]):
    dt = each_dtype(i + 2)
    x = data(shape, dt)
    add("pad", [enc(x, dt), val([list(p) for p in npw]), val("edge")], enc(np.pad(x, npw, mode="edge"), dt))
err("pad", [enc(data((2, 3), "float32")), val(-1)], "non-negative")
err("pad", [enc(data((2, 3), "float32")), val(1), val("reflect")], "mode must be 'constant' or 'edge'")
err("pad", [enc(data((0, 3), "float32")), val(1), val("edge")], "cannot edge-pad axis 0 of size 0")
err("pad", [enc(data((2, 3), "float32")), val([[1, 1], [1, 1], [1, 1]])], "[before, after] pairs")
err("pad", [enc(data((2, 3), "float32")), val([1, 2, 3])], "padWidth")
err("pad", [enc(data((2, 3), "float32")), val(1), val("constant"), enc(np.array([1.0, 2.0], np.float32))], "single value")

# ---------------------------------------------------------------- roll
for i, (shape, shift, axis) in enumerate([((5,), 2, None), ((3, 4), -1, None), ((3, 4), 5, 1), ((3, 4), [1, 2], [0, 1]),
                                          ((3, 4), [1, 2], 0), ((0, 3), 1, 0), ((), 1, None), ((2, 3, 4), -7, -1), ((3, 4), 1, [0, 1])]):
    dt = each_dtype(i + 5)
    x = data(shape, dt)
    add("roll", [enc(x, dt), val(shift)] + ([] if axis is None else [val(axis)]), enc(np.roll(x, shift, axis), dt))
err("roll", [enc(data((2, 3), "float32")), val(1), val(2)], "out of bounds")
err("roll", [enc(data((2, 3), "float32")), val([1, 2, 3]), val([0, 1])], "same length")

# ---------------------------------------------------------------- diagonal, diag, trace
for i, (shape, off, a1, a2) in enumerate([
    ((3, 4), 0, 0, 1), ((3, 4), 1, 0, 1), ((3, 4), -1, 0, 1), ((3, 4), 5, 0, 1), ((3, 4), -3, 0, 1),
    ((2, 3, 4), 0, 1, 2), ((2, 3, 4), 1, -1, 0), ((2, 3, 4), -1, 2, 0), ((4, 4), 0, 1, 0), ((0, 2), 0, 0, 1),
    ((2, 3, 4, 2), 1, 1, 3),
]):
    dt = each_dtype(i)
    x = data(shape, dt)
    add("diagonal", [enc(x, dt), val(off), val(a1), val(a2)], enc(np.diagonal(x, off, a1, a2), dt))
err("diagonal", [enc(data((3, 4), "float32")), val(0), val(1), val(-1)], "must be different axes")
err("diagonal", [enc(data((3,), "float32"))], "at least 2 dimensions")
err("diagonal", [enc(data((3, 4), "float32")), val(0), val(0), val(2)], "out of bounds")

for i, (shape, k) in enumerate([((3,), 0), ((3,), 2), ((3,), -1), ((0,), 1), ((3, 4), 1), ((4, 3), -2), ((1,), 0)]):
    dt = each_dtype(i + 1)
    x = data(shape, dt)
    add("diag", [enc(x, dt), val(k)], enc(np.diag(x, k), dt))
err("diag", [enc(data((2, 2, 2), "float32"))], "1-D or 2-D")

for i, (shape, off, a1, a2, dt) in enumerate([
    ((3, 4), 0, 0, 1, "float32"), ((3, 4), 1, 0, 1, "int32"), ((2, 3, 4), 0, 1, 2, "float64"), ((2, 3, 4), -1, -1, 0, "int64"),
    ((4, 4), 0, 0, 1, "int8"), ((3, 3), 0, 0, 1, "float16"), ((3, 3), 5, 0, 1, "float32"),
]):
    x = data(shape, dt, special=False)
    exp = np.trace(cast(x, "float64") if dt in ("float16", "bfloat16") else x, off, a1, a2)
    add("trace", [enc(x, dt), val(off), val(a1), val(a2)], enc(cast(exp, dt), dt))
x = data((3, 3), "int32", special=False)
add("trace", [enc(x), val(0), val(0), val(1), val("float32")], enc(np.float32(np.trace(x))), name="trace with a dtype")
x = data((3, 3), "bfloat16", special=False)
add("trace", [enc(x, "bfloat16")], enc(cast(np.trace(x.astype(np.float64)), "bfloat16"), "bfloat16"))
err("trace", [enc(data((3,), "float32"))], "at least 2 dimensions")

write("shape", cases)

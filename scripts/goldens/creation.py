"""Creation ops vs NumPy: arange, linspace, eye, identity, tri, tril, triu, meshgrid."""
import numpy as np
from common import enc, val, rand, cast, write

rng = np.random.default_rng(11)
cases = []


def add(op, args, out, **kw):
    c = {"op": op, "args": args, "out": out}
    c.update(kw)
    cases.append(c)


def err(op, args, msg):
    cases.append({"op": op, "args": args, "error": msg})


def vals(*xs):
    return [val(x) for x in xs]


# ---------------------------------------------------------------- arange
# MLX's defaults: all-integer arguments give int32, any fraction gives float32.
for args in [(5,), (2, 10, 3), (10, 2, -2), (0,), (5, 2), (-3, 3), (3, None, None)]:
    a = [x for x in args if x is not None]
    add("arange", vals(*args), enc(np.arange(*a).astype(np.int32)))
for args in [(0, 1, 0.1), (1.5,), (-1, 1, 0.25), (2.5, -1, -0.5), (0, 5, 0.7)]:
    add("arange", vals(*args), enc(np.arange(*args, dtype=np.float64).astype(np.float32)))
for args, dt in [((0, 5, 1), "float16"), ((0, 3, 0.5), "bfloat16"), ((0, 1, 0.1), "float64"), ((-5, 5, 2), "int64"),
                 ((0, 5, 0.5), "int32"), ((0.5, 5, 1), "int32"), ((-3.5, 2, 1.5), "int64"), ((0, 10, 3), "uint8"),
                 ((1, 2, 0.125), "float16"), ((0, 100, 7), "int16")]:
    start, stop, step = args
    if dt in ("float16", "bfloat16", "float64"):
        exp = cast(np.arange(start, stop, step, dtype=np.float64), dt)
    else:
        exp = np.arange(start, stop, step, dtype=dt)
    add("arange", vals(start, stop, step, dt), enc(exp, dt))
err("arange", vals(0, 5, 0), "step must not be zero")
err("arange", vals(0, 5, 1, "bool"), "bool")
err("arange", vals(0, 5, 1, "float8"), "unknown dtype")

# ---------------------------------------------------------------- linspace
for args, dt in [((0, 1, 5), "float32"), ((-1, 1, 7), "float32"), ((2, 3, 1), "float32"), ((0, 10, 0), "float32"),
                 ((0, 1, 11), "float64"), ((-2, 6, 9), "float16"), ((1, 2, 4), "bfloat16"), ((0, 10, 5), "int32"),
                 ((5, -5, 6), "float32"), ((0.5, 2.5, 3), "float64")]:
    start, stop, num = args
    exp = cast(np.linspace(start, stop, num, dtype=np.float64), dt)
    add("linspace", vals(start, stop, num, dt), enc(exp, dt), atol=1e-6)
add("linspace", vals(0, 1), enc(np.linspace(0, 1).astype(np.float32)), name="linspace default num", atol=1e-6)
err("linspace", vals(0, 1, -1), "non-negative")

# ---------------------------------------------------------------- eye, identity, tri
for args, dt in [((3,), "float32"), ((3, 4, 1), "float32"), ((4, 3, -1), "int32"), ((3, 3, 5), "float32"), ((0,), "float32"),
                 ((2, 5, 2), "bool"), ((3, None, -2), "bfloat16"), ((1, 1), "int64"), ((4, 4, 0), "float16")]:
    n, m, k = args[0], args[1] if len(args) > 1 else None, args[2] if len(args) > 2 else 0
    add("eye", vals(n, m, k, dt), enc(cast(np.eye(n, m, k), dt), dt))
add("eye", vals(2), enc(np.eye(2, dtype=np.float32)), name="eye defaults")
err("eye", vals(-1), "non-negative")
err("eye", vals(2, 2, 0.5), "k must be a")

for n, dt in [(3, "float32"), (0, "int64"), (1, "bool"), (4, "uint8")]:
    add("identity", vals(n, dt), enc(cast(np.identity(n), dt), dt))

for args, dt in [((3,), "float32"), ((3, 4, 1), "int32"), ((4, 3, -1), "bool"), ((3, 5, -4), "float32"), ((2, 6, 10), "float16"), ((0, 3), "float32")]:
    n, m, k = args[0], args[1] if len(args) > 1 else None, args[2] if len(args) > 2 else 0
    add("tri", vals(n, m, k, dt), enc(cast(np.tri(n, m, k), dt), dt))
err("tri", vals(2, -3), "m must be a non-negative integer")

# ---------------------------------------------------------------- tril, triu
for i, (shape, k, dt) in enumerate([((4, 5), 0, "float32"), ((4, 5), 1, "float32"), ((5, 4), -2, "int32"), ((2, 3, 3), 0, "int64"),
                                    ((3, 3), 0, "bool"), ((3, 3), -5, "float16"), ((2, 4), 10, "bfloat16"), ((0, 3), 0, "float32"),
                                    ((2, 1, 3, 2), -1, "uint8")]):
    x = rand(shape, dt, rng)
    if dt in ("float32", "float16") and x.size > 2:
        x.reshape(-1)[1] = np.nan
    add("tril", [enc(x, dt), val(k)], enc(np.tril(x, k), dt))
    add("triu", [enc(x, dt), val(k)], enc(np.triu(x, k), dt))
err("tril", [enc(rand((3,), "float32", rng))], "at least 2 dimensions")
err("triu", [enc(rand((), "float32", rng))], "at least 2 dimensions")

# ---------------------------------------------------------------- meshgrid
for shapes, dts in [([(3,), (2,)], ["float32", "int32"]), ([(3,), (2,), (4,)], ["int64", "float16", "bool"]),
                    ([(0,), (2,)], ["float32", "float32"]), ([(2, 2), (3,)], ["bfloat16", "uint8"]), ([(4,)], ["float32"])]:
    xs = [rand(s, d, rng) for s, d in zip(shapes, dts)]
    enc_xs = {"list": [enc(x, d) for x, d in zip(xs, dts)]}
    for sparse in (False, True):
        for indexing in ("xy", "ij"):
            outs = np.meshgrid(*xs, sparse=sparse, indexing=indexing)
            add("meshgrid", [enc_xs, val(sparse), val(indexing)], [enc(o, d) for o, d in zip(outs, dts)])
err("meshgrid", [{"list": [enc(rand((3,), "float32", rng))]}, val(False), val("ab")], "indexing must be 'xy' or 'ij'")

write("creation", cases)

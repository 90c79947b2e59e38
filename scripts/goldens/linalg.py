"""Goldens for products (matmul, addmm, outer, inner, tensordot, einsum), norms and the
mx.linalg factorizations, from NumPy. Factorizations with non-unique outputs (qr, svd
vectors, eigh vectors) are checked by property in test/core/linalg.test.ts; here only
their invariants (singular values, eigenvalues) and unique results appear."""
import numpy as np
from common import enc, val, rand, cast, write, promote

rng = np.random.default_rng(7)
cases = []


def product(x, y, dt):
    """a @ b as lathe computes it in dtype dt: exact modular integers, floats from float64."""
    if dt == "bool":
        return (x.astype(np.int64) @ y.astype(np.int64)) != 0
    if dt in ("float16", "bfloat16", "float32", "float64"):
        return cast(x.astype(np.float64) @ y.astype(np.float64), dt)
    wide = np.uint64 if dt.startswith("u") else np.int64
    return (x.astype(wide) @ y.astype(wide)).astype(dt)


def add_matmul(sa, sb, da="float32", db=None, name=None):
    db = db or da
    a, b = rand(sa, da, rng), rand(sb, db, rng)
    dt = promote(da, db)
    out = product(cast(a, dt), cast(b, dt), dt)
    case = {"op": "matmul", "args": [enc(a, da), enc(b, db)], "out": enc(out, dt)}
    if dt in ("float16", "bfloat16"):
        case["rtol"], case["atol"] = (4e-3, 4e-3) if dt == "float16" else (2e-2, 2e-2)
    if name:
        case["name"] = name
    cases.append(case)


for sa, sb in [((2, 3), (3, 4)), ((3,), (3,)), ((3,), (3, 4)), ((2, 3), (3,)), ((5, 2, 3), (3, 4)), ((2, 3), (5, 3, 4)),
               ((2, 1, 3, 4), (5, 4, 2)), ((4, 1, 2, 3), (1, 5, 3, 2)), ((3,), (2, 3, 4)), ((2, 2, 3), (3,)),
               ((0, 3), (3, 4)), ((2, 0), (0, 4)), ((2, 3), (3, 0)), ((0, 2, 3), (3, 2)), ((1, 1), (1, 1)), ((17, 33), (33, 40))]:
    add_matmul(sa, sb)
for dt in ["float64", "float16", "bfloat16", "int32", "int8", "uint8", "int16", "uint16", "uint32", "int64", "uint64", "bool"]:
    add_matmul((2, 3, 4), (4, 5), dt)
add_matmul((6, 40), (40, 3), "int8", name="int8 matmul wraps")
for da, db in [("int32", "float32"), ("int8", "uint8"), ("float16", "bfloat16"), ("float16", "float32"), ("bool", "int32")]:
    add_matmul((3, 4), (4, 2), da, db)
special = np.array([[np.inf, 1.0, 0.0], [1.0, 2.0, 1.0], [np.nan, 0.0, 0.0]], np.float32)
other = np.array([[0.0, 1.0], [1.0, 2.0], [2.0, 3.0]], np.float32)
with np.errstate(invalid="ignore"):
    nan_out = (special.astype(np.float64) @ other).astype(np.float32)  # [[nan, inf], [4, 8], [nan, nan]]
cases.append({"op": "matmul", "args": [enc(special), enc(other)], "out": enc(nan_out), "name": "matmul NaN and Inf (0 * Inf is NaN)"})
f = lambda *s: enc(cast(rng.uniform(-1, 1, size=s), "float32"))
cases += [
    {"op": "matmul", "args": [f(2, 3), f(4, 5)], "error": "last dim of a (2,3) must equal second-to-last dim of b (4,5)"},
    {"op": "matmul", "args": [f(2, 3), f(4)], "error": "must equal the length of b (4,)"},
    {"op": "matmul", "args": [f(2, 3, 4), f(5, 4, 2)], "error": "cannot be broadcast"},
    {"op": "matmul", "args": [enc(np.float32(2)), f(3)], "error": "at least one dimension"},
]

# addmm
for sc, alpha, beta in [((2, 4), 1, 1), ((4,), 2.0, 0.5), ((1, 4), -1, 3), ((3, 2, 4), 0.5, 0)]:
    a, b, c = rand((2, 3), "float32", rng), rand((3, 4), "float32", rng), rand(sc, "float32", rng)
    out = (alpha * (a.astype(np.float64) @ b) + beta * c).astype(np.float32)
    cases.append({"op": "addmm", "args": [enc(c), enc(a), enc(b), val(alpha), val(beta)], "out": enc(out)})

# outer / inner / tensordot
a, b = rand((3,), "float32", rng), rand((4,), "float32", rng)
cases.append({"op": "outer", "args": [enc(a), enc(b)], "out": enc(np.outer(a, b))})
a2 = rand((2, 2), "int32", rng)
cases.append({"op": "outer", "args": [enc(a2), enc(b)], "out": enc(np.outer(a2.astype(np.float32), b))})
for sa, sb in [((3,), (3,)), ((2, 3), (4, 3)), ((2, 2, 3), (3,))]:
    a, b = rand(sa, "float32", rng), rand(sb, "float32", rng)
    cases.append({"op": "inner", "args": [enc(a), enc(b)], "out": enc(np.inner(a.astype(np.float64), b).astype(np.float32))})
a = rand((2, 3), "int32", rng)
cases.append({"op": "inner", "args": [enc(a), enc(a)], "out": enc(np.inner(a, a).astype(np.int32))})
cases.append({"op": "inner", "args": [f(2, 3), f(2)], "error": "last dims"})
for sa, sb, axes in [((2, 3, 4), (3, 4, 5), 2), ((2, 3), (3, 4), 1), ((2, 3), (4, 5), 0), ((3, 4, 5), (5, 4, 2), [[1, 2], [1, 0]]),
                     ((2, 3), (3, 2), [[0, 1], [1, 0]]), ((4, 3), (3,), [[-1], [0]])]:
    a, b = rand(sa, "float32", rng), rand(sb, "float32", rng)
    out = np.tensordot(a.astype(np.float64), b, axes=axes).astype(np.float32)
    cases.append({"op": "tensordot", "args": [enc(a), enc(b), val(axes)], "out": enc(out)})
cases.append({"op": "tensordot", "args": [f(2, 3), f(4, 5), val(1)], "error": "different sizes"})

# einsum
for spec, shapes in [("ij,jk->ik", [(2, 3), (3, 4)]), ("ij,jk", [(2, 3), (3, 4)]), ("ii", [(3, 3)]), ("ii->i", [(3, 3)]),
                     ("ij->ji", [(2, 3)]), ("ij->", [(2, 3)]), ("bij,bjk->bik", [(2, 3, 4), (2, 4, 5)]), ("i,i", [(4,), (4,)]),
                     ("i,j->ij", [(2,), (3,)]), ("ijk,jil->kl", [(3, 2, 4), (2, 3, 5)]), ("...ij,...jk->...ik", [(2, 1, 3, 4), (5, 4, 2)]),
                     ("ij,jk,kl->il", [(2, 3), (3, 4), (4, 2)]), ("iij->j", [(3, 3, 2)]), ("ba,cb", [(2, 3), (4, 2)]),
                     ("i...->...", [(3, 2, 2)]), ("ab,ab->a", [(3, 4), (3, 4)]), ("ij,kl->", [(2, 2), (3, 1)])]:
    ops = [rand(s, "float32", rng) for s in shapes]
    out = np.einsum(spec, *[o.astype(np.float64) for o in ops]).astype(np.float32)
    cases.append({"op": "einsum", "args": [val(spec)] + [enc(o) for o in ops], "out": enc(out), "name": f"einsum {spec}"})
ai = rand((3, 3), "int32", rng)
cases.append({"op": "einsum", "args": [val("ij,jk->ik"), enc(ai), enc(ai)], "out": enc(np.einsum("ij,jk->ik", ai, ai))})
cases += [
    {"op": "einsum", "args": [val("ij,jk->ik"), f(2, 3), f(4, 5)], "error": "label 'j' has sizes"},
    {"op": "einsum", "args": [val("ij->ik"), f(2, 3)], "error": "output label 'k'"},
    {"op": "einsum", "args": [val("ijk->i"), f(2, 3)], "error": "operand 0 has 2 dims"},
    {"op": "einsum", "args": [val("ij,jk->ik"), f(2, 3)], "error": "name 2 operands but 1 were given"},
]

# norms
def add_norm(x, dt, ord=None, axis=None, keepdims=False, name=None):
    xd = x.astype(np.float64)
    out = np.linalg.norm(xd, ord=ord, axis=tuple(axis) if isinstance(axis, list) else axis, keepdims=keepdims)
    odt = dt if dt in ("float16", "bfloat16", "float64") else "float32"
    case = {"op": "norm", "args": [enc(x, dt), val(ord), val(axis), val(keepdims)], "out": enc(cast(out, odt), odt)}
    if name:
        case["name"] = name
    cases.append(case)


v = rand((5,), "float32", rng)
m = rand((3, 4), "float32", rng)
t = rand((2, 3, 4), "float32", rng)
add_norm(v, "float32")
add_norm(m, "float32")
add_norm(t, "float32")
add_norm(t, "float32", None, None, True)
add_norm(t, "float32", None, -1)
add_norm(t, "float32", None, [0, 2], True)
for o in [1, 2, 3, 0.5, 0, -1]:
    add_norm(v, "float32", o)
    add_norm(t, "float32", o, 1)
for o in ["fro", "nuc", 1, -1, 2, -2]:
    add_norm(m, "float32", o)
    add_norm(t, "float32", o, [2, 0], False)
    add_norm(t, "float32", o, [0, 1], True)
add_norm(np.array([[0.0, 3.0], [4.0, 0.0]], np.float32), "float32", 0, 1, name="norm ord 0 counts nonzeros")
add_norm(rand((3, 4), "int32", rng), "int32", None, None)
add_norm(rand((3, 4), "int32", rng), "int32", 1, 0)
add_norm(rand((6,), "float16", rng), "float16")
add_norm(rand((6,), "float64", rng), "float64", 3)
add_norm(np.zeros((0, 3), np.float32), "float32", None, None, name="norm of empty")
cases += [
    {"op": "norm", "args": [f(2, 3, 4), val(2)], "error": "needs a 1-D or 2-D array"},
    {"op": "norm", "args": [f(3, 4), val("fro"), val(1)], "error": "needs 2 axes"},
    {"op": "norm", "args": [f(3, 4), val(3), val([0, 1])], "error": "invalid ord 3"},
    {"op": "norm", "args": [f(3, 4, 2), val(None), val([0, 1, 2])], "error": "expected 1 or 2 axes"},
]


# factorizations
def spd(n, batch=(), dt="float64"):
    x = rng.uniform(-1, 1, size=(*batch, n, n))
    return cast(x @ np.swapaxes(x, -1, -2) + n * np.eye(n), dt)


def well(shape, dt="float64"):
    x = rng.uniform(-1, 1, size=shape)
    return cast(x + 2 * np.eye(shape[-1]) if shape[-1] == shape[-2] else x, dt)


tol32 = {"rtol": 2e-4, "atol": 2e-5}


def add_case(op, args, out, dt, **extra):
    case = {"op": op, "args": args, "out": [enc(o, dt) for o in out] if isinstance(out, list) else enc(out, dt)}
    if dt == "float32":
        case.update(tol32)
    case.update(extra)
    cases.append(case)


for dt in ["float32", "float64"]:
    for shape in [(3, 3), (2, 4, 4), (1, 1), (0, 2, 2)]:
        a = well(shape, dt)
        add_case("linalg.inv", [enc(a, dt)], cast(np.linalg.inv(a.astype(np.float64)), dt), dt)
    a = well((3, 3), dt)
    b = cast(rng.uniform(-1, 1, (3,)), dt)
    add_case("linalg.solve", [enc(a, dt), enc(b, dt)], cast(np.linalg.solve(a.astype(np.float64), b), dt), dt)
    b = cast(rng.uniform(-1, 1, (2, 3, 2)), dt)
    add_case("linalg.solve", [enc(a, dt), enc(b, dt)], cast(np.linalg.solve(a.astype(np.float64), b), dt), dt, name="solve broadcasts a over b's batch")
    ab = well((2, 3, 3), dt)
    b = cast(rng.uniform(-1, 1, (3, 1)), dt)
    add_case("linalg.solve", [enc(ab, dt), enc(b, dt)], cast(np.linalg.solve(ab.astype(np.float64), b), dt), dt)
    for upper in [False, True]:
        t = well((2, 4, 4), dt)  # both triangles filled: only one may be read
        tri = np.triu(t) if upper else np.tril(t)
        b = cast(rng.uniform(-1, 1, (2, 4, 3)), dt)
        add_case("linalg.solveTriangular", [enc(t, dt), enc(b, dt), val(upper)], cast(np.linalg.solve(tri.astype(np.float64), b), dt), dt)
        add_case("linalg.triInv", [enc(t, dt), val(upper)], cast(np.linalg.inv(tri.astype(np.float64)), dt), dt)
        s = spd(4, (2,), dt)
        noisy = s + (np.triu(np.ones((4, 4)), 1) * 7 if not upper else np.tril(np.ones((4, 4)), -1) * 7).astype(s.dtype)
        ref = np.linalg.cholesky(s.astype(np.float64))
        add_case("linalg.cholesky", [enc(noisy, dt), val(upper)], cast(np.swapaxes(ref, -1, -2) if upper else ref, dt), dt,
                 name=f"cholesky upper={upper} reads one triangle")
        factor = cast(np.swapaxes(ref, -1, -2) if upper else ref, dt)
        add_case("linalg.choleskyInv", [enc(factor, dt), val(upper)], cast(np.linalg.inv(s.astype(np.float64)), dt), dt)
        noisy_sym = s + (np.triu(np.ones((4, 4)), 1) * 5 if not upper else np.tril(np.ones((4, 4)), -1) * 5).astype(s.dtype)
        add_case("linalg.eigvalsh", [enc(noisy_sym, dt), val("U" if upper else "L")], cast(np.linalg.eigvalsh(s.astype(np.float64)), dt), dt)
    for shape in [(4, 3), (3, 5), (2, 3, 3), (1, 4), (6, 1)]:
        a = cast(rng.uniform(-1, 1, shape), dt)
        add_case("linalg.svd", [enc(a, dt), val(False)], cast(np.linalg.svd(a.astype(np.float64), compute_uv=False), dt), dt)
        add_case("linalg.pinv", [enc(a, dt)], cast(np.linalg.pinv(a.astype(np.float64)), dt), dt)
rank1 = np.outer([1.0, 2.0, 3.0], [1.0, -1.0, 0.5, 2.0])
add_case("linalg.svd", [enc(rank1), val(False)], np.linalg.svd(rank1, compute_uv=False), "float64", atol=1e-12)
add_case("linalg.pinv", [enc(rank1)], np.linalg.pinv(rank1), "float64", rtol=1e-10, atol=1e-12, name="pinv drops zero singular values")
ev = spd(5, (3,))
add_case("linalg.eigvalsh", [enc(ev)], np.linalg.eigvalsh(ev), "float64")

i32 = enc(np.eye(3, dtype=np.int32))
cases += [
    {"op": "linalg.inv", "args": [i32], "error": "expected a float32 or float64 array, got int32"},
    {"op": "linalg.inv", "args": [enc(cast(np.ones((2, 2)), "float16"), "float16")], "error": "got float16"},
    {"op": "linalg.inv", "args": [f(2, 3)], "error": "expected square matrices"},
    {"op": "linalg.inv", "args": [f(3)], "error": "expected an array of matrices"},
    {"op": "linalg.inv", "args": [enc(np.ones((2, 2), np.float32))], "error": "singular"},
    {"op": "linalg.solve", "args": [f(3, 3), f(4)], "error": "b must have 3 rows"},
    {"op": "linalg.cholesky", "args": [enc(-np.eye(2, dtype=np.float32))], "error": "not positive definite"},
    {"op": "linalg.eigh", "args": [f(2, 2), val("X")], "error": "UPLO must be"},
    {"op": "linalg.qr", "args": [f(3)], "error": "expected an array of matrices"},
]
write("linalg", cases)

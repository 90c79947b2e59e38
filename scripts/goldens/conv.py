"""Goldens for convolutions (channels-last, MLX layouts) from a direct NumPy reference."""
import itertools

import numpy as np
from common import enc, val, rand, cast, write

rng = np.random.default_rng(3)
cases = []


def conv_ref(x, w, stride, lo, hi, kdil, idil, groups, flip):
    """conv_general in float64: dilate the input, pad (negative crops), slide the kernel."""
    x = np.asarray(x, np.float64)
    w = np.asarray(w, np.float64)
    d = x.ndim - 2
    n, cin = x.shape[0], x.shape[-1]
    cout = w.shape[0]
    S, K = x.shape[1:-1], w.shape[1:-1]
    sd = [(s - 1) * i + 1 if s else 0 for s, i in zip(S, idil)]
    xd = np.zeros((n, *sd, cin))
    xd[(slice(None), *[slice(None, None, i) for i in idil])] = x
    for ax in range(d):
        a = ax + 1
        if lo[ax] >= 0:
            xd = np.concatenate([np.zeros((*xd.shape[:a], lo[ax], *xd.shape[a + 1:])), xd], axis=a)
        else:
            xd = np.take(xd, range(-lo[ax], xd.shape[a]), axis=a)
        if hi[ax] >= 0:
            xd = np.concatenate([xd, np.zeros((*xd.shape[:a], hi[ax], *xd.shape[a + 1:]))], axis=a)
        else:
            xd = np.take(xd, range(0, xd.shape[a] + hi[ax]), axis=a)
    if flip:
        w = w[(slice(None), *[slice(None, None, -1)] * d)]
    O = [(xd.shape[i + 1] - ((K[i] - 1) * kdil[i] + 1)) // stride[i] + 1 for i in range(d)]
    out = np.zeros((n, *O, cout))
    cig, cog = cin // groups, cout // groups
    for kpos in itertools.product(*[range(k) for k in K]):
        sl = tuple(slice(kpos[i] * kdil[i], kpos[i] * kdil[i] + (O[i] - 1) * stride[i] + 1, stride[i]) for i in range(d))
        xs = xd[(slice(None), *sl)]
        for g in range(groups):
            wk = w[(slice(g * cog, (g + 1) * cog), *kpos)]  # (cog, cig)
            out[..., g * cog:(g + 1) * cog] += xs[..., g * cig:(g + 1) * cig] @ wk.T
    return out


def add(op, x, w, args, ref_args, dt="float32", name=None, tol=None):
    xv, wv = cast(x, dt), cast(w, dt)
    out = cast(conv_ref(xv, wv, *ref_args), dt)
    case = {"op": op, "args": [enc(xv, dt), enc(wv, dt)] + [val(a) for a in args], "out": enc(out, dt)}
    if name:
        case["name"] = name
    if tol:
        case.update(tol)
    cases.append(case)


def r(*shape):
    return rng.uniform(-1, 1, size=shape)


# conv1d: stride, padding, dilation, groups
for (n, L, cin, cout, k, s, p, dil, g) in [
    (2, 9, 3, 4, 3, 1, 0, 1, 1), (1, 10, 4, 6, 3, 2, 1, 1, 2), (2, 12, 2, 3, 2, 3, 2, 2, 1),
    (1, 5, 6, 6, 1, 1, 0, 1, 3), (3, 7, 1, 2, 7, 1, 3, 1, 1), (1, 8, 4, 4, 3, 1, 1, 1, 4),
]:
    add("conv1d", r(n, L, cin), r(cout, k, cin // g), [s, p, dil, g], ([s], [p], [p], [dil], [1], g, False))
# dtypes
for dt in ["float16", "bfloat16", "float64"]:
    add("conv1d", r(2, 8, 3), r(4, 3, 3), [1, 1, 1, 1], ([1], [1], [1], [1], [1], 1, False), dt)
# conv2d
for (n, hw, cin, cout, k, s, p, dil, g) in [
    (2, (6, 5), 3, 4, (3, 3), (1, 1), (0, 0), (1, 1), 1), (1, (7, 8), 4, 4, (3, 2), (2, 1), (1, 0), (1, 2), 2),
    (1, (5, 5), 2, 3, (1, 1), (1, 1), (0, 0), (1, 1), 1), (2, (4, 4), 6, 3, (2, 2), (2, 2), (1, 1), (1, 1), 3),
    (1, (9, 9), 2, 2, (3, 3), (3, 3), (0, 0), (2, 2), 1),
]:
    add("conv2d", r(n, *hw, cin), r(cout, *k, cin // g), [list(s), list(p), list(dil), g], (list(s), list(p), list(p), list(dil), [1, 1], g, False))
add("conv2d", r(1, 6, 6, 2), r(3, 3, 3, 2), [2, 1, 1, 1], ([2, 2], [1, 1], [1, 1], [1, 1], [1, 1], 1, False), name="conv2d int args")
add("conv2d", r(2, 5, 6, 3), r(4, 3, 3, 3), [1, 1], ([1, 1], [1, 1], [1, 1], [1, 1], [1, 1], 1, False), "float16")
# conv3d
add("conv3d", r(1, 4, 5, 4, 2), r(3, 2, 3, 2, 2), [1, [1, 0, 1], 1, 1], ([1, 1, 1], [1, 0, 1], [1, 0, 1], [1, 1, 1], [1, 1, 1], 1, False))
add("conv3d", r(2, 5, 4, 4, 4), r(4, 3, 2, 2, 2), [[2, 1, 2], 0, 1, 2], ([2, 1, 2], [0, 0, 0], [0, 0, 0], [1, 1, 1], [1, 1, 1], 2, False))
# empty batch
add("conv1d", r(0, 6, 2), r(3, 3, 2), [], ([1], [0], [0], [1], [1], 1, False), name="conv1d empty batch")


def transpose_args(K, s, p, dil, op):
    lo = [dl * (k - 1) - pp for k, pp, dl in zip(K, p, dil)]
    hi = [l + o for l, o in zip(lo, op)]
    return ([1] * len(K), lo, hi, dil, s, 1, True)


for (n, L, cin, cout, k, s, p, dil, op) in [(2, 5, 3, 4, 3, 2, 1, 1, 1), (1, 4, 2, 2, 2, 1, 0, 1, 0), (1, 6, 3, 2, 3, 3, 2, 2, 0)]:
    ta = transpose_args([k], [s], [p], [dil], [op])
    add("convTranspose1d", r(n, L, cin), r(cout, k, cin), [s, p, dil, op, 1], ta[:5] + (1, True))
for (n, hw, cin, cout, k, s, p, dil, op) in [(1, (3, 4), 2, 3, (3, 3), (2, 2), (1, 1), (1, 1), (1, 0)), (2, (4, 3), 3, 2, (2, 3), (1, 2), (0, 1), (2, 1), (0, 1))]:
    ta = transpose_args(list(k), list(s), list(p), list(dil), list(op))
    add("convTranspose2d", r(n, *hw, cin), r(cout, *k, cin), [list(s), list(p), list(dil), list(op), 1], ta)
ta = transpose_args([2, 2, 2], [2, 1, 2], [0, 0, 1], [1, 1, 1], [1, 0, 0])
add("convTranspose3d", r(1, 3, 3, 2, 2), r(2, 2, 2, 2, 2), [[2, 1, 2], [0, 0, 1], 1, [1, 0, 0], 1], ta)
# grouped transpose
ta = transpose_args([3], [2], [1], [1], [0])
add("convTranspose1d", r(1, 5, 4), r(6, 3, 2), [2, 1, 1, 0, 2], ta[:5] + (2, True))

# convGeneral: asymmetric padding, input dilation, flip
add("convGeneral", r(2, 7, 3), r(2, 3, 3), [2, [[2], [1]], 2, 1, 1, False], ([2], [2], [1], [2], [1], 1, False))
add("convGeneral", r(1, 5, 6, 2), r(4, 2, 3, 2), [[1, 2], [[1, 0], [2, 1]], [1, 2], [2, 1], 1, True], ([1, 2], [1, 0], [2, 1], [1, 2], [2, 1], 1, True))
add("convGeneral", r(1, 8, 2), r(2, 3, 2), [1, [[-1], [-2]], 1, 1, 1, False], ([1], [-1], [-2], [1], [1], 1, False), name="convGeneral negative padding crops")

# convolve (NumPy semantics)
for la, lv in [(6, 3), (3, 6), (5, 5), (7, 2), (1, 4)]:
    for mode in ["full", "same", "valid"]:
        a, v = cast(r(la), "float32"), cast(r(lv), "float32")
        cases.append({"op": "convolve", "args": [enc(a), enc(v), val(mode)], "out": enc(np.convolve(a.astype(np.float64), v).astype(np.float32) if mode == "full" else np.convolve(a.astype(np.float64), v, mode).astype(np.float32))})
a = cast(r(6), "float64")
cases.append({"op": "convolve", "args": [enc(a), enc(a[:3]), val("same")], "out": enc(np.convolve(a, a[:3], "same"))})

# errors
f = lambda *s: enc(cast(r(*s), "float32"))
cases += [
    {"op": "conv1d", "args": [f(1, 5, 3), f(2, 3, 2)], "error": "input channels 3"},
    {"op": "conv1d", "args": [f(5, 3), f(2, 3, 3)], "error": "must be 3-D"},
    {"op": "conv1d", "args": [f(1, 5, 4), f(3, 3, 2), val(1), val(0), val(1), val(2)], "error": "divisible by groups"},
    {"op": "conv1d", "args": [f(1, 2, 3), f(2, 5, 3)], "error": "smaller than the dilated kernel"},
    {"op": "conv1d", "args": [enc(np.ones((1, 5, 3), np.int32)), enc(np.ones((2, 3, 3), np.int32))], "error": "floating-point"},
    {"op": "conv2d", "args": [f(1, 5, 5, 3), f(2, 3, 3, 3), val([1, 1, 1])], "error": "stride must have 2 entries"},
    {"op": "conv2d", "args": [f(1, 5, 5, 3), f(2, 3, 3, 3), val(0)], "error": "stride (0,0) must be integers >= 1"},
    {"op": "conv2d", "args": [f(1, 5, 5, 3), f(2, 3, 3)], "error": "same rank"},
    {"op": "convolve", "args": [f(2, 3), f(3)], "error": "must be 1-D"},
    {"op": "convolve", "args": [f(3), f(2), val("wide")], "error": "mode must be"},
]
write("conv", cases)

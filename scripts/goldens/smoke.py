"""A few cases across families that prove the golden pipeline end to end."""
import numpy as np
from common import enc, weak, val, rand, cast, write, promote

rng = np.random.default_rng(0)
cases = []
for dt in ["float32", "int32", "float16", "bfloat16", "int64"]:
    a = rand((2, 3), dt, rng)
    b = rand((3,), dt, rng)
    out = cast(cast(a, "float64") + cast(b, "float64"), dt) if dt == "bfloat16" else (a + b).astype(a.dtype)
    cases.append({"op": "add", "args": [enc(a, dt), enc(b, dt)], "out": enc(out, dt)})
a = rand((2, 3), "int32", rng)
cases.append({"op": "add", "args": [enc(a), weak(1.5)], "out": enc((a + 1.5).astype(np.float32))})
cases.append({"op": "sum", "args": [enc(a), val(-1)], "out": enc(a.sum(-1).astype(np.int32))})
cases.append({"op": "add", "args": [enc(rand((2, 3), "float32", rng)), enc(rand((4,), "float32", rng))], "error": "broadcast"})
write("smoke", cases)

"""NumPy timings for bench/cpu/run.ts: the same workloads, medians in milliseconds, as JSON.

Usage: python3 numpy_bench.py REPS   (prints {"numpy": version, "results": {name: ms}})
"""
import json
import sys
import time

import numpy as np

REPS = int(sys.argv[1]) if len(sys.argv) > 1 else 7
rng = np.random.default_rng(0)
f32 = np.float32


def median_ms(fn, reps=REPS, warmup=2):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1e3)
    return float(np.median(times))


def chain(x):
    # The same ten elementwise ops as the lathe chain in run.ts.
    y = x * f32(1.5)
    y = y + f32(0.25)
    y = np.tanh(y)
    y = y * y
    y = y - f32(0.5)
    y = np.abs(y)
    y = np.sqrt(y)
    y = np.exp(-y)
    y = y * x
    return y + f32(1)


def chain_arith(x):
    # The same ten arithmetic ops as arithChain in run.ts.
    y = x * f32(1.5)
    y = y + f32(0.25)
    y = np.maximum(y, f32(-1))
    y = y * y
    y = y - f32(0.5)
    y = np.abs(y)
    y = np.minimum(y, f32(4))
    y = y / f32(3)
    y = y * x
    return y + f32(1)


N = 10_000_000
a = rng.standard_normal(N, dtype=f32)
b = rng.standard_normal(N, dtype=f32)
cond = a > 0
m = rng.standard_normal((1024, 1024), dtype=f32)
n = rng.standard_normal((1024, 1024), dtype=f32)
c = rng.standard_normal(1_000_000, dtype=f32)

results = {
    "matmul": median_ms(lambda: m @ n),
    "add": median_ms(lambda: a + b),
    "exp": median_ms(lambda: np.exp(a)),
    "where": median_ms(lambda: np.where(cond, a, b)),
    "sum": median_ms(lambda: a.sum()),
    "argmax": median_ms(lambda: a.argmax()),
    "chain": median_ms(lambda: chain(c)),
    "chain_arith": median_ms(lambda: chain_arith(c)),
}
print(json.dumps({"numpy": np.__version__, "results": results}))

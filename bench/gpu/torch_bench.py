"""PyTorch reference for bench/gpu/run.ts: the same workloads, timed the same way.

Usage: python3 torch_bench.py < config.json
config: {"reps": R, "warmup": W, "smoke": bool, "workloads": [{"key": ..., "spec": {...}}]}
prints one JSON line: {"torch": version, "cuda": version, "device": name, "how": ...,
"results": {key: {"ms": median} or {"error": why}}}. Progress goes to stderr.

Device ops are timed with CUDA events around the op, each run after a 256 MiB fill that
flushes the L2 cache and keeps the GPU busy while the host queues the op (as lathe's side
and triton's do_bench do). Inputs hold the same values as lathe's: sin(0.7311 * (i % 1000003)).
--smoke (no GPU) runs on the CPU with the host clock, to check the script.
"""
import json
import os
import statistics
import subprocess
import sys
import time

FIRST_CALL = r"""
import json, time
t0 = time.perf_counter()
import torch
t1 = time.perf_counter()
x = torch.arange(2 ** 20, device='cuda', dtype=torch.int32) * 1e-6
total = torch.exp(x).sum().item()
t2 = time.perf_counter()
assert total == total
print(json.dumps({'importMs': (t1 - t0) * 1e3, 'firstMs': (t2 - t1) * 1e3}))
"""


def log(msg):
    print(msg, file=sys.stderr, flush=True)


class HostTimer:
    how = 'host clock'

    def __init__(self, reps, warmup):
        self.reps, self.warmup = reps, warmup

    def median(self, setup, run):
        times = []
        for i in range(self.warmup + self.reps):
            x = setup()
            t = time.perf_counter()
            run(x)
            if i >= self.warmup:
                times.append((time.perf_counter() - t) * 1e3)
        return statistics.median(times)

    def sync(self):
        pass


class DeviceTimer:
    how = 'CUDA events, L2 flushed by a 256 MiB fill before each run'

    def __init__(self, torch, reps, warmup):
        self.torch, self.reps, self.warmup = torch, reps, warmup
        self.flush = torch.empty(256 << 20, dtype=torch.uint8, device='cuda')
        self.start = torch.cuda.Event(enable_timing=True)
        self.end = torch.cuda.Event(enable_timing=True)

    def median(self, setup, run):
        for _ in range(self.warmup):
            run(setup())
        self.sync()
        times = []
        for i in range(self.reps):
            x = setup()
            self.flush.fill_(i & 255)
            self.start.record()
            r = run(x)
            self.end.record()
            self.end.synchronize()
            times.append(self.start.elapsed_time(self.end))
            del r
        return statistics.median(times)

    def sync(self):
        self.torch.cuda.synchronize()


def prod(shape):
    n = 1
    for d in shape:
        n *= d
    return n


def filled(torch, dev, shape, dtype='float32'):
    """sin(0.7311 * (i % 1000003)) in `shape`: the values lathe's side fills its inputs with."""
    i = torch.arange(prod(shape), device=dev, dtype=torch.int32)
    x = torch.sin((i % 1000003).float() * 0.7311)
    return x.reshape(shape).to({'float32': torch.float32, 'bfloat16': torch.bfloat16}[dtype])


def bench(torch, dev, timer, spec, first_call):
    """Median milliseconds of one workload (see workloads.ts for the kinds)."""
    def fill(shape, dtype='float32'):
        return filled(torch, dev, shape, dtype)

    def op(fn):
        return timer.median(lambda: None, lambda _: fn())

    kind = spec['kind']
    if kind == 'launch':
        x = torch.full((16,), 1.5, device=dev)

        def once():
            y = x
            for _ in range(spec['n']):
                y = y + 1
            timer.sync()

        once()
        times = []
        for _ in range(7):
            t = time.perf_counter()
            once()
            times.append((time.perf_counter() - t) * 1e3 / spec['n'])
        return {'ms': statistics.median(times)}
    if kind == 'firstCall':
        return first_call()
    if kind == 'copy':
        src = fill([spec['n']], spec['dtype'])
        dst = torch.empty_like(src)
        return {'ms': op(lambda: dst.copy_(src))}
    if kind == 'elementwise':
        a, b = fill([spec['n']], spec['dtype']), fill([spec['n']], spec['dtype'])
        fns = {'add': lambda: torch.add(a, b), 'multiply': lambda: torch.mul(a, b), 'exp': lambda: torch.exp(a)}
        return {'ms': op(fns[spec['op']])}
    if kind == 'reduce':
        x, axis = fill(spec['shape']), spec['axis']
        fns = {'sum': lambda: torch.sum(x, dim=axis), 'max': lambda: torch.amax(x, dim=axis), 'argmax': lambda: torch.argmax(x, dim=axis)}
        return {'ms': op(fns[spec['op']])}
    if kind == 'softmax':
        x = fill(spec['shape'])
        return {'ms': op(lambda: torch.softmax(x, dim=spec['axis']))}
    if kind == 'matmul':
        a, b = fill([spec['M'], spec['K']], spec['dtype']), fill([spec['K'], spec['N']], spec['dtype'])
        return {'ms': op(lambda: torch.matmul(a, b))}
    if kind == 'transpose':
        x = fill(spec['shape'], spec['dtype'])
        return {'ms': op(lambda: x.permute(*spec['axes']).contiguous())}
    if kind == 'slice':
        x = fill(spec['shape'], spec['dtype'])
        index = tuple(slice(s, e, st) for s, e, st in zip(spec['start'], spec['stop'], spec['step']))
        return {'ms': op(lambda: x[index].contiguous())}
    raise ValueError(f'unknown workload kind {kind}')


def first_call_once():
    """A fresh Python's import of torch and first result (torch has no kernel cache to warm)."""
    p = subprocess.run([sys.executable, '-c', FIRST_CALL], capture_output=True, text=True, env=os.environ.copy())
    if p.returncode != 0:
        return {'error': (p.stderr.strip().splitlines() or ['failed'])[-1][:200]}
    r = json.loads(p.stdout.strip().splitlines()[-1])
    return {'ms': r['importMs'] + r['firstMs'], 'note': f"import {r['importMs']:.0f} ms + first result {r['firstMs']:.0f} ms"}


def main():
    cfg = json.load(sys.stdin)
    try:
        import torch
    except Exception as e:  # no torch here: the caller prints n/a with this reason
        print(json.dumps({'error': f'PyTorch unavailable: {e}'}))
        return
    cuda = torch.cuda.is_available()
    if not cuda and not cfg['smoke']:
        print(json.dumps({'error': 'PyTorch sees no CUDA device'}))
        return
    dev = 'cuda' if cuda else 'cpu'
    timer = DeviceTimer(torch, cfg['reps'], cfg['warmup']) if cuda else HostTimer(cfg['reps'], cfg['warmup'])
    cached = {}

    def first_call():
        if 'r' not in cached:
            cached['r'] = first_call_once() if cuda else {'error': 'needs the GPU'}
        return cached['r']

    results = {}
    for w in cfg['workloads']:
        try:
            results[w['key']] = bench(torch, dev, timer, w['spec'], first_call)
        except Exception as e:  # one broken workload must not hide the others
            results[w['key']] = {'error': f'{type(e).__name__}: {e}'.splitlines()[0][:200]}
        r = results[w['key']]
        log(f"torch  {w['key']}: {'%.4f ms' % r['ms'] if 'ms' in r else 'n/a (' + r['error'] + ')'}")
        if cuda:
            torch.cuda.empty_cache()
    print(json.dumps({
        'torch': torch.__version__,
        'cuda': getattr(torch.version, 'cuda', None),
        'device': torch.cuda.get_device_name(0) if cuda else 'cpu',
        'how': timer.how,
        'results': results,
    }))


if __name__ == '__main__':
    main()

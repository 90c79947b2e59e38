"""PyTorch's side of bench/gpu/attention.ts: torch.nn.functional.scaled_dot_product_attention
on the same shapes, timed the same way (CUDA events, median, a 256 MiB fill before each run
that flushes the L2 cache). Reads {"reps", "warmup", "cases": [...]} on stdin, prints one
JSON line: {"torch", "device", "cudnn", "results": {key: {backend: ms or error}}}.

Backends: 'default' (torch's own choice), 'flash' (FlashAttention-2) and 'cudnn' (cuDNN's
fused attention), each where this torch has it. Decode uses enable_gqa where torch has it,
else k and v repeated to the query heads beforehand (outside the timing).
"""
import json
import statistics
import sys

import torch
import torch.nn.functional as F


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def main():
    cfg = json.loads(sys.stdin.read())
    reps, warmup = cfg['reps'], cfg['warmup']
    flush = torch.empty(256 << 20, dtype=torch.uint8, device='cuda')
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)

    def median(fn):
        for _ in range(warmup):
            fn()
        torch.cuda.synchronize()
        times = []
        for i in range(reps):
            flush.fill_(i & 255)
            start.record()
            fn()
            end.record()
            end.synchronize()
            times.append(start.elapsed_time(end))
        return statistics.median(times)

    try:
        from torch.nn.attention import sdpa_kernel, SDPBackend
        backends = {'flash': SDPBackend.FLASH_ATTENTION}
        if hasattr(SDPBackend, 'CUDNN_ATTENTION'):
            backends['cudnn'] = SDPBackend.CUDNN_ATTENTION
    except ImportError:
        sdpa_kernel, backends = None, {}

    results = {}
    for c in cfg['cases']:
        B, Hq, Hk, L, S, D, causal, kind = c['B'], c['Hq'], c['Hk'], c['L'], c['S'], c['D'], c['causal'], c['kind']
        gen = torch.Generator(device='cuda').manual_seed(0)
        q = torch.randn(B, Hq, L, D, device='cuda', dtype=torch.bfloat16, generator=gen)
        k = torch.randn(B, Hk, S, D, device='cuda', dtype=torch.bfloat16, generator=gen)
        v = torch.randn(B, Hk, S, D, device='cuda', dtype=torch.bfloat16, generator=gen)
        kw = {}
        if Hk != Hq:
            try:
                F.scaled_dot_product_attention(q[:, :, :1], k[:, :, :1], v[:, :, :1], enable_gqa=True)
                kw['enable_gqa'] = True
            except TypeError:
                k, v = k.repeat_interleave(Hq // Hk, 1), v.repeat_interleave(Hq // Hk, 1)
        out = {}
        for name in ['default', *backends]:
            try:
                ctx = sdpa_kernel(backends[name]) if name != 'default' else None

                def run_fwd():
                    return F.scaled_dot_product_attention(q, k, v, is_causal=causal, **kw)

                def timed(fn):
                    if ctx is None:
                        return median(fn)
                    with sdpa_kernel(backends[name]):
                        return median(fn)

                if kind == 'bwd':
                    qg, kg, vg = (t.detach().requires_grad_() for t in (q, k, v))
                    if ctx is None:
                        o = F.scaled_dot_product_attention(qg, kg, vg, is_causal=causal, **kw)
                    else:
                        with sdpa_kernel(backends[name]):
                            o = F.scaled_dot_product_attention(qg, kg, vg, is_causal=causal, **kw)
                    g = torch.randn_like(o)
                    out[name] = timed(lambda: torch.autograd.grad(o, (qg, kg, vg), g, retain_graph=True))
                else:
                    out[name] = timed(run_fwd)
            except Exception as e:  # a backend that does not take this case
                out[name] = f'error: {str(e).splitlines()[0][:120]}'
            torch.cuda.synchronize()
        log(f"torch {c['key']}: {out}")
        results[c['key']] = out
    print(json.dumps({'torch': torch.__version__, 'device': torch.cuda.get_device_name(), 'cudnn': torch.backends.cudnn.version(), 'results': results}))


main()

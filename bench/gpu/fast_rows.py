"""PyTorch side of bench/gpu/fast-rows.ts: rmsNorm, rope and crossEntropy as the Hugging Face
Llama code writes them (eager), and torch.compile of the same functions, timed as lathe's side.

Usage: python3 fast_rows.py < workloads.json   (from `fast-rows.ts --workloads`)
prints one JSON line: {"torch": version, "device": name, "results": {key: {"eager": ms,
"compile": ms, "fused": ms (rmsNorm: F.rms_norm), "eagerPeak"/"compilePeak": bytes (crossEntropy
forward + backward, above the inputs)} or {"error": why}}}. Progress goes to stderr.
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_bench import DeviceTimer, log, prod  # noqa: E402  (timing exactly as bench:gpu)


def main():
    cfg = json.load(sys.stdin)
    try:
        import torch
        import torch.nn.functional as F
    except Exception as e:
        print(json.dumps({'error': f'PyTorch unavailable: {e}'}))
        return
    if not torch.cuda.is_available():
        print(json.dumps({'error': 'PyTorch sees no CUDA device'}))
        return
    dev = 'cuda'
    timer = DeviceTimer(torch, cfg['reps'], cfg['warmup'])

    def filled(shape, dtype=torch.bfloat16):
        i = torch.arange(prod(shape), device=dev, dtype=torch.int32)
        return torch.sin((i % 1000003).float() * 0.7311).reshape(shape).to(dtype)

    # ---- the Hugging Face Llama code
    def rms_norm(x, w, eps=1e-5):  # LlamaRMSNorm.forward
        xf = x.to(torch.float32)
        var = xf.pow(2).mean(-1, keepdim=True)
        return w * (xf * torch.rsqrt(var + eps)).to(x.dtype)

    def rotate_half(x):
        h = x.shape[-1] // 2
        return torch.cat((-x[..., h:], x[..., :h]), dim=-1)

    def rope(q, k, inv_freq, pos):  # LlamaRotaryEmbedding.forward + apply_rotary_pos_emb
        freqs = (inv_freq[None, :, None].float() @ pos[:, None, :].float()).transpose(1, 2)
        emb = torch.cat((freqs, freqs), dim=-1)
        cos, sin = emb.cos().to(q.dtype).unsqueeze(1), emb.sin().to(q.dtype).unsqueeze(1)
        return q * cos + rotate_half(q) * sin, k * cos + rotate_half(k) * sin

    def cross_entropy(z, t):  # ForCausalLMLoss: logits.float(), then the mean loss
        return F.cross_entropy(z.float(), t)

    def measure(spec, fn_kind):
        op, bwd, shapes = spec['op'], spec['pass'] == 'fwd+bwd', spec['shapes']
        if op == 'rmsNorm':
            f = {'eager': rms_norm, 'compile': torch.compile(rms_norm, dynamic=False), 'fused': lambda x, w: F.rms_norm(x, (x.shape[-1],), w, 1e-5)}[fn_kind]
            x, w, dy = filled(shapes[0]), filled([shapes[0][1]]) + 1.5, filled(shapes[0])
            ins, cts = [x, w], [dy]
            call = lambda xs: [f(*xs)]
        elif op == 'rope':
            D = shapes[0][3]
            inv_freq = 1.0 / (500000 ** (torch.arange(0, D, 2, dtype=torch.int64, device=dev).float() / D))
            pos = torch.arange(shapes[0][2], device=dev)[None, :]
            f = {'eager': rope, 'compile': torch.compile(rope, dynamic=False)}[fn_kind]
            q, k = filled(shapes[0]), filled(shapes[1])
            ins, cts = [q, k], [filled(shapes[0]), filled(shapes[1])]
            call = lambda xs: list(f(xs[0], xs[1], inv_freq, pos))
        else:
            N, V = shapes[0]
            f = {'eager': cross_entropy, 'compile': torch.compile(cross_entropy, dynamic=False)}[fn_kind]
            z = filled([N, V])
            t = (torch.arange(N, device=dev, dtype=torch.int64) * 7919) % V
            ins, cts = [z], [None]
            call = lambda xs: [f(xs[0], t)]

        def setup():
            return [a.detach().requires_grad_(bwd) for a in ins]

        def run(xs):
            if not bwd:
                with torch.no_grad():
                    return call(xs)
            outs = call(xs)
            torch.autograd.backward(outs, [c for c in cts] if cts[0] is not None else None)
            return outs, [a.grad for a in xs]

        ms = timer.median(setup, run)
        peak = None
        if op == 'crossEntropy' and bwd:
            xs = setup()
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            base = torch.cuda.memory_allocated()
            r = run(xs)
            torch.cuda.synchronize()
            peak = torch.cuda.max_memory_allocated() - base
            del r, xs
        return ms, peak

    results = {}
    for w in cfg['workloads']:
        key, r = w['key'], {}
        kinds = ['eager', 'compile'] + (['fused'] if w['op'] == 'rmsNorm' and hasattr(F, 'rms_norm') else [])
        for kind in kinds:
            try:
                ms, peak = measure(w, kind)
                r[kind] = ms
                if peak is not None:
                    r[f'{kind}Peak'] = peak
                log(f"torch  {key} {kind}: {ms:.4f} ms" + (f", peak {peak / 2**20:.0f} MiB" if peak is not None else ''))
            except Exception as e:  # one broken variant must not hide the others
                r['error'] = f'{kind}: {type(e).__name__}: {e}'.splitlines()[0][:200]
                log(f"torch  {key} {kind}: {r['error']}")
            torch.cuda.empty_cache()
        results[key] = r
    print(json.dumps({'torch': torch.__version__, 'device': torch.cuda.get_device_name(0), 'results': results}))


if __name__ == '__main__':
    main()

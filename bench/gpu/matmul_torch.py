"""PyTorch's side of bench/gpu/gemv.ts and quantized.ts: torch.matmul(x, w) with x (M, K) and
w (K, N), or w (N, K) read transposed (`transposeB`: a Linear's weight), in bf16, timed as
bench:gpu times everything (torch_bench.py's DeviceTimer: CUDA events, L2 flushed by a
256 MiB fill before each run). Inputs are sin(0.7311 * (i % 1000003)).

Usage: python3 matmul_torch.py < config.json,
config {"reps", "warmup", "shapes": [{"key", "M", "K", "N", "transposeB"?}]}.
Prints one JSON line {"torch", "device", "results": {key: {"ms"} or {"error"}}}.
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_bench import DeviceTimer, filled  # noqa: E402


def main():
    cfg = json.load(sys.stdin)
    import torch
    timer = DeviceTimer(torch, cfg['reps'], cfg['warmup'])
    results = {}
    for s in cfg['shapes']:
        try:
            t = s.get('transposeB', False)
            x = filled(torch, 'cuda', [s['M'], s['K']], 'bfloat16')
            w = filled(torch, 'cuda', [s['N'], s['K']] if t else [s['K'], s['N']], 'bfloat16')
            results[s['key']] = {'ms': timer.median(lambda: None, lambda _: torch.matmul(x, w.t() if t else w))}
            del x, w
        except Exception as e:  # one failure must not hide the others
            results[s['key']] = {'error': f'{type(e).__name__}: {e}'.splitlines()[0][:200]}
        torch.cuda.empty_cache()
    print(json.dumps({'torch': torch.__version__, 'device': torch.cuda.get_device_name(0), 'results': results}))


if __name__ == '__main__':
    main()

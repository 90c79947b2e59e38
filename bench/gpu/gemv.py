"""PyTorch's side of bench/gpu/gemv.ts: torch.matmul(x, w.t()) with x (1, K) and w (N, K)
in bf16 (a Linear's decode step), timed as bench:gpu times everything (torch_bench.py's
DeviceTimer: CUDA events, L2 flushed by a 256 MiB fill before each run). Inputs are
sin(0.7311 * (i % 1000003)).

Usage: python3 gemv.py < config.json, config {"reps", "warmup", "shapes": [{"key", "K", "N"}]}.
Prints one JSON line {"torch", "device", "results": {key: {"ms"} or {"error"}}}.
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_bench import DeviceTimer  # noqa: E402


def main():
    cfg = json.load(sys.stdin)
    import torch
    timer = DeviceTimer(torch, cfg['reps'], cfg['warmup'])

    def filled(shape):
        n = 1
        for d in shape:
            n *= d
        i = torch.arange(n, device='cuda', dtype=torch.int32)
        return torch.sin((i % 1000003).float() * 0.7311).reshape(shape).to(torch.bfloat16)

    results = {}
    for s in cfg['shapes']:
        try:
            x, w = filled([1, s['K']]), filled([s['N'], s['K']])
            results[s['key']] = {'ms': timer.median(lambda: None, lambda _: torch.matmul(x, w.t()))}
            del x, w
        except Exception as e:  # one failure must not hide the others
            results[s['key']] = {'error': f'{type(e).__name__}: {e}'.splitlines()[0][:200]}
        torch.cuda.empty_cache()
    print(json.dumps({'torch': torch.__version__, 'device': torch.cuda.get_device_name(0), 'results': results}))


if __name__ == '__main__':
    main()

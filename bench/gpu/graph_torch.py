# PyTorch's side of bench/gpu/graph.ts: the same Llama-3.2-1B-shaped decode step (bf16, random
# weights, batch 1, static cache of 1024) with transformers' StaticCache, eager and replayed as
# a CUDA graph (torch.cuda.graph), timed with CUDA events behind a spin kernel; and F.linear at
# batch 1 for each weight shape of the model (the GEMVs that bound a decode step), L2 flushed.
# Usage: python3 bench/gpu/graph_torch.py [--layers 16] [--cache 1024]
import argparse
import json
import statistics
import sys

import torch
import torch.nn.functional as F

p = argparse.ArgumentParser()
p.add_argument('--layers', type=int, default=16)
p.add_argument('--cache', type=int, default=1024)
p.add_argument('--json', default=None)
args = p.parse_args()
dev = 'cuda'
out = {'card': torch.cuda.get_device_name(), 'torch': torch.__version__}
flush = torch.empty(256 * 2**20, dtype=torch.uint8, device=dev)


def timed(fn, reps=20, warmup=3, flush_l2=True):
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    ts = []
    for i in range(reps):
        if flush_l2:
            flush.fill_(i & 255)
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        torch.cuda._sleep(20_000_000)  # keeps the GPU busy while the host queues fn
        a.record()
        fn()
        b.record()
        b.synchronize()
        ts.append(a.elapsed_time(b))
    return statistics.median(ts)


# F.linear at batch 1: weight (N, K) as nn.Linear stores it.
gemv = []
for K, N in [(2048, 2048), (2048, 512), (2048, 8192), (8192, 2048), (2048, 128256)]:
    x = torch.randn(1, K, device=dev, dtype=torch.bfloat16)
    w = torch.randn(N, K, device=dev, dtype=torch.bfloat16)
    ms = timed(lambda: F.linear(x, w))
    gemv.append({'K': K, 'N': N, 'ms': ms, 'GBps': N * K * 2 / ms / 1e6})
out['gemv'] = gemv
print('torch F.linear, batch 1, bf16 (L2 flushed):')
for g in gemv:
    print(f"  {g['K']:>5} -> {g['N']:<6} {g['ms'] * 1000:8.1f} us  {g['GBps']:7.0f} GB/s")

try:
    from transformers import LlamaConfig, LlamaForCausalLM
    from transformers.cache_utils import StaticCache

    cfg = LlamaConfig(hidden_size=2048, intermediate_size=8192, num_hidden_layers=args.layers, num_attention_heads=32,
                      num_key_value_heads=8, head_dim=64, vocab_size=128256, rms_norm_eps=1e-5, tie_word_embeddings=True,
                      max_position_embeddings=131072, rope_theta=500000.0,
                      rope_scaling={'rope_type': 'llama3', 'factor': 32.0, 'low_freq_factor': 1.0, 'high_freq_factor': 4.0,
                                    'original_max_position_embeddings': 8192})
    torch.manual_seed(0)
    with torch.device(dev):
        model = LlamaForCausalLM(cfg).to(torch.bfloat16).eval()
    weight_bytes = sum(p.numel() * p.element_size() for p in model.parameters())
    try:
        cache = StaticCache(config=cfg, max_batch_size=1, max_cache_len=args.cache, device=dev, dtype=torch.bfloat16)
    except TypeError:
        cache = StaticCache(config=cfg, max_cache_len=args.cache)
    prompt = 16
    with torch.no_grad():
        model(input_ids=torch.arange(1, prompt + 1, device=dev)[None], past_key_values=cache,
              cache_position=torch.arange(prompt, device=dev), use_cache=True)
        tok = torch.tensor([[7]], device=dev)
        pos = torch.tensor([prompt], device=dev)

        def step():
            return model(input_ids=tok, past_key_values=cache, cache_position=pos, use_cache=True).logits

        eager = timed(step, reps=10, flush_l2=False)
        s = torch.cuda.Stream()
        s.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(s):
            for _ in range(3):
                step()
        torch.cuda.current_stream().wait_stream(s)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            logits = step()
        replay = timed(graph.replay, reps=20, flush_l2=False)
        import time
        torch.cuda.synchronize()
        t = time.perf_counter()
        for _ in range(100):
            graph.replay()
            logits.argmax(-1).item()
        tps = 100 / (time.perf_counter() - t)
    out['decode'] = {'weightBytes': weight_bytes, 'eagerMs': eager, 'graphMs': replay, 'graphTokPerS': tps}
    print(f'torch decode step ({args.layers} layers, StaticCache {args.cache}): eager {eager:.3f} ms device, '
          f'CUDA graph {replay:.3f} ms device, {tps:.0f} tok/s with a token read each step; weights {weight_bytes / 2**30:.2f} GiB')
except Exception as e:  # the GEMV numbers above still stand
    print(f'torch decode step: failed: {type(e).__name__}: {e}', file=sys.stderr)
    out['decodeError'] = f'{type(e).__name__}: {e}'

if args.json:
    with open(args.json, 'w') as f:
        json.dump(out, f, indent=2)

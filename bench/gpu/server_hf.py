# Hugging Face transformers' side of bench/gpu/server.ts: batch `generate` at the same batch
# sizes (the clients' counts), Llama-3.2-1B shape, random bf16 weights, SDPA attention,
# greedy with the dynamic cache, exactly --tokens new tokens each. Prints one JSON line:
# {"tps": {"1": ..., "8": ..., "32": ...}, "prefillMs": {...}, "device", "torch", "transformers"}.
#   python3 bench/gpu/server_hf.py [--tokens 128] [--prompt 32] [--batches 1,8,32] [--smoke]
import argparse, json, time
import torch
import transformers
from transformers import LlamaConfig, LlamaForCausalLM

p = argparse.ArgumentParser()
p.add_argument('--tokens', type=int, default=128)
p.add_argument('--prompt', type=int, default=32)
p.add_argument('--batches', default='1,8,32')
p.add_argument('--smoke', action='store_true')
a = p.parse_args()
torch.manual_seed(0)

shape = dict(hidden_size=2048, num_hidden_layers=16, num_attention_heads=32, num_key_value_heads=8, head_dim=64,
             intermediate_size=8192, vocab_size=128256)
if a.smoke:
    shape = dict(hidden_size=64, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2, head_dim=16,
                 intermediate_size=128, vocab_size=512)
cfg = LlamaConfig(**shape, tie_word_embeddings=True, rms_norm_eps=1e-5, max_position_embeddings=131072, rope_theta=500000.0,
                  rope_scaling={'rope_type': 'llama3', 'factor': 32.0, 'low_freq_factor': 1.0, 'high_freq_factor': 4.0,
                                'original_max_position_embeddings': 8192},
                  attn_implementation='sdpa')
device = 'cuda' if torch.cuda.is_available() and not a.smoke else 'cpu'
dtype = torch.bfloat16 if device == 'cuda' else torch.float32
with torch.device(device):
    model = LlamaForCausalLM(cfg).to(dtype).eval()
out = {'torch': torch.__version__, 'transformers': transformers.__version__,
       'device': torch.cuda.get_device_name() if device == 'cuda' else 'cpu', 'tps': {}, 'prefillMs': {}}
gen = torch.Generator(device='cpu').manual_seed(7)

def sync():
    if device == 'cuda':
        torch.cuda.synchronize()

def timed(fn, reps):
    ts = []
    for i in range(reps + 1):
        sync(); t = time.perf_counter(); fn(); sync()
        if i: ts.append(time.perf_counter() - t)
    ts.sort()
    return ts[len(ts) // 2]

with torch.inference_mode():
    for B in [int(b) for b in a.batches.split(',')]:
        x = torch.randint(0, 1000, (B, a.prompt), generator=gen).to(device)
        mask = torch.ones_like(x)
        run = lambda n: model.generate(x, attention_mask=mask, max_new_tokens=n, min_new_tokens=n, do_sample=False, pad_token_id=0)
        out['prefillMs'][str(B)] = timed(lambda: run(1), 3) * 1e3
        out['tps'][str(B)] = B * a.tokens / timed(lambda: run(a.tokens), 1)
print(json.dumps(out))

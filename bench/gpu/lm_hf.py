# Hugging Face transformers' side of bench/gpu/lm.sh: the same shapes as lm.ts, random bf16
# weights, SDPA attention, greedy generate with the dynamic cache. Prints one JSON line.
#   python3 bench/gpu/lm_hf.py [--only prefill,decode1,decode32] [--tokens N]
import argparse, json, sys, time
import torch
import transformers
from transformers import LlamaConfig, LlamaForCausalLM

p = argparse.ArgumentParser()
p.add_argument('--only', default='prefill,decode1,decode32')
p.add_argument('--tokens', type=int, default=128)
a = p.parse_args()
only = set(a.only.split(','))
torch.manual_seed(0)

cfg = LlamaConfig(hidden_size=2048, num_hidden_layers=16, num_attention_heads=32, num_key_value_heads=8, head_dim=64,
                  intermediate_size=8192, vocab_size=128256, tie_word_embeddings=True, rms_norm_eps=1e-5,
                  max_position_embeddings=131072, rope_theta=500000.0,
                  rope_scaling={'rope_type': 'llama3', 'factor': 32.0, 'low_freq_factor': 1.0, 'high_freq_factor': 4.0,
                                'original_max_position_embeddings': 8192},
                  attn_implementation='sdpa')
with torch.device('cuda'):
    model = LlamaForCausalLM(cfg).to(torch.bfloat16).eval()
out = {'torch': torch.__version__, 'transformers': transformers.__version__, 'device': torch.cuda.get_device_name()}
gen = torch.Generator(device='cpu').manual_seed(7)

def timed(fn, reps=5):
    ts = []
    for i in range(reps + 1):
        torch.cuda.synchronize(); t = time.perf_counter(); fn(); torch.cuda.synchronize()
        if i: ts.append(time.perf_counter() - t)
    ts.sort(); return ts[len(ts) // 2]

with torch.inference_mode():
    if 'prefill' in only:
        x = torch.randint(0, 1000, (1, 2048), generator=gen).cuda()
        out['prefill2048'] = 2048 / timed(lambda: model(x))
    def decode(B):
        x = torch.randint(0, 1000, (B, 32), generator=gen).cuda()
        run = lambda: model.generate(x, attention_mask=torch.ones_like(x), max_new_tokens=a.tokens, min_new_tokens=a.tokens,
                                     do_sample=False, pad_token_id=0)
        run()  # warm-up
        torch.cuda.reset_peak_memory_stats()
        s = timed(run, reps=1)
        return B * a.tokens / s
    if 'decode1' in only: out['decode1'] = decode(1)
    if 'decode32' in only: out['decode32'] = decode(32)
print(json.dumps(out))

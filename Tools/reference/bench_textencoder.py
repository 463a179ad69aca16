"""PyTorch side of bench-textencoder: forward of a CLIP ViT-L/14-sized text encoder (SD 1.x's: 12 layers, width
768, 12 heads, MLP 3072, quick_gelu, vocab 49408), 77 tokens, batch 2, random weights, no_grad, transformers
5.24.0 CLIPTextModel with its default (sdpa) attention.

Run (from the repository root):  Tools/reference/.venv/bin/python Tools/reference/bench_textencoder.py [repetitions=10] [threads=2]
"""
import sys
import time

import torch
from transformers import CLIPTextConfig, CLIPTextModel

REPS = int(sys.argv[1]) if len(sys.argv) > 1 else 10
THREADS = int(sys.argv[2]) if len(sys.argv) > 2 else 2
torch.set_num_threads(THREADS)
torch.manual_seed(0)
config = CLIPTextConfig(vocab_size=49408, hidden_size=768, intermediate_size=3072, num_hidden_layers=12,
                        num_attention_heads=12, max_position_embeddings=77, hidden_act="quick_gelu", eos_token_id=2)
model = CLIPTextModel(config).eval()
ids = torch.randint(0, 49408, (2, 77))

with torch.no_grad():
    model(ids)  # warm-up
    times = []
    for _ in range(REPS):
        t0 = time.perf_counter()
        out = model(ids).last_hidden_state
        times.append(time.perf_counter() - t0)
        assert out.shape == (2, 77, 768)
times.sort()
flops = 2 * 154 * 12 * (4 * 768 * 768 + 2 * 768 * 3072) + 2 * 2 * 2 * 12 * 12 * 77 * 77 * 64
print(f"bench_textencoder.py (PyTorch {torch.__version__}): CLIP ViT-L/14 text, batch 2 x 77, threads {torch.get_num_threads()}, best of {REPS}")
print(f"forward  best {times[0] * 1e3:.1f} ms  median {times[len(times) // 2] * 1e3:.1f} ms  ({flops / times[0] * 1e-9:.1f} GFLOP/s at best)")

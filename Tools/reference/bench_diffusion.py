"""PyTorch side of bench-diffusion (Docs/PERFORMANCE.md, "Diffusion"): diffusers 0.42.1 UNet2DConditionModel on
PyTorch 2.13 CPU, 2 threads, the same shapes as Packages/Pipeline/Sources/bench-diffusion. One mode per process so
that the peak RSS belongs to that mode.

    Tools/reference/.venv/bin/python Tools/reference/bench_diffusion.py tiny [repeats]   # forward, forward+backward
    Tools/reference/.venv/bin/python Tools/reference/bench_diffusion.py sd15 [repeats]   # one CFG step at 512x512
"""
import resource
import sys
import time

import torch
from diffusers import UNet2DConditionModel

torch.set_num_threads(2)


def peak_rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def bench(label, fn, repeats, warmup=1):
    for _ in range(warmup):
        fn()
    walls, cpus = [], []
    for _ in range(repeats):
        c0, t0 = time.process_time(), time.perf_counter()
        fn()
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    walls.sort(), cpus.sort()
    print(f"{label}: median {walls[len(walls) // 2]:.4f} s wall, {cpus[len(cpus) // 2]:.4f} s CPU "
          f"(min {walls[0]:.4f}, max {walls[-1]:.4f}, {repeats} runs)")


mode = sys.argv[1] if len(sys.argv) > 1 else "tiny"
print(f"bench_diffusion {mode}: torch {torch.__version__}, {torch.get_num_threads()} threads")
if mode == "tiny":
    repeats = int(sys.argv[2]) if len(sys.argv) > 2 else 10
    torch.manual_seed(0)
    unet = UNet2DConditionModel(block_out_channels=(32, 64), layers_per_block=2, sample_size=32, in_channels=4,
                                out_channels=4, down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
                                up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"), cross_attention_dim=32,
                                attention_head_dim=8, norm_num_groups=32)
    g = torch.Generator().manual_seed(1)
    x, ctx = torch.randn(8, 4, 32, 32, generator=g), torch.randn(8, 77, 32, generator=g)
    t = torch.tensor([1, 100, 200, 300, 400, 500, 600, 999])

    def forward():
        with torch.no_grad():
            unet(x, t, encoder_hidden_states=ctx)

    def forward_backward():
        out = unet(x, t, encoder_hidden_states=ctx).sample
        out.square().mean().backward()
        unet.zero_grad(set_to_none=True)

    print(f"tiny U-Net: {sum(p.numel() for p in unet.parameters())} parameters")
    bench("tiny forward, batch 8, 32x32", forward, repeats)
    print(f"peak RSS after the forward runs {peak_rss_mib():.0f} MiB")
    bench("tiny forward+backward, batch 8, 32x32", forward_backward, repeats)
elif mode == "sd15":
    repeats = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    t0 = time.perf_counter()
    unet = UNet2DConditionModel(
        attention_head_dim=8, block_out_channels=(320, 640, 1280, 1280), cross_attention_dim=768,
        down_block_types=("CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"),
        in_channels=4, out_channels=4, layers_per_block=2, norm_num_groups=32, sample_size=64).eval()
    unet.requires_grad_(False)
    print(f"built SD 1.5 U-Net ({sum(p.numel() for p in unet.parameters())} parameters, random weights) in "
          f"{time.perf_counter() - t0:.1f} s; peak RSS {peak_rss_mib():.0f} MiB")
    g = torch.Generator().manual_seed(1)
    x, ctx = torch.randn(2, 4, 64, 64, generator=g), torch.randn(2, 77, 768, generator=g)

    def step():
        with torch.no_grad():
            unet(x, 500, encoder_hidden_states=ctx)

    bench("SD 1.5 U-Net step, 512x512, CFG batch 2", step, repeats)
else:
    sys.exit("usage: bench_diffusion.py tiny|sd15 [repeats]")
print(f"peak RSS {peak_rss_mib():.0f} MiB")

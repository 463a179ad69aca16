"""PyTorch side of bench-ops: the same ops and shapes as Tools/BenchOps/main.swift, same output format.

Run (from the repository root):  Tools/reference/.venv/bin/python Tools/reference/bench_ops.py [repetitions] [name filter]
Uses 2 intra-op threads (torch.set_num_threads(2)) to match the 2-core machine the Swift side runs on.
"""
import sys
import time

import torch
import torch.nn.functional as F

torch.set_num_threads(2)
REPS = int(sys.argv[1]) if len(sys.argv) > 1 else 5
FILTER = sys.argv[2] if len(sys.argv) > 2 else None  # run only benchmarks whose name contains it


def bench(name, flops, body):
    if FILTER and FILTER not in name:
        return
    body()
    best = float("inf")
    for _ in range(REPS):
        t0 = time.perf_counter()
        body()
        best = min(best, time.perf_counter() - t0)
    rate = f"{flops / best * 1e-9:8.2f} GFLOP/s" if flops > 0 else "       - GFLOP/s"
    print(f"{name:<44} {best * 1e3:10.3f} ms  {rate}")


def rnd(*shape):
    return torch.rand(*shape) * 2 - 1


print(f"bench-ops (PyTorch {torch.__version__}): threads {torch.get_num_threads()}, best of {REPS}")
torch.manual_seed(0)
with torch.no_grad():
    a, b = rnd(1024, 1024), rnd(1024, 1024)
    bench("sgemm 1024x1024x1024", 2 * 1024**3, lambda: a @ b)

x, w, bias = rnd(16, 64, 32, 32), rnd(64, 64, 3, 3), rnd(64)
flops = 2.0 * 16 * 64 * 32 * 32 * 64 * 9
with torch.no_grad():
    bench("conv2d 3x3 16x64x32x32 -> 64 fwd", flops, lambda: F.conv2d(x, w, bias, padding=1))
xg, wg, bg = x.clone().requires_grad_(), w.clone().requires_grad_(), bias.clone().requires_grad_()
gy = rnd(16, 64, 32, 32)


def conv_fwd_bwd():
    xg.grad = wg.grad = bg.grad = None
    F.conv2d(xg, wg, bg, padding=1).backward(gy)


bench("conv2d 3x3 16x64x32x32 -> 64 fwd+bwd", 3 * flops, conv_fwd_bwd)

# The bundled U-Net's 3x3 convolutions (bench-ops prints these for its default and im2col paths).
for c, side in [(32, 32), (64, 16)]:
    xs, ws, bs = rnd(16, c, side, side), rnd(c, c, 3, 3), rnd(c)
    gys = rnd(16, c, side, side)
    fl = 3 * 2.0 * 16 * c * side * side * c * 9
    xs.requires_grad_(); ws.requires_grad_(); bs.requires_grad_()

    def fwd_bwd(xs=xs, ws=ws, bs=bs, gys=gys):
        xs.grad = ws.grad = bs.grad = None
        F.conv2d(xs, ws, bs, padding=1).backward(gys)

    bench(f"conv2d 3x3 16x{c}x{side}x{side} fwd+bwd", fl, fwd_bwd)

q, k, v = rnd(8, 1024, 64), rnd(8, 1024, 64), rnd(8, 1024, 64)
flops = 4.0 * 8 * 1024 * 1024 * 64
with torch.no_grad():
    bench("attention 8x1024x64 fwd", flops, lambda: F.scaled_dot_product_attention(q, k, v))
qg, kg, vg = (t.clone().requires_grad_() for t in (q, k, v))
gy = rnd(8, 1024, 64)


def attn_fwd_bwd():
    qg.grad = kg.grad = vg.grad = None
    F.scaled_dot_product_attention(qg, kg, vg).backward(gy)


bench("attention 8x1024x64 fwd+bwd", 3 * flops, attn_fwd_bwd)

x, w, bias = rnd(16, 64, 32, 32), rnd(64), rnd(64)
with torch.no_grad():
    bench("group norm 16x64x32x32 g32 fwd", 0, lambda: F.group_norm(x, 32, w, bias))
xg, wg, bg = x.clone().requires_grad_(), w.clone().requires_grad_(), bias.clone().requires_grad_()
gy = rnd(16, 64, 32, 32)


def gn_fwd_bwd():
    xg.grad = wg.grad = bg.grad = None
    F.group_norm(xg, 32, wg, bg).backward(gy)


bench("group norm 16x64x32x32 g32 fwd+bwd", 0, gn_fwd_bwd)

x = rnd(16 * 1024, 1024)
with torch.no_grad():
    bench("softmax 16384x1024 last axis", 0, lambda: torch.softmax(x, dim=-1))

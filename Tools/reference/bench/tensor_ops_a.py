"""PyTorch timings of the ops in Packages/Tensor/Tests/TensorTests/OpsABenchmarkTests.swift (same shapes, best of 7).

Run from the repository root:  Tools/reference/.venv/bin/python Tools/reference/bench/tensor_ops_a.py [threads]
"""
import sys
import time

import torch
import torch.nn.functional as F

if len(sys.argv) > 1:
    torch.set_num_threads(int(sys.argv[1]))
print("torch", torch.__version__, "threads", torch.get_num_threads())
torch.manual_seed(0)
n = 1 << 22
a, b = torch.rand(n) * 2 - 1, torch.rand(n) * 2 - 1
m, row, col = torch.rand(8192, 512), torch.rand(512), torch.rand(8192, 1)
sq, sq2 = torch.rand(2048, 2048), torch.rand(2048, 2048)
acc = torch.rand(n)
f = 4


def bench(name, nbytes, fn):
    best, best_cpu = float("inf"), float("inf")
    for _ in range(7):
        c0 = time.process_time()
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
        best_cpu = min(best_cpu, time.process_time() - c0)
    print(f"{name:34s} wall {best * 1e3:8.3f} ms  {nbytes / best / 1e9:6.2f} GB/s   cpu {best_cpu * 1e3:8.3f} ms")


bench("add [4M]+[4M]", 3 * n * f, lambda: a + b)
bench("add [4M]+scalar", 2 * n * f, lambda: a + 1.5)
bench("add [8192,512]+[512] (row)", 2 * m.numel() * f, lambda: m + row)
bench("mul [8192,512]*[8192,1] (col)", 2 * m.numel() * f, lambda: m * col)
bench("add [2048,2048].T+[2048,2048]", 3 * sq.numel() * f, lambda: sq.T + sq2)
bench("+= [4M] in place", 3 * n * f, lambda: acc.add_(b))
bench("exp [4M]", 2 * n * f, lambda: a.exp())
bench("gelu [4M]", 2 * n * f, lambda: F.gelu(a))
bench("gelu tanh [4M]", 2 * n * f, lambda: F.gelu(a, approximate="tanh"))
bench("silu [4M]", 2 * n * f, lambda: F.silu(a))
bench("geluBackward [4M]", 3 * n * f, lambda: torch.ops.aten.gelu_backward(b, a))
bench("softmax [8192,512] axis -1", 2 * m.numel() * f, lambda: torch.softmax(m, -1))
bench("logSoftmax [8192,512] axis -1", 2 * m.numel() * f, lambda: torch.log_softmax(m, -1))
bench("softmax [8192,512] axis 0", 2 * m.numel() * f, lambda: torch.softmax(m, 0))
bench("sum [4M] all", n * f, lambda: a.sum())
bench("sum [8192,512] axis -1", m.numel() * f, lambda: m.sum(-1))
bench("sumToShape [8192,512]->[512]", m.numel() * f, lambda: m.sum(0))
bench("variance [8192,512] axis -1", m.numel() * f, lambda: m.var(-1, unbiased=False))
bench("max [8192,512] axis -1", m.numel() * f, lambda: m.max(-1).values)
bench("concat 2x[8192,512] axis 1", 4 * m.numel() * f, lambda: torch.cat([m, m], 1))
bench("where [8192,512]", 4 * m.numel() * f, lambda: torch.where(m != 0, m, row))

// bench-diffusion: U-Net timings for Docs/PERFORMANCE.md ("Diffusion"), side by side with
// Tools/reference/bench_diffusion.py (diffusers on PyTorch CPU). One mode per process, so that the peak RSS
// (getrusage ru_maxrss) belongs to that mode alone.
//
//   bench-diffusion tiny [repeats]   tiny SD-1.x test U-Net (block_out_channels (32, 64), 2 layers per block,
//                                    cross_attention_dim 32) at 32x32, batch 8, context [8, 77, 32]:
//                                    forward (no graph) and forward + backward (loss mean(out^2), all parameters)
//   bench-diffusion sd15 [repeats]   SD 1.5's U-Net (859.5M parameters, random weights) at 512x512 (latent 64x64),
//                                    CFG batch 2, context [2, 77, 768]: one denoising step (forward, no graph)
//   --blas-threads N                 sets OpenBLAS's thread count (default: OpenBLAS's own, 2 here)
import Autodiff
import DataIO
import Diffusion
import Foundation
import NN
import Tensor

#if os(Linux)
let rusageSelf = __rusage_who_t(RUSAGE_SELF.rawValue)
#else
let rusageSelf = RUSAGE_SELF
#endif

func peakRSSMiB() -> Double {
    var usage = rusage()
    getrusage(rusageSelf, &usage)
    #if os(Linux)
    return Double(usage.ru_maxrss) / 1024  // KiB
#else
    return Double(usage.ru_maxrss) / 1024 / 1024  // bytes
#endif
}

func cpuSeconds() -> Double {
    var usage = rusage()
    getrusage(rusageSelf, &usage)
    return Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6
        + Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) / 1e6
}

/// Runs `body` `warmup` + `repeats` times; prints and returns the median wall seconds (and CPU seconds) of the timed runs.
@discardableResult
func time(_ label: String, warmup: Int = 1, repeats: Int, _ body: () -> Void) -> Double {
    for _ in 0..<warmup { body() }
    var walls: [Double] = [], cpus: [Double] = []
    for _ in 0..<repeats {
        let c0 = cpuSeconds(), t0 = Date()
        body()
        walls.append(Date().timeIntervalSince(t0))
        cpus.append(cpuSeconds() - c0)
    }
    let median = walls.sorted()[walls.count / 2], cpu = cpus.sorted()[cpus.count / 2]
    print(String(format: "%@: median %.4f s wall, %.4f s CPU (min %.4f, max %.4f, %d runs)", label, median, cpu,
                 walls.min()!, walls.max()!, repeats))
    return median
}

func config(_ json: String) throws -> UNet2DConditionConfig {
    try ConfigFile.decode(UNet2DConditionConfig.self, from: Data(json.utf8), name: "bench config")
}

let tinyConfig = """
{"block_out_channels": [32, 64], "layers_per_block": 2, "sample_size": 32, "in_channels": 4, "out_channels": 4,
 "down_block_types": ["CrossAttnDownBlock2D", "DownBlock2D"], "up_block_types": ["UpBlock2D", "CrossAttnUpBlock2D"],
 "cross_attention_dim": 32, "attention_head_dim": 8, "norm_num_groups": 32}
"""
let sd15Config = """
{"act_fn": "silu", "attention_head_dim": 8, "block_out_channels": [320, 640, 1280, 1280], "center_input_sample": false,
 "cross_attention_dim": 768, "down_block_types": ["CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"],
 "downsample_padding": 1, "flip_sin_to_cos": true, "freq_shift": 0, "in_channels": 4, "layers_per_block": 2,
 "mid_block_scale_factor": 1, "norm_eps": 1e-05, "norm_num_groups": 32, "out_channels": 4, "sample_size": 64,
 "up_block_types": ["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"]}
"""

var args = CommandLine.arguments
if let i = args.firstIndex(of: "--blas-threads"), i + 1 < args.count, let n = Int(args[i + 1]) {
    BLAS.threads = n   // e.g. 1: single-threaded GEMMs, to separate BLAS threading from the rest under load
    args.removeSubrange(i...(i + 1))
}
let mode = args.count > 1 ? args[1] : "tiny"
setvbuf(stdout, nil, _IOLBF, 0)
print("bench-diffusion \(mode): BLAS \(BLAS.coreName), \(BLAS.threads) threads, \(ProcessInfo.processInfo.activeProcessorCount) cores")
switch mode {
case "tiny":
    let repeats = args.count > 2 ? Int(args[2])! : 10
    let t0 = Date()
    let unet = try UNet2DConditionModel(config: config(tinyConfig), seed: 0)
    print(String(format: "built tiny U-Net (%d parameters) in %.2f s", unet.store.stateDict().values.reduce(0) { $0 + $1.count },
                 Date().timeIntervalSince(t0)))
    var g = TorchGenerator(seed: 1)
    let x = g.randn([8, 4, 32, 32]), ctx = g.randn([8, 77, 32])
    let timesteps: [Float] = [1, 100, 200, 300, 400, 500, 600, 999]
    time("tiny forward, batch 8, 32x32", repeats: repeats) {
        _ = GradMode.noGrad { unet.predict(Variable(x), timesteps: timesteps, context: Variable(ctx)).value }
    }
    print(String(format: "peak RSS after the forward runs %.0f MiB", peakRSSMiB()))
    time("tiny forward+backward, batch 8, 32x32", repeats: repeats) {
        let out = unet.predict(Variable(x), timesteps: timesteps, context: Variable(ctx))
        out.square().mean().backward()
        unet.store.zeroGrad()
    }
case "sd15":
    let repeats = args.count > 2 ? Int(args[2])! : 3
    let t0 = Date()
    let unet = try UNet2DConditionModel(config: config(sd15Config), seed: 0)
    _ = unet.store.freeze()
    print(String(format: "built SD 1.5 U-Net (%d parameters, random weights) in %.1f s; peak RSS %.0f MiB",
                 unet.store.stateDict().values.reduce(0) { $0 + $1.count }, Date().timeIntervalSince(t0), peakRSSMiB()))
    var g = TorchGenerator(seed: 1)
    let x = g.randn([2, 4, 64, 64]), ctx = g.randn([2, 77, 768])
    time("SD 1.5 U-Net step, 512x512, CFG batch 2", repeats: repeats) {
        _ = GradMode.noGrad { unet.predict(Variable(x), timestep: 500, context: Variable(ctx)).value }
    }
default:
    print("usage: bench-diffusion [--blas-threads N] tiny|sd15 [repeats]")
    exit(2)
}
print(String(format: "peak RSS %.0f MiB", peakRSSMiB()))

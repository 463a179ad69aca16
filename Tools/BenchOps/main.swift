// bench-ops: time per call and GFLOP/s of the Tensor package's heavy ops, best of N repetitions.
// Run with `swift run -c release bench-ops [repetitions] [name filter]`; Tools/reference/bench_ops.py runs the same shapes in
// PyTorch and prints the same format. Results are recorded in Docs/PERFORMANCE.md ("Tensor ops").
import Foundation
import Tensor
import ToolSupport

/// First argument: timed repetitions per benchmark, 1...10000 (default 5); anything else is an error, not 5.
let repetitions: Int
do {
    repetitions = CommandLine.arguments.count > 1
        ? try OptionCheck.parseInteger("repetitions", CommandLine.arguments[1], .within(1...10_000)) : 5
} catch {
    FileHandle.standardError.write(Data("bench-ops: \(error)\nusage: bench-ops [repetitions] [name filter]\n".utf8))
    exit(2)
}
/// Optional second argument: run only the benchmarks whose name contains it (for example "attention").
let filter = CommandLine.arguments.count > 2 ? CommandLine.arguments[2] : nil

/// Uniform values in [-1, 1) from a 64-bit LCG.
func random(_ shape: [Int], seed: UInt64) -> Tensor {
    var s = seed &* 6364136223846793005 &+ 1442695040888963407
    var t = Tensor(uninitializedShape: shape)
    t.withMutableBuffer { buf in
        for i in buf.indices {
            s = s &* 6364136223846793005 &+ 1442695040888963407
            buf[i] = Float(s >> 40) / Float(1 << 23) - 1
        }
    }
    return t
}

func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) * 1e-9 }

/// Runs `body` once to warm up, then `repetitions` times; prints the best time and GFLOP/s (when `flops` > 0).
func bench(_ name: String, flops: Double, _ body: () -> Void) {
    if let filter, !name.contains(filter) { return }
    body()
    var best = Double.infinity
    for _ in 0..<repetitions {
        let t0 = now()
        body()
        best = min(best, now() - t0)
    }
    let rate = flops > 0 ? String(format: "%8.2f GFLOP/s", flops / best * 1e-9) : "       - GFLOP/s"
    let padded = name.count < 44 ? name + String(repeating: " ", count: 44 - name.count) : name
    print(padded + String(format: " %10.3f ms  ", best * 1e3) + rate)
}

print("bench-ops (Swift): kernel \(BLAS.coreName), BLAS threads \(BLAS.threads), workers \(Parallel.workers), best of \(repetitions)")

do {  // sgemm 1024^3
    let n = 1024
    let a = random([n, n], seed: 1), b = random([n, n], seed: 2)
    bench("sgemm 1024x1024x1024", flops: 2 * pow(Double(n), 3)) { _ = Tensor.matmul(a, b) }
}

do {  // conv2d 3x3, [16, 64, 32, 32] -> 64 channels, padding 1
    let x = random([16, 64, 32, 32], seed: 3), w = random([64, 64, 3, 3], seed: 4), b = random([64], seed: 5)
    let flops = 2.0 * 16 * 64 * 32 * 32 * 64 * 9
    bench("conv2d 3x3 16x64x32x32 -> 64 fwd", flops: flops) {
        _ = Tensor.conv2d(x, weight: w, bias: b, stride: 1, padding: 1)
    }
    let gy = random([16, 64, 32, 32], seed: 6)
    bench("conv2d 3x3 16x64x32x32 -> 64 fwd+bwd", flops: 3 * flops) {
        _ = Tensor.conv2d(x, weight: w, bias: b, stride: 1, padding: 1)
        _ = Tensor.conv2dBackwardInput(gy, weight: w, inputShape: x.shape, stride: 1, padding: 1)
        _ = Tensor.conv2dBackwardWeight(gy, input: x, weightShape: w.shape, stride: 1, padding: 1)
        _ = Tensor.conv2dBackwardBias(gy)
    }
}

// The bundled U-Net's 3x3 convolutions at batch 16 (32 channels at 32x32, 64 at 16x16), forward + both gradients,
// with the shifted-GEMM path (default: forward and dX) and with im2col for all three.
for (c, side) in [(32, 32), (64, 16)] {
    let x = random([16, c, side, side], seed: 11), w = random([c, c, 3, 3], seed: 12), b = random([c], seed: 13)
    let gy = random([16, c, side, side], seed: 14)
    let flops = 3 * 2.0 * 16 * Double(c * side * side * c * 9)
    for shifted in [true, false] {
        Tensor.shiftedConvolutions = shifted
        let path = shifted ? "default" : "im2col"
        bench("conv2d 3x3 16x\(c)x\(side)x\(side) fwd \(path)", flops: flops / 3) {
            _ = Tensor.conv2d(x, weight: w, bias: b, stride: 1, padding: 1)
        }
        bench("conv2d 3x3 16x\(c)x\(side)x\(side) dX \(path)", flops: flops / 3) {
            _ = Tensor.conv2dBackwardInput(gy, weight: w, inputShape: x.shape, stride: 1, padding: 1)
        }
        bench("conv2d 3x3 16x\(c)x\(side)x\(side) dW \(path)", flops: flops / 3) {
            _ = Tensor.conv2dBackwardWeight(gy, input: x, weightShape: w.shape, stride: 1, padding: 1)
        }
        bench("conv2d 3x3 16x\(c)x\(side)x\(side) fwd+bwd \(path)", flops: flops) {
            _ = Tensor.conv2d(x, weight: w, bias: b, stride: 1, padding: 1)
            _ = Tensor.conv2dBackwardInput(gy, weight: w, inputShape: x.shape, stride: 1, padding: 1)
            _ = Tensor.conv2dBackwardWeight(gy, input: x, weightShape: w.shape, stride: 1, padding: 1)
        }
    }
    Tensor.shiftedConvolutions = true
}

do {  // self-attention, 8 heads x 1024 tokens x 64
    let shape = [8, 1024, 64]
    let q = random(shape, seed: 7), k = random(shape, seed: 8), v = random(shape, seed: 9)
    let flops = 4.0 * 8 * 1024 * 1024 * 64
    bench("attention 8x1024x64 fwd", flops: flops) { _ = Tensor.scaledDotProductAttention(q, k, v) }
    let gy = random(shape, seed: 10)
    bench("attention 8x1024x64 fwd+bwd", flops: 3 * flops) {
        let f = Tensor.attentionForward(q, k, v)
        _ = Tensor.attentionBackward(gy, q: q, k: k, v: v, probabilities: f.probabilities)
    }
}

do {  // group norm [16, 64, 32, 32], 32 groups
    let x = random([16, 64, 32, 32], seed: 11), w = random([64], seed: 12), b = random([64], seed: 13)
    bench("group norm 16x64x32x32 g32 fwd", flops: 0) { _ = Tensor.groupNorm(x, groups: 32, weight: w, bias: b) }
    let gy = random(x.shape, seed: 14)
    bench("group norm 16x64x32x32 g32 fwd+bwd", flops: 0) {
        let f = Tensor.groupNormForward(x, groups: 32, weight: w, bias: b)
        _ = Tensor.groupNormBackward(gy, x: x, mean: f.mean, rstd: f.rstd, groups: 32, weight: w)
    }
}

do {  // softmax over the last axis of [16384, 1024]
    let x = random([16 * 1024, 1024], seed: 15)
    bench("softmax 16384x1024 last axis", flops: 0) { _ = x.softmax(axis: -1) }
}

import Foundation
import Tensor
import XCTest

/// Timings of the group-A ops (elementwise, reductions, softmax, joining). Skipped unless TENSOR_BENCH=1:
///   TENSOR_BENCH=1 swift test -c release --package-path Packages/Tensor --filter OpsABenchmarkTests
/// Tools/reference/bench/tensor_ops_a.py times the same ops in PyTorch.
final class OpsABenchmarkTests: XCTestCase {
    /// Process CPU time (all threads), to tell contention on a shared machine from slow code.
    func cpuSeconds() -> Double { Double(clock()) / Double(CLOCKS_PER_SEC) }

    func time(_ name: String, bytes: Int, _ body: () -> Tensor) {
        var best = Double.infinity, bestCPU = Double.infinity
        var sink: Float = 0
        for _ in 0..<7 {
            let c0 = cpuSeconds()
            let t0 = DispatchTime.now().uptimeNanoseconds
            let r = body()
            let dt = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
            bestCPU = Swift.min(bestCPU, cpuSeconds() - c0)
            sink += r.count > 0 ? r.storage.pointer[0] : 0
            best = Swift.min(best, dt)
        }
        print(String(format: "%-34@ wall %8.3f ms  %6.2f GB/s   cpu %8.3f ms", name as NSString, best * 1e3,
                     Double(bytes) / best / 1e9, bestCPU * 1e3), sink.isNaN ? "" : "")
    }

    func testBenchmarkReport() throws {
        guard ProcessInfo.processInfo.environment["TENSOR_BENCH"] == "1" else { throw XCTSkip("set TENSOR_BENCH=1") }
        print("workers: \(Parallel.workers)")
        var rng = OpsA.Rng(99)
        let n = 1 << 22
        let a = rng.tensor([n]), b = rng.tensor([n])
        let m = rng.tensor([8192, 512]), row = rng.tensor([512]), col = rng.tensor([8192, 1])
        let sq = rng.tensor([2048, 2048]), sq2 = rng.tensor([2048, 2048])
        let f = 4  // bytes per element
        time("add [4M]+[4M]", bytes: 3 * n * f) { a + b }
        time("add [4M]+scalar", bytes: 2 * n * f) { a + 1.5 }
        time("add [8192,512]+[512] (row)", bytes: 2 * m.count * f) { m + row }
        time("mul [8192,512]*[8192,1] (col)", bytes: 2 * m.count * f) { m * col }
        time("add [2048,2048].T+[2048,2048]", bytes: 3 * sq.count * f) { sq.T + sq2 }
        var acc = rng.tensor([n])
        time("+= [4M] in place", bytes: 3 * n * f) { acc += b; return acc }
        time("exp [4M]", bytes: 2 * n * f) { a.exp() }
        time("gelu [4M]", bytes: 2 * n * f) { a.gelu() }
        time("gelu tanh [4M]", bytes: 2 * n * f) { a.gelu(approximate: .tanh) }
        time("silu [4M]", bytes: 2 * n * f) { a.silu() }
        time("geluBackward [4M]", bytes: 3 * n * f) { Tensor.geluBackward(b, a) }
        time("softmax [8192,512] axis -1", bytes: 2 * m.count * f) { m.softmax(axis: -1) }
        time("logSoftmax [8192,512] axis -1", bytes: 2 * m.count * f) { m.logSoftmax(axis: -1) }
        time("softmax [8192,512] axis 0", bytes: 2 * m.count * f) { m.softmax(axis: 0) }
        time("sum [4M] all", bytes: n * f) { a.sum() }
        time("sum [8192,512] axis -1", bytes: m.count * f) { m.sum(axis: -1) }
        time("sumToShape [8192,512]->[512]", bytes: m.count * f) { m.sumToShape([512]) }
        time("variance [8192,512] axis -1", bytes: m.count * f) { m.variance(axes: [-1]) }
        time("max [8192,512] axis -1", bytes: m.count * f) { m.max(axis: -1) }
        time("concat 2x[8192,512] axis 1", bytes: 4 * m.count * f) { Tensor.concat([m, m], axis: 1) }
        time("copy [8192,512] contiguous()", bytes: 2 * m.count * f) { Tensor(copying: m) }
        time("padded [8192,512] axis 1 +1", bytes: 2 * m.count * f) { m.padded(axis: 1, before: 0, after: 1) }
        time("concat 2x[8192,512] axis 0", bytes: 4 * m.count * f) { Tensor.concat([m, m], axis: 0) }
        time("where [8192,512]", bytes: 4 * m.count * f) { Tensor.where(m, m, row) }
    }
}

import XCTest
import Tensor

/// Products large enough to be split into panels across `Parallel.workers`, and batches of small products run in
/// parallel across entries, must equal a Double reference (and, up to rounding, the same product on one worker).
final class GemmThreadingTests: XCTestCase {
    private func naive(_ a: Tensor, _ b: Tensor) -> [Float] {
        OpsB.naiveMatmul(a.scalars, b.scalars, m: a.shape[0], k: a.shape[1], n: b.shape[1])
    }

    private func onOneWorker<T>(_ body: () -> T) -> T {
        let saved = Parallel.workers
        Parallel.workers = 1
        defer { Parallel.workers = saved }
        return body()
    }

    func testOpenBLASRunsSingleThreaded() {
        _ = Tensor.matmul(OpsB.random([2, 2], seed: 0), OpsB.random([2, 2], seed: 1))
        XCTAssertEqual(BLAS.threads, 1, "the Tensor package is the only threading layer")
    }

    func testSplitProductsMatchReference() {
        // Wide C (split by columns), tall narrow C (split by rows), odd sizes, transposed operands, beta = 1 (bias).
        for (m, k, n, seed) in [(96, 300, 211, 1), (2100, 64, 8, 2), (33, 1030, 70, 3)] {
            let a = OpsB.random([m, k], seed: UInt64(seed)), b = OpsB.random([k, n], seed: UInt64(seed + 10))
            let ref = naive(a, b)
            let c = Tensor.matmul(a, b)
            OpsB.assertArray(c.scalars, ref, accuracy: 2e-4)
            // Panels may take OpenBLAS's edge kernels, so the last bits can differ from the unsplit product.
            OpsB.assertArray(c.scalars, onOneWorker { Tensor.matmul(a, b) }.scalars, accuracy: 1e-4)
            OpsB.assertArray(Tensor.matmul(a.T.contiguous(), b.T.contiguous(), transposeA: true, transposeB: true).scalars,
                             ref, accuracy: 2e-4)
            let bias = OpsB.random([n], seed: UInt64(seed + 20))
            let lin = Tensor.linear(a, weight: b.T.contiguous(), bias: bias)
            let bs = bias.scalars
            OpsB.assertArray(lin.scalars, ref.enumerated().map { $0.element + bs[$0.offset % n] }, accuracy: 2e-4)
        }
    }

    func testBatchedSmallProductsMatchReference() {
        let a = OpsB.random([64, 20, 16], seed: 5), b = OpsB.random([64, 16, 24], seed: 6)
        let c = Tensor.matmul(a, b)
        for i in [0, 17, 63] {
            OpsB.assertArray(c.selecting(axis: 0, index: i).scalars,
                             naive(a.selecting(axis: 0, index: i), b.selecting(axis: 0, index: i)), accuracy: 1e-4)
        }
        // Each entry is its own 20x16x24 product; on one worker they may reach OpenBLAS through another call shape, so
        // they agree up to the rounding of a 16-term dot product of values below 1 in magnitude (random in [-1, 1)).
        OpsB.assertArray(c.scalars, onOneWorker { Tensor.matmul(a, b) }.scalars,
                         accuracy: OpsB.summationBound(terms: 16, magnitude: 16))
    }
}

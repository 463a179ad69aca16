import XCTest
import Tensor

final class MatMulTests: XCTestCase {
    private func naive(_ a: [Float], _ b: [Float], m: Int, k: Int, n: Int) -> [Float] {
        OpsB.naiveMatmul(a, b, m: m, k: k, n: n)
    }

    func testAgainstPyTorch2D() {
        OpsB.assertClose(Tensor.matmul(OpsB.t("mm.a"), OpsB.t("mm.b")), OpsB.t("mm.out"), "mm")
        OpsB.assertClose(OpsB.t("mm.a").matmul(OpsB.t("mm.b")), OpsB.t("mm.out"), "mm method")
        // a^T b^T by flags and by transposed views (column-major operands, passed with CblasTrans).
        let a = OpsB.t("mmT.a"), b = OpsB.t("mmT.b")
        OpsB.assertClose(Tensor.matmul(a, b, transposeA: true, transposeB: true), OpsB.t("mmT.out"), "mmT flags")
        OpsB.assertClose(Tensor.matmul(a.T, b.T), OpsB.t("mmT.out"), "mmT views")
        OpsB.assertClose(Tensor.matmul(a.T, b, transposeB: true), OpsB.t("mmT.out"), "mmT mixed")
    }

    func testAgainstPyTorchBatchedAndBroadcast() {
        OpsB.assertClose(Tensor.matmul(OpsB.t("bmm.a"), OpsB.t("bmm.b")), OpsB.t("bmm.out"), "bmm broadcast")
        let a = OpsB.t("bmmT.a"), b = OpsB.t("bmmT.b")
        OpsB.assertClose(Tensor.matmul(a, b, transposeB: true), OpsB.t("bmmT.out"), "bmm b^T")
        OpsB.assertClose(Tensor.matmul(a, b.transposed(-1, -2)), OpsB.t("bmmT.out"), "bmm b^T view")
    }

    func testLinearAgainstPyTorch() {
        let x = OpsB.t("linear.x"), w = OpsB.t("linear.w"), b = OpsB.t("linear.b")
        OpsB.assertClose(Tensor.linear(x, weight: w, bias: b), OpsB.t("linear.out"), "linear")
        // Without bias it is x @ W^T; a transposed (column-major) weight view gives the same result.
        let noBias = Tensor.linear(x, weight: w)
        OpsB.assertClose(noBias, Tensor.matmul(x, w, transposeB: true), "linear no bias")
        OpsB.assertClose(Tensor.linear(x, weight: w.T.contiguous().T, bias: b), OpsB.t("linear.out"), "linear strided weight")
        // Non-contiguous input (a permuted view) is handled too.
        let xp = x.permuted([1, 0, 2])
        OpsB.assertClose(Tensor.linear(xp, weight: w, bias: b), OpsB.t("linear.out").permuted([1, 0, 2]).contiguous(), "linear permuted x")
    }

    func testStridedOperandsNeedingCopyAndBatchLayouts() {
        // Last axis stride 2 (neither row- nor column-major): must be copied, result still exact.
        let big = OpsB.random([6, 10], seed: 1)
        let a = big.sliced(axis: 1, start: 0, step: 2)  // [6, 5], column stride 2
        XCTAssertFalse(a.isContiguous)
        let b = OpsB.random([5, 3], seed: 2)
        OpsB.assertArray(Tensor.matmul(a, b).scalars, naive(a.scalars, b.scalars, m: 6, k: 5, n: 3).map { $0 },
                         accuracy: 1e-5)
        // Batched with a shared B (one tall GEMM) vs per-batch GEMMs with transposed A blocks.
        let x = OpsB.random([3, 4, 5], seed: 3), w = OpsB.random([5, 7], seed: 4)
        let y = Tensor.matmul(x, w)
        for i in 0..<3 {
            let ref = naive(x.selecting(axis: 0, index: i).scalars, w.scalars, m: 4, k: 5, n: 7)
            OpsB.assertArray(y.selecting(axis: 0, index: i).scalars, ref, accuracy: 1e-5)
        }
        let xt = OpsB.random([3, 5, 4], seed: 5)
        let yt = Tensor.matmul(xt, w, transposeA: true)
        for i in 0..<3 {
            let ref = naive(xt.selecting(axis: 0, index: i).T.scalars, w.scalars, m: 4, k: 5, n: 7)
            OpsB.assertArray(yt.selecting(axis: 0, index: i).scalars, ref, accuracy: 1e-5)
        }
        // Heads split by a permute: [B, L, H, D] -> [B, H, L, D] has row stride H*D (passed with lda, no copy).
        let q = OpsB.random([2, 6, 3, 4], seed: 6).permuted([0, 2, 1, 3])
        let s = Tensor.matmul(q, q, transposeB: true)
        XCTAssertEqual(s.shape, [2, 3, 6, 6])
        let qc = q.contiguous()
        for bi in 0..<2 {
            for h in 0..<3 {
                let m = qc.selecting(axis: 0, index: bi).selecting(axis: 0, index: h)
                OpsB.assertArray(s.selecting(axis: 0, index: bi).selecting(axis: 0, index: h).scalars,
                               naive(m.scalars, m.T.scalars, m: 6, k: 4, n: 6), accuracy: 1e-5)
            }
        }
    }

    func testVectorsAndEmpty() {
        let m = OpsB.random([3, 4], seed: 7), v = OpsB.random([4], seed: 8)
        let mv = Tensor.matmul(m, v)
        XCTAssertEqual(mv.shape, [3])
        OpsB.assertArray(mv.scalars, naive(m.scalars, v.scalars, m: 3, k: 4, n: 1), accuracy: 1e-5)
        let u = OpsB.random([3], seed: 9)
        let um = Tensor.matmul(u, m)
        XCTAssertEqual(um.shape, [4])
        OpsB.assertArray(um.scalars, naive(u.scalars, m.scalars, m: 1, k: 3, n: 4), accuracy: 1e-5)
        XCTAssertEqual(Tensor.matmul(v, v).shape, [])
        XCTAssertEqual(Tensor.matmul(v, v).item(), naive(v.scalars, v.scalars, m: 1, k: 4, n: 1)[0], accuracy: 1e-5)
        let z = Tensor.matmul(Tensor(shape: [2, 0], scalars: []), Tensor(shape: [0, 3], scalars: []))
        XCTAssertEqual(z.shape, [2, 3])
        XCTAssertEqual(z.scalars, [Float](repeating: 0, count: 6))
    }
}

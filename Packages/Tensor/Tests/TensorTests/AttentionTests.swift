import Foundation
import XCTest
import Tensor

final class AttentionTests: XCTestCase {
    private func check(_ c: String, causal: Bool, scale: Float?, file: StaticString = #filePath, line: UInt = #line) {
        let q = OpsB.t("\(c).q"), k = OpsB.t("\(c).k"), v = OpsB.t("\(c).v"), gy = OpsB.t("\(c).gy")
        let mask = OpsB.has("\(c).mask") ? OpsB.t("\(c).mask") : nil
        let y = Tensor.scaledDotProductAttention(q, k, v, mask: mask, causal: causal, scale: scale)
        OpsB.assertClose(y, OpsB.t("\(c).out"), "\(c) forward", file: file, line: line)
        let f = Tensor.attentionForward(q, k, v, mask: mask, causal: causal, scale: scale)
        OpsB.assertClose(f.output, OpsB.t("\(c).out"), "\(c) attentionForward", file: file, line: line)
        let rowSums = f.probabilities.reshaped([-1, k.shape[k.rank - 2]]).scalars
        XCTAssertEqual(rowSums.prefix(k.shape[k.rank - 2]).reduce(0, +), 1, accuracy: 1e-5, file: file, line: line)
        let g = Tensor.attentionBackward(gy, q: q, k: k, v: v, probabilities: f.probabilities, scale: scale)
        OpsB.assertClose(g.dq, OpsB.t("\(c).gq"), atol: 2e-4, "\(c) grad q", file: file, line: line)
        OpsB.assertClose(g.dk, OpsB.t("\(c).gk"), atol: 2e-4, "\(c) grad k", file: file, line: line)
        OpsB.assertClose(g.dv, OpsB.t("\(c).gv"), atol: 2e-4, "\(c) grad v", file: file, line: line)
    }

    func testMaskedAgainstPyTorch() { check("sdpa_mask", causal: false, scale: nil) }
    func testCausalAgainstPyTorch() { check("sdpa_causal", causal: true, scale: nil) }
    func testCustomScaleAgainstPyTorch() { check("sdpa_scale", causal: false, scale: 0.3) }

    /// Masked keys get exactly zero probability; a fully masked query row gives zero output.
    func testMaskedKeysAndFullyMaskedRow() {
        let c = "sdpa_mask"
        let q = OpsB.t("\(c).q"), k = OpsB.t("\(c).k"), v = OpsB.t("\(c).v"), mask = OpsB.t("\(c).mask")
        let p = Tensor.attentionForward(q, k, v, mask: mask).probabilities
        let ms = mask.scalars, ps = p.scalars
        for (i, pv) in ps.enumerated() where ms[i % ms.count] == -.infinity { XCTAssertEqual(pv, 0) }
        var m2 = Tensor(shape: [1, 20], repeating: 0)
        m2.withMutableBuffer { $0.update(repeating: -.infinity) }
        let y = Tensor.scaledDotProductAttention(q, k, v, mask: m2)
        XCTAssertEqual(y.scalars, [Float](repeating: 0, count: y.count))
    }

    /// Heads split by a permute (strided views straight into sgemm) give the same result as contiguous inputs.
    func testPermutedHeadsMatchContiguous() {
        let qkv = OpsB.random([2, 12, 3, 2, 8], seed: 51)  // [B, L, (q,k,v), H, D]
        func part(_ i: Int) -> Tensor { qkv.selecting(axis: 2, index: i).permuted([0, 2, 1, 3]) }  // [B, H, L, D]
        let (q, k, v) = (part(0), part(1), part(2))
        XCTAssertFalse(q.isContiguous)
        let f = Tensor.attentionForward(q, k, v, causal: true)
        let fc = Tensor.attentionForward(q.contiguous(), k.contiguous(), v.contiguous(), causal: true)
        OpsB.assertClose(f.output, fc.output, atol: 1e-6, "strided forward")
        let g = OpsB.random(f.output.shape, seed: 52)
        let a = Tensor.attentionBackward(g.permuted([0, 2, 1, 3]).contiguous().permuted([0, 2, 1, 3]), q: q, k: k, v: v,
                                         probabilities: f.probabilities)
        let b = Tensor.attentionBackward(g, q: q.contiguous(), k: k.contiguous(), v: v.contiguous(), probabilities: fc.probabilities)
        OpsB.assertClose(a.dq, b.dq, atol: 1e-6, "strided dq")
        OpsB.assertClose(a.dk, b.dk, atol: 1e-6, "strided dk")
        OpsB.assertClose(a.dv, b.dv, atol: 1e-6, "strided dv")
    }

    /// Long key sequences: the inference path cuts the queries into tiles; compare with a Double reference.
    func testTiledLongSequenceAgainstReference() {
        let lq = 1100, lk = 2048, d = 8
        let q = OpsB.random([1, lq, d], seed: 61), k = OpsB.random([1, lk, d], seed: 62), v = OpsB.random([1, lk, d], seed: 63)
        let mask = OpsB.random([lk], seed: 64)  // broadcast over queries
        let q3 = Tensor(shape: q.shape, scalars: q.scalars.map { $0 * 3 })  // sharper rows
        let y = Tensor.scaledDotProductAttention(q3, k, v, mask: mask, causal: true)
        let qs = q3.scalars, ks = k.scalars, vs = v.scalars, ms = mask.scalars, ys = y.scalars
        let scale = 1 / Double(d).squareRoot()
        for i in [0, 1, 511, 512, 1023, 1099] {
            var s = [Double](repeating: 0, count: i + 1)
            for j in 0...i {
                var acc = 0.0
                for t in 0..<d { acc += Double(qs[i * d + t]) * Double(ks[j * d + t]) }
                s[j] = acc * scale + Double(ms[j])
            }
            let m = s.max()!
            let e = s.map { Foundation.exp($0 - m) }
            let z = e.reduce(0, +)
            for t in 0..<d {
                var o = 0.0
                for j in 0...i { o += e[j] / z * Double(vs[j * d + t]) }
                XCTAssertEqual(Double(ys[i * d + t]), o, accuracy: 2e-5, "row \(i)")
            }
        }
    }

    /// The backward that recomputes probabilities from the saved row log-sum-exps equals the one from saved
    /// probabilities: with a broadcast mask (one fully masked row), causal, a custom scale, strided heads, and
    /// sequences long enough to be cut into several query tiles.
    func testLogSumExpBackwardMatchesSavedProbabilities() {
        func compare(_ q: Tensor, _ k: Tensor, _ v: Tensor, mask: Tensor?, causal: Bool, scale: Float?, _ what: String) {
            let f = Tensor.attentionForward(q, k, v, mask: mask, causal: causal, scale: scale)
            let l = Tensor.attentionForwardSavingLogSumExp(q, k, v, mask: mask, causal: causal, scale: scale)
            // One kernel, but saving the probabilities changes the query tiles and so the GEMM shapes OpenBLAS sees:
            // equal up to the rounding of a probability-weighted sum of Lk values of v (softmax terms add 8 ulps).
            let tol = OpsB.summationBound(terms: k.shape[k.rank - 2] + 8, magnitude: OpsB.maxAbs(v))
            OpsB.assertClose(l.output, f.output, atol: tol, rtol: 0, "\(what): forward")
            XCTAssertEqual(l.logSumExp.shape, Array(q.shape.dropLast()))
            let g = OpsB.random(f.output.shape, seed: 91)
            let a = Tensor.attentionBackward(g, q: q, k: k, v: v, probabilities: f.probabilities, scale: scale)
            let b = Tensor.attentionBackward(g, q: q, k: k, v: v, logSumExp: l.logSumExp, mask: mask, causal: causal, scale: scale)
            OpsB.assertClose(b.dq, a.dq, atol: 2e-5, "\(what): dq")
            OpsB.assertClose(b.dk, a.dk, atol: 2e-5, "\(what): dk")
            OpsB.assertClose(b.dv, a.dv, atol: 2e-5, "\(what): dv")
            XCTAssertTrue((b.dq.scalars + b.dk.scalars + b.dv.scalars).allSatisfy(\.isFinite), "\(what): finite")
        }
        let q = OpsB.random([2, 3, 7, 8], seed: 81), k = OpsB.random([2, 3, 9, 8], seed: 82), v = OpsB.random([2, 3, 9, 5], seed: 83)
        var mask = OpsB.random([7, 9], seed: 84)
        mask.withMutableBuffer { m in
            for j in 0..<9 { m[2 * 9 + j] = -.infinity }       // query row 2 sees no key
            m[4 * 9 + 1] = -.infinity
        }
        compare(q, k, v, mask: mask, causal: false, scale: nil, "mask")
        compare(q, k, v, mask: nil, causal: true, scale: 0.3, "causal")
        let qkv = OpsB.random([2, 12, 3, 2, 8], seed: 85)
        func part(_ i: Int) -> Tensor { qkv.selecting(axis: 2, index: i).permuted([0, 2, 1, 3]) }
        compare(part(0), part(1), part(2), mask: nil, causal: true, scale: nil, "strided heads")
        // 3000 keys: a tile holds 349 query rows, so 700 queries take three tiles (dK and dV accumulate).
        let lq = 700, lk = 3000
        compare(OpsB.random([1, lq, 4], seed: 86), OpsB.random([1, lk, 4], seed: 87), OpsB.random([1, lk, 3], seed: 88),
                mask: OpsB.random([lk], seed: 89), causal: true, scale: nil, "tiles")
    }
}

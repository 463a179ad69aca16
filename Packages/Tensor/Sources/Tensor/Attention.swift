import Foundation

/// Scaled dot-product attention: sgemm for Q K^T and P V, one fused row pass in between
/// (scale, additive mask, causal cut, max, exp, normalise), and the backward pass from the saved probabilities.
///
/// Without saved probabilities the scores live in one scratch block of at most `scratchBudget` floats, filled a
/// tile of query rows at a time, so memory does not grow with the batch. Q, K, V and the output gradient go to
/// sgemm as they are when their last two axes are row- or column-major (for example heads split by a permute).
extension Tensor {
    /// `softmax(q k^T * scale + mask) v` over the last two axes: q [..., Lq, D], k [..., Lk, D], v [..., Lk, Dv]
    /// with equal batch axes, `mask` additive and broadcastable to [..., Lq, Lk], `causal` hiding key j > query i
    /// (top-left aligned, like PyTorch), `scale` default 1/sqrt(D). Returns [..., Lq, Dv].
    /// A query row whose keys are all masked gets a zero output.
    public static func scaledDotProductAttention(_ q: Tensor, _ k: Tensor, _ v: Tensor, mask: Tensor? = nil,
                                                 causal: Bool = false, scale: Float? = nil) -> Tensor {
        attention(q, k, v, mask: mask, causal: causal, scale: scale, saveProbabilities: false).output
    }

    /// Attention that also returns the probabilities [..., Lq, Lk] for `attentionBackward`.
    public static func attentionForward(_ q: Tensor, _ k: Tensor, _ v: Tensor, mask: Tensor? = nil, causal: Bool = false,
                                        scale: Float? = nil) -> (output: Tensor, probabilities: Tensor) {
        let r = attention(q, k, v, mask: mask, causal: causal, scale: scale, saveProbabilities: true)
        return (r.output, r.probabilities!)
    }

    /// Attention that also returns each query row's log-sum-exp of its scaled, masked scores, [..., Lq] (+inf for a
    /// row that sees no key): all that `attentionBackward(_:q:k:v:logSumExp:mask:causal:scale:)` needs besides the
    /// inputs, Lk times smaller than the probabilities (FlashAttention's trade: memory for one more Q K^T).
    public static func attentionForwardSavingLogSumExp(_ q: Tensor, _ k: Tensor, _ v: Tensor, mask: Tensor? = nil,
                                                       causal: Bool = false, scale: Float? = nil)
        -> (output: Tensor, logSumExp: Tensor) {
        let s = AttentionSizes(op: "attentionForwardSavingLogSumExp", q.shape, k.shape, v.shape)
        var lse = Tensor(uninitializedShape: s.batch + [s.lq])
        let out = lse.withMutableBuffer { buf in
            attention(q, k, v, mask: mask, causal: causal, scale: scale, saveProbabilities: false,
                      logSumExp: buf.baseAddress).output
        }
        return (out, lse)
    }

    /// Gradients of attention with respect to q, k and v, recomputing the probabilities a tile of query rows at a
    /// time from the saved row log-sum-exps (`attentionForwardSavingLogSumExp`): memory stays two score tiles of at
    /// most `attentionScratchBudget` floats whatever the sequence length. `mask`, `causal` and `scale` must be the
    /// forward pass's. Same formulas as the probabilities version.
    public static func attentionBackward(_ gradOut: Tensor, q: Tensor, k: Tensor, v: Tensor, logSumExp: Tensor,
                                         mask: Tensor? = nil, causal: Bool = false, scale: Float? = nil)
        -> (dq: Tensor, dk: Tensor, dv: Tensor) {
        let op = "attentionBackward"
        let s = AttentionSizes(op: op, q.shape, k.shape, v.shape)
        tensorCheck(gradOut.shape == s.batch + [s.lq, s.dv], op,
                    "gradOut shape \(gradOut.shape) should be the attention output shape \(s.batch + [s.lq, s.dv])")
        tensorCheck(logSumExp.shape == s.batch + [s.lq], op,
                    "logSumExp shape \(logSumExp.shape) should be \(s.batch + [s.lq])")
        let alpha = scale ?? 1 / Float(s.d).squareRoot()
        let mv = AttentionMaskView(mask, sizes: s, op: op)
        var qm = q, km = k, vm = v, gm = gradOut
        let lq = matrixLayout(&qm), lk = matrixLayout(&km), lv = matrixLayout(&vm), lg = matrixLayout(&gm)
        let lc = logSumExp.contiguous()
        if s.lq == 0 || s.lk == 0 || s.batchCount == 0 {
            return (Tensor(shape: q.shape, repeating: 0), Tensor(shape: k.shape, repeating: 0), Tensor(shape: v.shape, repeating: 0))
        }
        let dq = Tensor(uninitializedShape: q.shape), dk = Tensor(uninitializedShape: k.shape)
        let dv = Tensor(uninitializedShape: v.shape)
        let oq = matrixBatchOffsets(qm), ok = matrixBatchOffsets(km), ov = matrixBatchOffsets(vm), og = matrixBatchOffsets(gm)
        let (lqn, lkn) = (s.lq, s.lk)
        let tileRows = Swift.max(1, Swift.min(lqn, attentionScratchBudget / lkn))
        let pt = UnsafeMutablePointer<Float>.allocate(capacity: tileRows * lkn)
        let ds = UnsafeMutablePointer<Float>.allocate(capacity: tileRows * lkn)
        defer { pt.deallocate(); ds.deallocate() }
        let pq = qm.storage.pointer, pk = km.storage.pointer, pv = vm.storage.pointer, pg = gm.storage.pointer
        let pl = lc.storage.pointer + lc.offset
        let pdq = dq.storage.pointer, pdk = dk.storage.pointer, pdv = dv.storage.pointer
        withExtendedLifetime((qm, km, vm, gm, lc, mv)) {
            for b in 0..<s.batchCount {
                var r0 = 0
                while r0 < lqn {
                    let rows = Swift.min(tileRows, lqn - r0)
                    let qt = pq + oq[b] + r0 * (lq.trans ? 1 : lq.ld)
                    let gt = pg + og[b] + r0 * (lg.trans ? 1 : lg.ld)
                    // P = exp(Q K^T * scale + mask - lse), rows past the causal cut zero
                    Gemm.sgemm(transA: lq.trans, transB: !lk.trans, m: rows, n: lkn, k: s.d, a: qt, lda: lq.ld,
                               b: pk + ok[b], ldb: lk.ld, beta: 0, c: pt, ldc: lkn)
                    let maskBase = mv.base(batch: b, row: r0)
                    let first = r0
                    Parallel.forEachChunk(rows, costPerItem: 3 * lkn) { range in
                        for i in range {
                            let row = pt + i * lkn
                            let valid = causal ? Swift.min(lkn, first + i + 1) : lkn
                            let shift = pl[b * lqn + first + i]
                            let m = maskBase.map { $0 + i * mv.rowStride }
                            if let m, mv.colStride == 1 {
                                for j in 0..<valid { row[j] = expNonPositive(row[j] * alpha + m[j] - shift) }
                            } else if let m {
                                for j in 0..<valid { row[j] = expNonPositive(row[j] * alpha + m[j * mv.colStride] - shift) }
                            } else {
                                for j in 0..<valid { row[j] = expNonPositive(row[j] * alpha - shift) }
                            }
                            if valid < lkn { (row + valid).update(repeating: 0, count: lkn - valid) }
                        }
                    }
                    attentionBackwardBlock(
                        p: pt, rows: rows, sizes: s, alpha: alpha,
                        q: AttentionOperand(qt, lq), k: AttentionOperand(pk + ok[b], lk), v: AttentionOperand(pv + ov[b], lv),
                        gradOut: AttentionOperand(gt, lg), accumulate: r0 > 0, ds: ds,
                        dq: pdq + (b * lqn + r0) * s.d, dk: pdk + b * lkn * s.d, dv: pdv + b * lkn * s.dv)
                    r0 += rows
                }
            }
        }
        return (dq, dk, dv)
    }

    /// Gradients of attention with respect to q, k and v from the saved probabilities P:
    /// dV = P^T dO, dP = dO V^T, dS = P * (dP - rowsum(dP * P)), dQ = dS K * scale, dK = dS^T Q * scale.
    /// `scale` must be the scale used in the forward pass (nil: 1/sqrt(D)). The mask gets no gradient.
    public static func attentionBackward(_ gradOut: Tensor, q: Tensor, k: Tensor, v: Tensor, probabilities: Tensor,
                                         scale: Float? = nil) -> (dq: Tensor, dk: Tensor, dv: Tensor) {
        let s = AttentionSizes(op: "attentionBackward", q.shape, k.shape, v.shape)
        tensorCheck(gradOut.shape == s.batch + [s.lq, s.dv], "attentionBackward",
                    "gradOut shape \(gradOut.shape) should be the attention output shape \(s.batch + [s.lq, s.dv])")
        tensorCheck(probabilities.shape == s.batch + [s.lq, s.lk], "attentionBackward",
                    "probabilities shape \(probabilities.shape) should be \(s.batch + [s.lq, s.lk])")
        let alpha = scale ?? 1 / Float(s.d).squareRoot()
        var qm = q, km = k, vm = v, gm = gradOut
        let lq = matrixLayout(&qm), lk = matrixLayout(&km), lv = matrixLayout(&vm), lg = matrixLayout(&gm)
        let pc = probabilities.contiguous()
        let dq = Tensor(uninitializedShape: q.shape), dk = Tensor(uninitializedShape: k.shape)
        let dv = Tensor(uninitializedShape: v.shape)
        let oq = matrixBatchOffsets(qm), ok = matrixBatchOffsets(km), ov = matrixBatchOffsets(vm), og = matrixBatchOffsets(gm)
        let ds = UnsafeMutablePointer<Float>.allocate(capacity: Swift.max(1, s.lq * s.lk))
        defer { ds.deallocate() }
        let pq = qm.storage.pointer, pk = km.storage.pointer, pv = vm.storage.pointer, pg = gm.storage.pointer
        let pp = pc.storage.pointer + pc.offset
        let pdq = dq.storage.pointer, pdk = dk.storage.pointer, pdv = dv.storage.pointer
        let (lqn, lkn) = (s.lq, s.lk)
        withExtendedLifetime((qm, km, vm, gm, pc)) {
            for b in 0..<s.batchCount {
                attentionBackwardBlock(
                    p: pp + b * lqn * lkn, rows: lqn, sizes: s, alpha: alpha,
                    q: AttentionOperand(pq + oq[b], lq), k: AttentionOperand(pk + ok[b], lk), v: AttentionOperand(pv + ov[b], lv),
                    gradOut: AttentionOperand(pg + og[b], lg), accumulate: false, ds: ds,
                    dq: pdq + b * lqn * s.d, dk: pdk + b * lkn * s.d, dv: pdv + b * lkn * s.dv)
            }
        }
        return (dq, dk, dv)
    }

    /// The backward of a block of `rows` query rows from their probabilities `p` [rows, Lk] (`q` and `gradOut` start
    /// at the block's first row, `k` and `v` at its batch entry): dV = P^T dO, dP = dO V^T, dS = P * (dP -
    /// rowsum(dP * P)) in `ds`, dQ = scale dS K, dK = scale dS^T Q. With `accumulate` dK and dV are added to (the
    /// later query tiles of one batch entry) instead of overwritten.
    private static func attentionBackwardBlock(p: UnsafePointer<Float>, rows: Int, sizes s: AttentionSizes, alpha: Float,
                                               q: AttentionOperand, k: AttentionOperand, v: AttentionOperand,
                                               gradOut g: AttentionOperand, accumulate: Bool, ds: UnsafeMutablePointer<Float>,
                                               dq: UnsafeMutablePointer<Float>, dk: UnsafeMutablePointer<Float>,
                                               dv: UnsafeMutablePointer<Float>) {
        let lkn = s.lk, beta: Float = accumulate ? 1 : 0
        Gemm.sgemm(transA: true, transB: g.trans, m: lkn, n: s.dv, k: rows, a: p, lda: lkn,
                   b: g.base, ldb: g.ld, beta: beta, c: dv, ldc: s.dv)
        Gemm.sgemm(transA: g.trans, transB: !v.trans, m: rows, n: lkn, k: s.dv, a: g.base, lda: g.ld,
                   b: v.base, ldb: v.ld, beta: 0, c: ds, ldc: lkn)
        Parallel.forEachChunk(rows, costPerItem: 3 * lkn) { range in
            for i in range {
                let prow = p + i * lkn, drow = ds + i * lkn
                let dot = attentionDot(prow, drow, lkn)
                for j in 0..<lkn { drow[j] = prow[j] * (drow[j] - dot) }
            }
        }
        Gemm.sgemm(transA: false, transB: k.trans, m: rows, n: s.d, k: lkn, alpha: alpha, a: ds, lda: lkn,
                   b: k.base, ldb: k.ld, beta: 0, c: dq, ldc: s.d)
        Gemm.sgemm(transA: true, transB: q.trans, m: lkn, n: s.d, k: rows, alpha: alpha, a: ds, lda: lkn,
                   b: q.base, ldb: q.ld, beta: beta, c: dk, ldc: s.d)
    }

    /// Largest score block (floats) of the forward pass without saved probabilities (4 MiB).
    static let attentionScratchBudget = 1 << 20

    private static func attention(_ q: Tensor, _ k: Tensor, _ v: Tensor, mask: Tensor?, causal: Bool, scale: Float?,
                                  saveProbabilities: Bool, logSumExp: UnsafeMutablePointer<Float>? = nil)
        -> (output: Tensor, probabilities: Tensor?) {
        let op = saveProbabilities ? "attentionForward" : "scaledDotProductAttention"
        let s = AttentionSizes(op: op, q.shape, k.shape, v.shape)
        let alpha = scale ?? 1 / Float(s.d).squareRoot()
        var qm = q, km = k, vm = v
        let lq = matrixLayout(&qm), lk = matrixLayout(&km), lv = matrixLayout(&vm)
        let oq = matrixBatchOffsets(qm), ok = matrixBatchOffsets(km), ov = matrixBatchOffsets(vm)
        let mv = AttentionMaskView(mask, sizes: s, op: op)

        let out = Tensor(uninitializedShape: s.batch + [s.lq, s.dv])
        let probs: Tensor? = saveProbabilities ? Tensor(uninitializedShape: s.batch + [s.lq, s.lk]) : nil
        if out.count == 0 && probs?.count ?? 0 == 0 { return (out, probs) }
        let tileRows = saveProbabilities ? Swift.max(1, s.lq) : Swift.max(1, Swift.min(s.lq, attentionScratchBudget / Swift.max(1, s.lk)))
        let scratch: UnsafeMutablePointer<Float>? = saveProbabilities ? nil : .allocate(capacity: Swift.max(1, tileRows * s.lk))
        defer { scratch?.deallocate() }
        let pq = qm.storage.pointer, pk = km.storage.pointer, pv = vm.storage.pointer
        let po = out.storage.pointer
        let (lqn, lkn) = (s.lq, s.lk)
        withExtendedLifetime((qm, km, vm, mv)) {
            for b in 0..<s.batchCount {
                var r0 = 0
                while r0 < lqn {
                    let rows = Swift.min(tileRows, lqn - r0)
                    let sc = scratch ?? (probs!.storage.pointer + b * lqn * lkn)
                    // S = Q[r0..<r0+rows] K^T
                    Gemm.sgemm(transA: lq.trans, transB: !lk.trans, m: rows, n: lkn, k: s.d,
                               a: pq + oq[b] + r0 * (lq.trans ? 1 : lq.ld), lda: lq.ld,
                               b: pk + ok[b], ldb: lk.ld, beta: 0, c: sc, ldc: lkn)
                    let maskBase = mv.base(batch: b, row: r0)
                    let first = r0
                    Parallel.forEachChunk(rows, costPerItem: 4 * lkn) { range in
                        for i in range {
                            let limit = causal ? Swift.min(lkn, first + i + 1) : lkn
                            let lse = attentionSoftmaxRow(sc + i * lkn, count: lkn, valid: limit, scale: alpha,
                                                          mask: maskBase.map { $0 + i * mv.rowStride }, maskStride: mv.colStride)
                            logSumExp?[b * lqn + first + i] = lse
                        }
                    }
                    // O[r0..<r0+rows] = P V
                    Gemm.sgemm(transA: false, transB: lv.trans, m: rows, n: s.dv, k: lkn, a: sc, lda: lkn,
                               b: pv + ov[b], ldb: lv.ld, beta: 0, c: po + (b * lqn + r0) * s.dv, ldc: s.dv)
                    r0 += rows
                }
            }
        }
        return (out, probs)
    }

    /// Ensures the last two axes can go to sgemm as they are (copying otherwise); returns the layout.
    private static func matrixLayout(_ t: inout Tensor) -> (trans: Bool, ld: Int) {
        let r = t.rank
        if let l = Gemm.layout(rows: t.shape[r - 2], cols: t.shape[r - 1], rowStride: t.strides[r - 2], colStride: t.strides[r - 1]) {
            return l
        }
        t = t.contiguous()
        return (false, Swift.max(1, t.shape[r - 1]))
    }

    private static func matrixBatchOffsets(_ t: Tensor) -> [Int] {
        batchOffsets(shape: Array(t.shape.dropLast(2)), strides: Array(t.strides.dropLast(2)), base: t.offset)
    }
}

/// A matrix argument of the attention GEMMs: where it starts and how sgemm reads it (`Tensor.matrixLayout`).
private struct AttentionOperand {
    let base: UnsafePointer<Float>
    let trans: Bool
    let ld: Int
    init(_ base: UnsafePointer<Float>, _ layout: (trans: Bool, ld: Int)) {
        self.base = base
        trans = layout.trans
        ld = layout.ld
    }
}

/// Shapes of one attention call, validated.
private struct AttentionSizes {
    let batch: [Int]
    let batchCount, lq, lk, d, dv: Int

    init(op: String, _ q: [Int], _ k: [Int], _ v: [Int]) {
        tensorCheck(q.count >= 2 && k.count == q.count && v.count == q.count, op,
                    "q \(q), k \(k), v \(v) must have the same rank >= 2 ([..., L, D])")
        batch = Array(q.dropLast(2))
        tensorCheck(Array(k.dropLast(2)) == batch && Array(v.dropLast(2)) == batch, op,
                    "batch axes of q \(q), k \(k), v \(v) must be equal")
        lq = q[q.count - 2]; d = q[q.count - 1]
        lk = k[k.count - 2]; dv = v[v.count - 1]
        tensorCheck(k[k.count - 1] == d, op, "q \(q) and k \(k) must share the last (feature) dimension")
        tensorCheck(v[v.count - 2] == lk, op, "k \(k) and v \(v) must have the same number of keys")
        batchCount = batch.reduce(1, *)
    }
}

/// One row of scores -> probabilities, in place: `s = s*scale + mask` for the first `valid` entries, softmax over
/// them, zero for the rest (and for a row with no finite score). Plain loops over pointers that LLVM vectorises
/// (Swift's generic SIMD min/max/select helpers run lane by lane, so they are avoided here).
@inline(__always) @discardableResult
private func attentionSoftmaxRow(_ row: UnsafeMutablePointer<Float>, count: Int, valid: Int, scale: Float,
                                 mask: UnsafePointer<Float>?, maskStride: Int) -> Float {
    if let mask {
        if maskStride == 1 {
            for j in 0..<valid { row[j] = row[j] * scale + mask[j] }
        } else {
            for j in 0..<valid { row[j] = row[j] * scale + mask[j * maskStride] }
        }
    } else {
        for j in 0..<valid { row[j] *= scale }
    }
    var m0: Float = -.infinity, m1: Float = -.infinity, m2: Float = -.infinity, m3: Float = -.infinity
    var j = 0
    while j + 4 <= valid {
        if row[j] > m0 { m0 = row[j] }
        if row[j + 1] > m1 { m1 = row[j + 1] }
        if row[j + 2] > m2 { m2 = row[j + 2] }
        if row[j + 3] > m3 { m3 = row[j + 3] }
        j += 4
    }
    while j < valid { if row[j] > m0 { m0 = row[j] }; j += 1 }
    let m = Swift.max(Swift.max(m0, m1), Swift.max(m2, m3))
    if valid < count { (row + valid).update(repeating: 0, count: count - valid) }
    if !m.isFinite {  // every key masked (or an overflow): no attention at all
        row.update(repeating: 0, count: valid)
        return .infinity
    }
    for j in 0..<valid { row[j] = expNonPositive(row[j] - m) }
    let sum = attentionSum(row, valid)
    let inv = 1 / sum
    for j in 0..<valid { row[j] *= inv }
    return m + Foundation.log(sum)
}

/// The additive mask as a broadcast view over the scores [batch..., Lq, Lk]: per-batch offsets, row/column strides.
private struct AttentionMaskView {
    let view: Tensor?
    let offsets: [Int]
    let rowStride: Int
    let colStride: Int

    init(_ mask: Tensor?, sizes s: AttentionSizes, op: String) {
        guard let mask else { view = nil; offsets = []; rowStride = 0; colStride = 0; return }
        let full = s.batch + [s.lq, s.lk]
        let ok = (try? Tensor.broadcastShape(mask.shape, full)) == full
        tensorCheck(ok, op, "mask shape \(mask.shape) does not broadcast to the score shape \(full)")
        let v = mask.expanded(to: full)
        view = v
        offsets = Tensor.batchOffsets(shape: s.batch, strides: Array(v.strides.dropLast(2)), base: v.offset)
        rowStride = v.strides[v.rank - 2]
        colStride = v.strides[v.rank - 1]
    }

    /// The mask entry of (batch b, query row `row`, key 0), or nil without a mask.
    func base(batch b: Int, row: Int) -> UnsafePointer<Float>? {
        view.map { UnsafePointer($0.storage.pointer) + offsets[b] + row * rowStride }
    }
}

@inline(__always)
private func attentionSum(_ p: UnsafePointer<Float>, _ n: Int) -> Float {
    var acc = SIMD16<Float>()
    let rp = UnsafeRawPointer(p)
    var i = 0
    while i + 16 <= n { acc += rp.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self); i += 16 }
    var s = acc.sum()
    while i < n { s += p[i]; i += 1 }
    return s
}

@inline(__always)
private func attentionDot(_ p: UnsafePointer<Float>, _ q: UnsafePointer<Float>, _ n: Int) -> Float {
    var acc = SIMD16<Float>()
    let rp = UnsafeRawPointer(p), rq = UnsafeRawPointer(q)
    var i = 0
    while i + 16 <= n {
        acc += rp.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self)
            * rq.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self)
        i += 16
    }
    var s = acc.sum()
    while i < n { s += p[i] * q[i]; i += 1 }
    return s
}

/// e^x for x <= 0 (Cephes-style: x = n ln2 + r, degree-6 polynomial for e^r, 2^n from the exponent bits);
/// about 1 ulp down to -87.3, exactly 0 below (so masked scores give zero probability). Branch-free scalar code
/// that the loop vectoriser turns into SIMD.
@inline(__always)
private func expNonPositive(_ x: Float) -> Float {
    let xc = x < -87.3 ? -87.3 : x
    let magic: Float = 12582912  // 1.5 * 2^23: adding it rounds to an integer
    let t = xc * 1.44269504088896341 + magic
    let n = t - magic
    var r = xc - n * 0.693359375
    r = r - n * -2.12194440e-4
    var p: Float = 1.9875691500e-4
    p = p * r + 1.3981999507e-3
    p = p * r + 8.3334519073e-3
    p = p * r + 4.1665795894e-2
    p = p * r + 1.6666665459e-1
    p = p * r + 5.0000001201e-1
    p = p * (r * r) + r + 1
    let bits = (t.bitPattern &- magic.bitPattern &+ 127) &<< 23
    let result = p * Float(bitPattern: bits)
    return x < -87.3 ? 0 : result
}

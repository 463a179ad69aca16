import Dispatch
import CBLAS

/// Thin, typed access to `cblas_sgemm` (row-major) shared by matmul, convolution and attention.
enum Gemm {
    /// One threading layer. OpenBLAS runs single-threaded and the products big enough to pay for it are split
    /// across `Parallel`'s workers here: OpenBLAS's own threads spin-wait (`sched_yield`) between calls, and on top
    /// of the project's elementwise/im2col workers that made four busy threads on two cores (20% of a training
    /// step's CPU time went to `sched_yield`). Set once, on the first product.
    static let oneThreadingLayer: Void = { openblas_set_num_threads(1) }()

    /// Multiply-adds (m·n·k) from which one product is split across workers.
    @usableFromInline static var splitThreshold = 1 << 19

    /// C[m, n] = alpha * op(A)[m, k] * op(B)[k, n] + beta * C, all row-major with leading dimensions.
    /// With `k == 0` C becomes `beta * C` (OpenBLAS may skip that case, so it is done here). Large products are
    /// split into column (or, for narrow C, row) panels computed in parallel; each element's sum is formed by the
    /// same kernel in the same order either way.
    static func sgemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float = 1,
                      a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                      beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
        _ = oneThreadingLayer
        if m == 0 || n == 0 { return }
        if k == 0 {
            for i in 0..<m {
                let row = c + i * ldc
                if beta == 0 { row.update(repeating: 0, count: n) } else if beta != 1 {
                    for j in 0..<n { row[j] *= beta }
                }
            }
            return
        }
        let workers = Parallel.workers
        if workers > 1 && m * n * k >= splitThreshold && Swift.max(m, n) >= 32 {
            let byColumns = n >= m || n >= 64
            let extent = byColumns ? n : m
            // Panels in multiples of 16 (the kernels' register blocking), one per worker.
            let panel = ((extent + workers - 1) / workers + 15) / 16 * 16
            let panels = (extent + panel - 1) / panel
            Parallel.run(iterations: panels) { i in
                let lo = i * panel, len = Swift.min(panel, extent - lo)
                if len <= 0 { return }
                if byColumns {
                    serial(transA: transA, transB: transB, m: m, n: len, k: k, alpha: alpha, a: a, lda: lda,
                           b: transB ? b + lo * ldb : b + lo, ldb: ldb, beta: beta, c: c + lo, ldc: ldc)
                } else {
                    serial(transA: transA, transB: transB, m: len, n: n, k: k, alpha: alpha,
                           a: transA ? a + lo : a + lo * lda, lda: lda, b: b, ldb: ldb, beta: beta, c: c + lo * ldc, ldc: ldc)
                }
            }
            return
        }
        serial(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb,
               beta: beta, c: c, ldc: ldc)
    }

    /// One OpenBLAS call on the calling thread.
    @inline(__always)
    static func serial(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float,
                       a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                       beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
        _ = oneThreadingLayer
        cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }

    /// `count` independent products of the same shape (entry i reads `a + offA(i)`, `b + offB(i)` and writes
    /// `c + offC(i)`): small ones run in parallel across entries, large ones one after the other, each split.
    static func sgemmBatched(count: Int, transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float = 1,
                             a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                             beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int,
                             offsets: (Int) -> (a: Int, b: Int, c: Int)) {
        _ = oneThreadingLayer
        if count == 0 || m == 0 || n == 0 { return }
        if k == 0 || m * n * k >= splitThreshold || count == 1 {
            for i in 0..<count {
                let o = offsets(i)
                sgemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a + o.a, lda: lda,
                      b: b + o.b, ldb: ldb, beta: beta, c: c + o.c, ldc: ldc)
            }
            return
        }
        Parallel.forEachChunk(count, costPerItem: Swift.max(1, m * n * k / 16)) { range in
            for i in range {
                let o = offsets(i)
                serial(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a + o.a, lda: lda,
                       b: b + o.b, ldb: ldb, beta: beta, c: c + o.c, ldc: ldc)
            }
        }
    }

    /// How a matrix with the given row/column strides can be passed to sgemm without a copy:
    /// row-major (`trans == false`, `ld` = row stride) or column-major (`trans == true`, `ld` = column stride).
    /// Nil when neither axis is unit-stride (or the leading dimension would be too small), so a copy is needed.
    static func layout(rows: Int, cols: Int, rowStride: Int, colStride: Int) -> (trans: Bool, ld: Int)? {
        if (cols <= 1 || colStride == 1) && (rows <= 1 || rowStride >= Swift.max(1, cols)) {
            return (false, rows <= 1 ? Swift.max(1, cols) : rowStride)
        }
        if (rows <= 1 || rowStride == 1) && (cols <= 1 || colStride >= Swift.max(1, rows)) {
            return (true, cols <= 1 ? Swift.max(1, rows) : colStride)
        }
        return nil
    }
}

extension Tensor {
    /// Matrix product over the last two axes, batch axes broadcast (NumPy `matmul` rules; 1-D operands are
    /// treated as a row/column vector and their axis dropped from the result). `transposeA`/`transposeB`
    /// transpose the last two axes of an operand of rank >= 2 first. Transposed and strided views whose last two
    /// axes are row- or column-major go to sgemm without a copy.
    public static func matmul(_ a: Tensor, _ b: Tensor, transposeA: Bool = false, transposeB: Bool = false) -> Tensor {
        tensorCheck(a.rank >= 1 && b.rank >= 1, "matmul", "operands must have rank >= 1, got shapes \(a.shape) and \(b.shape)")
        let aVector = a.rank == 1, bVector = b.rank == 1
        var x = aVector ? a.unsqueezed(0) : (transposeA ? a.transposed(-2, -1) : a)
        var y = bVector ? b.unsqueezed(-1) : (transposeB ? b.transposed(-2, -1) : b)
        let m = x.shape[x.rank - 2], k = x.shape[x.rank - 1]
        let k2 = y.shape[y.rank - 2], n = y.shape[y.rank - 1]
        tensorCheck(k == k2, "matmul",
                    "inner dimensions differ: \(a.shape)\(transposeA ? "^T" : "") x \(b.shape)\(transposeB ? "^T" : "") gives [\(m), \(k)] x [\(k2), \(n)]")
        let batchA = Array(x.shape.dropLast(2)), batchB = Array(y.shape.dropLast(2))
        let batch = tensorRequire { try Tensor.broadcastShape(batchA, batchB, op: "matmul (batch axes)") }
        let batchCount = batch.reduce(1, *)

        var layoutA = Gemm.layout(rows: m, cols: k, rowStride: x.strides[x.rank - 2], colStride: x.strides[x.rank - 1])
        if layoutA == nil { x = x.contiguous(); layoutA = (false, Swift.max(1, k)) }
        var layoutB = Gemm.layout(rows: k, cols: n, rowStride: y.strides[y.rank - 2], colStride: y.strides[y.rank - 1])
        if layoutB == nil { y = y.contiguous(); layoutB = (false, Swift.max(1, n)) }
        let la = layoutA!, lb = layoutB!

        var outShape = batch + [m, n]
        let out = Tensor(uninitializedShape: outShape)
        if out.count > 0 {
            let xe = x.expanded(to: batch + [m, k]), ye = y.expanded(to: batch + [k, n])
            let offA = batchOffsets(shape: batch, strides: Array(xe.strides.dropLast(2)), base: xe.offset)
            let offB = batchOffsets(shape: batch, strides: Array(ye.strides.dropLast(2)), base: ye.offset)
            let pa = x.storage.pointer, pb = y.storage.pointer, pc = out.storage.pointer
            // One tall GEMM when B is shared by every batch entry and A's batch rows follow each other.
            let bShared = offB.allSatisfy { $0 == offB[0] }
            let aStacked = !la.trans && (batchCount == 1 || (0..<batchCount).allSatisfy { offA[$0] == offA[0] + $0 * m * la.ld })
            withExtendedLifetime((x, y)) {
                if bShared && aStacked {
                    Gemm.sgemm(transA: false, transB: lb.trans, m: batchCount * m, n: n, k: k, a: pa + offA[0], lda: la.ld,
                               b: pb + offB[0], ldb: lb.ld, beta: 0, c: pc, ldc: n)
                } else {
                    Gemm.sgemmBatched(count: batchCount, transA: la.trans, transB: lb.trans, m: m, n: n, k: k,
                                      a: pa, lda: la.ld, b: pb, ldb: lb.ld, beta: 0, c: pc, ldc: n) { i in
                        (offA[i], offB[i], i * m * n)
                    }
                }
            }
        }
        if aVector { outShape.remove(at: outShape.count - 2) }
        if bVector { outShape.removeLast() }
        return aVector || bVector ? out.reshaped(outShape) : out
    }

    /// Matrix product `self @ other` (see `Tensor.matmul`).
    public func matmul(_ other: Tensor) -> Tensor { Tensor.matmul(self, other) }

    /// `x @ weight^T + bias` over the last axis of `x` (any leading axes): `weight` is `[out, in]`, `bias` `[out]`.
    /// The bias is written into the output before the GEMM accumulates onto it.
    public static func linear(_ x: Tensor, weight: Tensor, bias: Tensor? = nil) -> Tensor {
        tensorCheck(x.rank >= 1 && weight.rank == 2, "linear", "expected x [..., in] and weight [out, in], got \(x.shape) and \(weight.shape)")
        let inF = x.shape[x.rank - 1], outF = weight.shape[0]
        tensorCheck(weight.shape[1] == inF, "linear", "weight \(weight.shape) does not match input features \(inF) of x \(x.shape)")
        if let bias { tensorCheck(bias.shape == [outF], "linear", "bias shape \(bias.shape) should be [\(outF)]") }
        let rows = x.shape.dropLast().reduce(1, *)
        var x2 = x.rank == 2 ? x : x.reshaped([rows, inF])
        var la = Gemm.layout(rows: rows, cols: inF, rowStride: x2.strides[0], colStride: x2.strides[1])
        if la == nil { x2 = x2.contiguous(); la = (false, Swift.max(1, inF)) }
        var w = weight
        var lw = Gemm.layout(rows: outF, cols: inF, rowStride: w.strides[0], colStride: w.strides[1])
        if lw == nil { w = w.contiguous(); lw = (false, Swift.max(1, inF)) }
        let out = Tensor(uninitializedShape: Array(x.shape.dropLast()) + [outF])
        if out.count == 0 { return out }
        let pc = out.storage.pointer
        if let bias {
            let bc = bias.contiguous()
            let pb = bc.storage.pointer + bc.offset
            withExtendedLifetime(bc) { for r in 0..<rows { (pc + r * outF).update(from: pb, count: outF) } }
        }
        withExtendedLifetime((x2, w)) {
            // weight^T: a row-major [out, in] weight is a column-major [in, out] operand, hence the flipped flag.
            Gemm.sgemm(transA: la!.trans, transB: !lw!.trans, m: rows, n: outF, k: inF,
                       a: x2.storage.pointer + x2.offset, lda: la!.ld, b: w.storage.pointer + w.offset, ldb: lw!.ld,
                       beta: bias == nil ? 0 : 1, c: pc, ldc: outF)
        }
        return out
    }

    /// Element offsets of every batch entry (row-major over `shape`) for a view with the given batch strides.
    static func batchOffsets(shape: [Int], strides: [Int], base: Int) -> [Int] {
        let count = shape.reduce(1, *)
        var result = [Int](repeating: base, count: count)
        if shape.isEmpty || count == 0 { return result }
        var index = [Int](repeating: 0, count: shape.count)
        var off = base
        for i in 0..<count {
            result[i] = off
            var d = shape.count - 1
            while d >= 0 {
                index[d] += 1
                off += strides[d]
                if index[d] < shape[d] { break }
                off -= strides[d] * shape[d]
                index[d] = 0
                d -= 1
            }
        }
        return result
    }
}

import Dispatch

/// 2-D convolution (NCHW) as im2col + sgemm, with the backward kernels for the input and the weight.
///
/// Work is cut into "column blocks": either several whole images (so that each GEMM has about
/// `Conv2dGeometry.targetColumns` columns) or a tile of output pixels of one image (large feature maps, so that the
/// column buffer stays within `Conv2dGeometry.columnBudget` floats). With at least as many images as workers, whole
/// images are spread over the workers instead (`imageParallel`: per-worker im2col + single-threaded GEMMs into the
/// output, per-worker partial weight gradients; the forward and input-gradient passes of stride-1 kernels larger
/// than 1x1 skip im2col there: `ConvShifted`);
/// otherwise im2col / col2im are split across cores with
/// `Parallel.forEachChunk` and each GEMM is split by `Gemm`. A 1x1, stride-1, unpadded convolution skips im2col.

/// Sizes of one convolution, validated once.
struct Conv2dGeometry {
    let n, c, h, w: Int
    let o, kh, kw: Int
    let sh, sw, ph, pw, dh, dw: Int
    let groups: Int
    let oh, ow: Int

    var cg: Int { c / groups }          // input channels per group
    var og: Int { o / groups }          // output channels per group
    var kk: Int { kh * kw }
    var groupK: Int { cg * kk }        // GEMM inner size per group (rows of the group's column block)
    var inPlane: Int { h * w }
    var outPlane: Int { oh * ow }
    /// 1x1, stride 1, no padding: the input itself is the column matrix.
    var isPointwise: Bool { kh == 1 && kw == 1 && sh == 1 && sw == 1 && ph == 0 && pw == 0 }

    /// Largest column buffer, in floats (16 MiB).
    static let columnBudget = 1 << 22
    /// Several images share one GEMM until it has about this many columns: fewer, wider GEMMs run measurably
    /// faster through OpenBLAS's threading (4 x N=4096 instead of 16 x N=1024: about 1.5x on the 2-core test VM),
    /// for the price of copying the output block once.
    static let targetColumns = 4096

    init(op: String, input: [Int], weight: [Int], stride: (Int, Int), padding: (Int, Int), dilation: (Int, Int), groups: Int) {
        tensorCheck(input.count == 4, op, "input must be [N, C, H, W], got \(input)")
        tensorCheck(weight.count == 4, op, "weight must be [O, C/groups, kH, kW], got \(weight)")
        tensorCheck(groups >= 1, op, "groups must be >= 1, got \(groups)")
        tensorCheck(stride.0 >= 1 && stride.1 >= 1, op, "stride must be >= 1, got \(stride)")
        tensorCheck(dilation.0 >= 1 && dilation.1 >= 1, op, "dilation must be >= 1, got \(dilation)")
        tensorCheck(padding.0 >= 0 && padding.1 >= 0, op, "padding must be >= 0, got \(padding)")
        n = input[0]; c = input[1]; h = input[2]; w = input[3]
        o = weight[0]; kh = weight[2]; kw = weight[3]
        tensorCheck(c % groups == 0 && o % groups == 0, op,
                    "input channels \(c) and output channels \(o) must both be divisible by groups \(groups)")
        tensorCheck(weight[1] == c / groups, op,
                    "weight \(weight) expects \(weight[1] * groups) input channels with groups \(groups), input \(input) has \(c)")
        sh = stride.0; sw = stride.1; ph = padding.0; pw = padding.1; dh = dilation.0; dw = dilation.1
        self.groups = groups
        let effH = dh * (kh - 1) + 1, effW = dw * (kw - 1) + 1
        tensorCheck(h + 2 * ph >= effH && w + 2 * pw >= effW, op,
                    "kernel \(kh)x\(kw) (dilation \(dilation)) is larger than the padded input \(h + 2 * ph)x\(w + 2 * pw) of \(input)")
        oh = (h + 2 * ph - effH) / sh + 1
        ow = (w + 2 * pw - effW) / sw + 1
    }

    var outputShape: [Int] { [n, o, oh, ow] }

    /// The column blocks: `images` consecutive images starting at `image`, output pixels `p0..<p1` of each.
    struct Block { let image: Int; let images: Int; let p0: Int; let p1: Int; var cols: Int { images * (p1 - p0) } }

    func blocks() -> [Block] {
        let p = outPlane
        if n == 0 || p == 0 { return [] }
        if isPointwise { return (0..<n).map { Block(image: $0, images: 1, p0: 0, p1: p) } }
        let maxCols = Swift.max(64, Conv2dGeometry.columnBudget / Swift.max(1, c * kk))
        var result: [Block] = []
        if p >= maxCols {
            for i in 0..<n {
                var p0 = 0
                while p0 < p { result.append(Block(image: i, images: 1, p0: p0, p1: Swift.min(p, p0 + maxCols))); p0 += maxCols }
            }
        } else {
            let per = Swift.max(1, Swift.min(maxCols / p, (Conv2dGeometry.targetColumns + p - 1) / p))
            var i = 0
            while i < n { let k = Swift.min(per, n - i); result.append(Block(image: i, images: k, p0: 0, p1: p)); i += k }
        }
        return result
    }

}

// MARK: Public ops

extension Tensor {
    /// 2-D convolution of `x` [N, C, H, W] with `weight` [O, C/groups, kH, kW] (PyTorch `conv2d` semantics),
    /// stride/padding/dilation as (height, width) pairs, optional `bias` [O]. Returns [N, O, OH, OW].
    public static func conv2d(_ x: Tensor, weight: Tensor, bias: Tensor? = nil, stride: (Int, Int), padding: (Int, Int),
                              dilation: (Int, Int) = (1, 1), groups: Int = 1) -> Tensor {
        let g = Conv2dGeometry(op: "conv2d", input: x.shape, weight: weight.shape, stride: stride, padding: padding,
                               dilation: dilation, groups: groups)
        if let bias { tensorCheck(bias.shape == [g.o], "conv2d", "bias shape \(bias.shape) should be [\(g.o)]") }
        let xc = x.contiguous(), wc = weight.contiguous()
        let bc = bias?.contiguous()
        var out = Tensor(uninitializedShape: g.outputShape)
        if out.count == 0 { return out }
        let px = xc.storage.pointer + xc.offset, pw = wc.storage.pointer + wc.offset
        let py = out.storage.pointer
        let p = g.outPlane
        if g.usesShiftedGemms {  // writes every output value, the bias added on the way out
            withExtendedLifetime((xc, wc, bc)) {
                g.shiftedForward(px, weight: pw, bias: bc.map { UnsafePointer($0.storage.pointer + $0.offset) }, out: py)
            }
            return out
        }
        let blocks = g.blocks()
        let hasBias = bc != nil
        if g.groupK == 0 {  // no input channels or an empty kernel: the output is the bias (or zero)
            out.withMutableBuffer { $0.update(repeating: 0) }
        }
        // Bias first, so that single-image blocks can accumulate straight into the output.
        if let bc {
            let pb = bc.storage.pointer + bc.offset
            Parallel.forEachChunk(g.n * g.o, costPerItem: p) { range in
                for r in range { (py + r * p).update(repeating: pb[r % g.o], count: p) }
            }
        }
        if g.groupK == 0 { return out }
        if g.imageParallel {
            let tiles = g.imageTiles, colSize = g.c * g.kk * (tiles.map { $0.1 - $0.0 }.max() ?? 0)
            let buffers = UnsafeMutablePointer<Float>.allocate(capacity: Swift.min(Parallel.workers, g.n) * colSize)
            defer { buffers.deallocate() }
            withExtendedLifetime((xc, wc, bc)) {
                g.forEachImageRange { worker, images in
                    let col = buffers + worker * colSize
                    for i in images {
                        for (p0, p1) in tiles {
                            g.im2col(px, col, Conv2dGeometry.Block(image: i, images: 1, p0: p0, p1: p1), rows: 0..<(g.c * g.kk))
                            let span = p1 - p0
                            for gi in 0..<g.groups {
                                Gemm.serial(transA: false, transB: false, m: g.og, n: span, k: g.groupK, alpha: 1,
                                            a: pw + gi * g.og * g.groupK, lda: g.groupK, b: col + gi * g.groupK * span,
                                            ldb: span, beta: hasBias ? 1 : 0, c: py + (i * g.o + gi * g.og) * p + p0, ldc: p)
                            }
                        }
                    }
                }
            }
            return out
        }
        let maxCols = blocks.map(\.cols).max() ?? 0
        let needCol = !g.isPointwise
        let needTmp = blocks.contains { $0.images > 1 }
        let col = UnsafeMutablePointer<Float>.allocate(capacity: needCol ? g.c * g.kk * maxCols : 1)
        let tmp = UnsafeMutablePointer<Float>.allocate(capacity: needTmp ? g.o * maxCols : 1)
        defer { col.deallocate(); tmp.deallocate() }
        withExtendedLifetime((xc, wc, bc)) {
            for block in blocks {
                let cols = block.cols
                let bmat: UnsafePointer<Float>
                let ldb: Int
                if needCol {
                    g.im2col(px, col, block)
                    bmat = UnsafePointer(col); ldb = cols
                } else {
                    bmat = UnsafePointer(px + block.image * g.c * g.inPlane); ldb = p
                }
                let direct = block.images == 1
                for gi in 0..<g.groups {
                    let a = pw + gi * g.og * g.groupK
                    let b = bmat + gi * g.groupK * ldb
                    if direct {
                        Gemm.sgemm(transA: false, transB: false, m: g.og, n: cols, k: g.groupK, a: a, lda: g.groupK,
                                   b: b, ldb: ldb, beta: hasBias ? 1 : 0,
                                   c: py + (block.image * g.o + gi * g.og) * p + block.p0, ldc: p)
                    } else {
                        Gemm.sgemm(transA: false, transB: false, m: g.og, n: cols, k: g.groupK, a: a, lda: g.groupK,
                                   b: b, ldb: ldb, beta: 0, c: tmp + gi * g.og * cols, ldc: cols)
                    }
                }
                if !direct {  // scatter [O, images*P] into [images, O, P], adding the bias
                    let pb = bc.map { $0.storage.pointer + $0.offset }
                    Parallel.forEachChunk(g.o, costPerItem: cols) { range in
                        for oc in range {
                            let bv: Float = pb?[oc] ?? 0
                            for i in 0..<block.images {
                                let s = tmp + oc * cols + i * p
                                let d = py + ((block.image + i) * g.o + oc) * p
                                for q in 0..<p { d[q] = s[q] + bv }
                            }
                        }
                    }
                }
            }
        }
        return out
    }

    /// `conv2d` with square stride/padding/dilation.
    public static func conv2d(_ x: Tensor, weight: Tensor, bias: Tensor? = nil, stride: Int = 1, padding: Int = 0,
                              dilation: Int = 1, groups: Int = 1) -> Tensor {
        conv2d(x, weight: weight, bias: bias, stride: (stride, stride), padding: (padding, padding),
               dilation: (dilation, dilation), groups: groups)
    }

    /// Gradient of `conv2d` with respect to its input: `gradOut` [N, O, OH, OW] -> [N, C, H, W] (`inputShape`).
    /// GEMM W^T dY per column block, then col2im.
    public static func conv2dBackwardInput(_ gradOut: Tensor, weight: Tensor, inputShape: [Int], stride: (Int, Int),
                                           padding: (Int, Int), dilation: (Int, Int) = (1, 1), groups: Int = 1) -> Tensor {
        let g = Conv2dGeometry(op: "conv2dBackwardInput", input: inputShape, weight: weight.shape, stride: stride,
                               padding: padding, dilation: dilation, groups: groups)
        tensorCheck(gradOut.shape == g.outputShape, "conv2dBackwardInput",
                    "gradOut shape \(gradOut.shape) should be the conv output shape \(g.outputShape)")
        let dyc = gradOut.contiguous(), wc = weight.contiguous()
        let dx = Tensor(uninitializedShape: inputShape)
        if dx.count == 0 { return dx }
        let pdy = dyc.storage.pointer + dyc.offset, pw = wc.storage.pointer + wc.offset
        let pdx = dx.storage.pointer
        let p = g.outPlane
        if g.usesShiftedGemms {  // overwrites every plane of dx
            withExtendedLifetime((dyc, wc)) { g.shiftedBackwardInput(pdy, weight: pw, dx: pdx) }
            return dx
        }
        if !g.isPointwise || p == 0 || g.og == 0 {  // col2im accumulates; pointwise GEMMs overwrite
            Parallel.forEachChunk(dx.count) { r in (pdx + r.lowerBound).update(repeating: 0, count: r.count) }
        }
        if g.imageParallel && g.og > 0 {
            let tiles = g.imageTiles, colSize = g.c * g.kk * (tiles.map { $0.1 - $0.0 }.max() ?? 0)
            let buffers = UnsafeMutablePointer<Float>.allocate(capacity: Swift.min(Parallel.workers, g.n) * colSize)
            defer { buffers.deallocate() }
            withExtendedLifetime((dyc, wc)) {
                g.forEachImageRange { worker, images in  // each worker owns the dx planes of its images
                    let col = buffers + worker * colSize
                    for i in images {
                        for (p0, p1) in tiles {
                            let span = p1 - p0
                            for gi in 0..<g.groups {
                                Gemm.serial(transA: true, transB: false, m: g.groupK, n: span, k: g.og, alpha: 1,
                                            a: pw + gi * g.og * g.groupK, lda: g.groupK, b: pdy + (i * g.o + gi * g.og) * p + p0,
                                            ldb: p, beta: 0, c: col + gi * g.groupK * span, ldc: span)
                            }
                            g.col2im(col, pdx, Conv2dGeometry.Block(image: i, images: 1, p0: p0, p1: p1), channels: 0..<g.c)
                        }
                    }
                }
            }
            return dx
        }
        let blocks = g.og == 0 ? [] : g.blocks()
        let maxCols = blocks.map(\.cols).max() ?? 0
        let needCol = !g.isPointwise
        let needTmp = blocks.contains { $0.images > 1 }
        let col = UnsafeMutablePointer<Float>.allocate(capacity: needCol ? g.c * g.kk * maxCols : 1)
        let tmp = UnsafeMutablePointer<Float>.allocate(capacity: needTmp ? g.o * maxCols : 1)
        defer { col.deallocate(); tmp.deallocate() }
        withExtendedLifetime((dyc, wc)) {
            for block in blocks {
                let cols = block.cols
                let amat: UnsafePointer<Float>, lda: Int  // dY block [O, cols]
                if block.images == 1 {
                    amat = UnsafePointer(pdy + block.image * g.o * p + block.p0); lda = p
                } else {
                    g.gatherOutput(pdy, tmp, block)
                    amat = UnsafePointer(tmp); lda = cols
                }
                for gi in 0..<g.groups {
                    let wg = pw + gi * g.og * g.groupK  // [og, groupK]; used transposed
                    let dyg = amat + gi * g.og * lda
                    if needCol {
                        Gemm.sgemm(transA: true, transB: false, m: g.groupK, n: cols, k: g.og, a: wg, lda: g.groupK,
                                   b: dyg, ldb: lda, beta: 0, c: col + gi * g.groupK * cols, ldc: cols)
                    } else {
                        Gemm.sgemm(transA: true, transB: false, m: g.cg, n: cols, k: g.og, a: wg, lda: g.cg,
                                   b: dyg, ldb: lda, beta: 0, c: pdx + (block.image * g.c + gi * g.cg) * g.inPlane, ldc: g.inPlane)
                    }
                }
                if needCol { g.col2im(col, pdx, block) }
            }
        }
        return dx
    }

    /// `conv2dBackwardInput` with square stride/padding/dilation.
    public static func conv2dBackwardInput(_ gradOut: Tensor, weight: Tensor, inputShape: [Int], stride: Int = 1,
                                           padding: Int = 0, dilation: Int = 1, groups: Int = 1) -> Tensor {
        conv2dBackwardInput(gradOut, weight: weight, inputShape: inputShape, stride: (stride, stride),
                            padding: (padding, padding), dilation: (dilation, dilation), groups: groups)
    }

    /// Gradient of `conv2d` with respect to its weight: sum over images of dY [O, P] x col^T, accumulated
    /// in place by the GEMM (beta = 1 after the first block). Returns `weightShape`.
    public static func conv2dBackwardWeight(_ gradOut: Tensor, input: Tensor, weightShape: [Int], stride: (Int, Int),
                                            padding: (Int, Int), dilation: (Int, Int) = (1, 1), groups: Int = 1) -> Tensor {
        let g = Conv2dGeometry(op: "conv2dBackwardWeight", input: input.shape, weight: weightShape, stride: stride,
                               padding: padding, dilation: dilation, groups: groups)
        tensorCheck(gradOut.shape == g.outputShape, "conv2dBackwardWeight",
                    "gradOut shape \(gradOut.shape) should be the conv output shape \(g.outputShape)")
        let dyc = gradOut.contiguous(), xc = input.contiguous()
        let dw = Tensor(shape: weightShape, repeating: 0)
        if dw.count == 0 { return dw }
        let pdy = dyc.storage.pointer + dyc.offset, px = xc.storage.pointer + xc.offset
        let pdw = dw.storage.pointer
        let p = g.outPlane
        if g.imageParallel {
            // One partial dW per worker (summed over its images), then the partials added in worker order.
            let workers = Swift.min(Parallel.workers, g.n), count = dw.count
            let tiles = g.imageTiles, colSize = g.c * g.kk * (tiles.map { $0.1 - $0.0 }.max() ?? 0)
            let buffers = UnsafeMutablePointer<Float>.allocate(capacity: workers * colSize)
            let partials = UnsafeMutablePointer<Float>.allocate(capacity: workers * count)
            partials.initialize(repeating: 0, count: workers * count)
            defer { buffers.deallocate(); partials.deallocate() }
            withExtendedLifetime((dyc, xc)) {
                g.forEachImageRange { worker, images in
                    let col = buffers + worker * colSize, acc = partials + worker * count
                    for i in images {
                        for (p0, p1) in tiles {
                            g.im2col(px, col, Conv2dGeometry.Block(image: i, images: 1, p0: p0, p1: p1), rows: 0..<(g.c * g.kk))
                            let span = p1 - p0
                            for gi in 0..<g.groups {
                                Gemm.serial(transA: false, transB: true, m: g.og, n: g.groupK, k: span, alpha: 1,
                                            a: pdy + (i * g.o + gi * g.og) * p + p0, lda: p, b: col + gi * g.groupK * span,
                                            ldb: span, beta: 1, c: acc + gi * g.og * g.groupK, ldc: g.groupK)
                            }
                        }
                    }
                }
            }
            Parallel.forEachChunk(count, costPerItem: workers) { r in
                for j in r {
                    var s = partials[j]
                    for k in 1..<workers { s += partials[k * count + j] }
                    pdw[j] = s
                }
            }
            return dw
        }
        let blocks = g.blocks()
        let maxCols = blocks.map(\.cols).max() ?? 0
        let needCol = !g.isPointwise
        let needTmp = blocks.contains { $0.images > 1 }
        let col = UnsafeMutablePointer<Float>.allocate(capacity: needCol ? g.c * g.kk * maxCols : 1)
        let tmp = UnsafeMutablePointer<Float>.allocate(capacity: needTmp ? g.o * maxCols : 1)
        defer { col.deallocate(); tmp.deallocate() }
        withExtendedLifetime((dyc, xc)) {
            for (bi, block) in blocks.enumerated() {
                let cols = block.cols
                let bmat: UnsafePointer<Float>, ldb: Int  // columns [C*kk, cols]
                if needCol {
                    g.im2col(px, col, block)
                    bmat = UnsafePointer(col); ldb = cols
                } else {
                    bmat = UnsafePointer(px + block.image * g.c * g.inPlane); ldb = p
                }
                let amat: UnsafePointer<Float>, lda: Int  // dY [O, cols]
                if block.images == 1 {
                    amat = UnsafePointer(pdy + block.image * g.o * p + block.p0); lda = p
                } else {
                    g.gatherOutput(pdy, tmp, block)
                    amat = UnsafePointer(tmp); lda = cols
                }
                for gi in 0..<g.groups {
                    Gemm.sgemm(transA: false, transB: true, m: g.og, n: g.groupK, k: cols,
                               a: amat + gi * g.og * lda, lda: lda, b: bmat + gi * g.groupK * ldb, ldb: ldb,
                               beta: bi == 0 ? 0 : 1, c: pdw + gi * g.og * g.groupK, ldc: g.groupK)
                }
            }
        }
        return dw
    }

    /// `conv2dBackwardWeight` with square stride/padding/dilation.
    public static func conv2dBackwardWeight(_ gradOut: Tensor, input: Tensor, weightShape: [Int], stride: Int = 1,
                                            padding: Int = 0, dilation: Int = 1, groups: Int = 1) -> Tensor {
        conv2dBackwardWeight(gradOut, input: input, weightShape: weightShape, stride: (stride, stride),
                             padding: (padding, padding), dilation: (dilation, dilation), groups: groups)
    }

    /// Gradient of a conv bias: `gradOut` [N, O, OH, OW] summed over N, OH, OW -> [O].
    public static func conv2dBackwardBias(_ gradOut: Tensor) -> Tensor {
        tensorCheck(gradOut.rank == 4, "conv2dBackwardBias", "gradOut must be [N, O, OH, OW], got \(gradOut.shape)")
        let n = gradOut.shape[0], o = gradOut.shape[1], p = gradOut.shape[2] * gradOut.shape[3]
        let dyc = gradOut.contiguous()
        let db = Tensor(uninitializedShape: [o])
        let src = dyc.storage.pointer + dyc.offset, dst = db.storage.pointer
        withExtendedLifetime(dyc) {
            Parallel.forEachChunk(o, costPerItem: n * p) { range in
                for oc in range {
                    var acc: Double = 0
                    for i in 0..<n { acc += Double(sumFloats(src + (i * o + oc) * p, p)) }
                    dst[oc] = Float(acc)
                }
            }
        }
        return db
    }
}

/// Sum of `n` floats with 16 independent lanes (vectorisable, and more accurate than one running sum).
@inline(__always)
private func sumFloats(_ p: UnsafePointer<Float>, _ n: Int) -> Float {
    var acc = SIMD16<Float>()
    var i = 0
    let raw = UnsafeRawPointer(p)
    while i + 16 <= n {
        acc += raw.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self)
        i += 16
    }
    var s = acc.sum()
    while i < n { s += p[i]; i += 1 }
    return s
}

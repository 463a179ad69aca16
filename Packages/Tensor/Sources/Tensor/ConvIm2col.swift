import Dispatch

/// The column transforms of `Conv.swift`: im2col / col2im per column block, and the output gather.
extension Conv2dGeometry {
    /// Output pixels `p0..<p1` split into runs within one output row: calls `body(oh, owStart, owEnd, dstOffset)`.
    @inline(__always)
    func forEachRowRun(_ p0: Int, _ p1: Int, _ body: (Int, Int, Int, Int) -> Void) {
        var p = p0
        while p < p1 {
            let r = p / ow
            let start = p - r * ow
            let end = Swift.min(ow, start + (p1 - p))
            body(r, start, end, p - p0)
            p += end - start
        }
    }

    /// Valid output-column range `lo..<hi` within `start..<end` whose input column `ow*sw + base` lies in `0..<w`.
    @inline(__always)
    func validColumns(start: Int, end: Int, base: Int) -> (Int, Int) {
        // ow*sw + base >= 0  <=>  ow >= ceil(-base / sw);   ow*sw + base <= w - 1  <=>  ow <= floor((w - 1 - base) / sw)
        let loNeed = base >= 0 ? 0 : (-base + sw - 1) / sw
        let hiLimit = (w - 1 - base) < 0 ? -1 : (w - 1 - base) / sw
        let lo = Swift.min(Swift.max(start, loNeed), end)
        let hi = Swift.max(lo, Swift.min(end, hiLimit + 1))
        return (lo, hi)
    }

    /// Fills `col` ([C*kk, block.cols], row stride `block.cols`) for the images and pixels of `block`.
    func im2col(_ x: UnsafePointer<Float>, _ col: UnsafeMutablePointer<Float>, _ block: Block) {
        Parallel.forEachChunk(c * kk, costPerItem: block.cols) { range in im2col(x, col, block, rows: range) }
    }

    /// `im2col` for the column rows `rows` only, on the calling thread.
    func im2col(_ x: UnsafePointer<Float>, _ col: UnsafeMutablePointer<Float>, _ block: Block, rows range: Range<Int>) {
        let cols = block.cols, span = block.p1 - block.p0
        if sw == 1 && sh == 1 && block.images == 1 && block.p0 % ow == 0 && (block.p1 % ow == 0 || block.p1 == outPlane) {
            im2colUnitStride(x + block.image * c * inPlane, col, firstRow: block.p0 / ow, rowCount: (span + ow - 1) / ow,
                             cols: cols, rows: range)
            return
        }
        do {
            for r in range {
                let ch = r / kk, ki = (r % kk) / kw, kj = r % kw
                for i in 0..<block.images {
                    let src = x + ((block.image + i) * c + ch) * inPlane
                    let dst = col + r * cols + i * span
                    let base = kj * dw - pw
                    forEachRowRun(block.p0, block.p1) { orow, start, end, d in
                        let out = dst + d - start  // index by output column
                        let ih = orow * sh - ph + ki * dh
                        if ih < 0 || ih >= h {
                            (out + start).update(repeating: 0, count: end - start)
                            return
                        }
                        let row = src + ih * w
                        let (lo, hi) = validColumns(start: start, end: end, base: base)
                        if lo > start { (out + start).update(repeating: 0, count: lo - start) }
                        if sw == 1 {
                            if hi > lo { (out + lo).update(from: row + lo + base, count: hi - lo) }
                        } else {
                            var q = lo
                            while q < hi { out[q] = row[q * sw + base]; q += 1 }
                        }
                        if end > hi { (out + hi).update(repeating: 0, count: end - hi) }
                    }
                }
            }
        }
    }

    /// `im2col` of whole output rows `firstRow..<firstRow+rowCount` of one image with stride 1 (the U-Net's 3x3
    /// convolutions): the column rows are plain shifted copies of input rows with zeroed borders, written with
    /// inlined loops (input rows are short, 8 to 64 floats, where a `memmove` call per run dominated).
    @inline(__always)
    func im2colUnitStride(_ x: UnsafePointer<Float>, _ col: UnsafeMutablePointer<Float>, firstRow: Int, rowCount: Int,
                          cols: Int, rows range: Range<Int>) {
        for r in range {
            let ch = r / kk, ki = (r % kk) / kw, kj = r % kw
            let src = x + ch * inPlane
            let base = kj * dw - pw
            let lo = Swift.min(ow, Swift.max(0, -base)), hi = Swift.max(lo, Swift.min(ow, w - base))
            var dst = col + r * cols
            for orow in firstRow..<(firstRow + rowCount) {
                let ih = orow - ph + ki * dh
                if ih < 0 || ih >= h {
                    for q in 0..<ow { dst[q] = 0 }
                } else {
                    let row = src + ih * w + base
                    for q in 0..<lo { dst[q] = 0 }
                    for q in lo..<hi { dst[q] = row[q] }
                    for q in hi..<ow { dst[q] = 0 }
                }
                dst += ow
            }
        }
    }

    /// Adds `col` ([C*kk, block.cols]) back into the input gradient `dx` (the adjoint of `im2col`).
    /// Split by channel, so no two workers touch the same input plane.
    func col2im(_ col: UnsafePointer<Float>, _ dx: UnsafeMutablePointer<Float>, _ block: Block) {
        Parallel.forEachChunk(c, costPerItem: kk * block.cols) { range in col2im(col, dx, block, channels: range) }
    }

    /// `col2im` for the input channels `channels` only, on the calling thread.
    func col2im(_ col: UnsafePointer<Float>, _ dx: UnsafeMutablePointer<Float>, _ block: Block, channels range: Range<Int>) {
        let cols = block.cols, span = block.p1 - block.p0
        if sw == 1 && sh == 1 && block.images == 1 && block.p0 % ow == 0 && (block.p1 % ow == 0 || block.p1 == outPlane) {
            let firstRow = block.p0 / ow, rowCount = (span + ow - 1) / ow
            let img = dx + block.image * c * inPlane
            for ch in range {
                for ki in 0..<kh {
                    for kj in 0..<kw {
                        let base = kj * dw - pw
                        let lo = Swift.min(ow, Swift.max(0, -base)), hi = Swift.max(lo, Swift.min(ow, w - base))
                        var src = col + (ch * kk + ki * kw + kj) * cols
                        for orow in firstRow..<(firstRow + rowCount) {
                            let ih = orow - ph + ki * dh
                            if ih >= 0 && ih < h {
                                let row = img + ch * inPlane + ih * w + base
                                for q in lo..<hi { row[q] += src[q] }
                            }
                            src += ow
                        }
                    }
                }
            }
            return
        }
        do {
            for ch in range {
                for i in 0..<block.images {
                    let dst = dx + ((block.image + i) * c + ch) * inPlane
                    for ki in 0..<kh {
                        for kj in 0..<kw {
                            let r = ch * kk + ki * kw + kj
                            let src = col + r * cols + i * span
                            let base = kj * dw - pw
                            forEachRowRun(block.p0, block.p1) { orow, start, end, d in
                                let ih = orow * sh - ph + ki * dh
                                if ih < 0 || ih >= h { return }
                                let inp = src + d - start
                                let row = dst + ih * w
                                let (lo, hi) = validColumns(start: start, end: end, base: base)
                                var q = lo
                                if sw == 1 {
                                    let rr = row + base
                                    while q < hi { rr[q] += inp[q]; q += 1 }
                                } else {
                                    while q < hi { row[q * sw + base] += inp[q]; q += 1 }
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// Whole images spread over the workers: each worker runs im2col and its GEMMs for its own images on its own
    /// core, with a column buffer small enough to stay in that core's cache, instead of every im2col and GEMM being
    /// split across cores (which streams a multi-MiB column buffer through memory twice). Used when there are at
    /// least as many images as workers.
    var imageParallel: Bool {
        let w = Parallel.workers
        return w > 1 && n >= w && !isPointwise && outPlane > 0 && groupK > 0
    }

    /// Column floats per worker in the image-parallel path (about a core's L2 cache).
    static let workerColumnBudget = 1 << 17

    /// Output-pixel tiles of one image for the image-parallel path: whole output rows, as many as fit
    /// `workerColumnBudget` floats of column matrix (at least 256 columns or one row).
    var imageTiles: [(Int, Int)] {
        let p = outPlane
        let budget = Swift.max(256, Conv2dGeometry.workerColumnBudget / Swift.max(1, c * kk))
        let cols = Swift.min(p, Swift.max(1, budget / ow) * ow)
        return stride(from: 0, to: p, by: cols).map { ($0, Swift.min(p, $0 + cols)) }
    }

    /// Runs `body(worker, images)` for contiguous ranges of images, one per worker, in parallel.
    func forEachImageRange(_ body: (Int, Range<Int>) -> Void) {
        let w = Swift.min(Parallel.workers, n)
        let chunk = (n + w - 1) / w
        Parallel.run(iterations: w) { i in
            let lo = i * chunk, hi = Swift.min(n, lo + chunk)
            if lo < hi { body(i, lo..<hi) }
        }
    }

    /// Copies rows of `src` ([N, O, P]) for the images and pixels of `block` into `dst` ([O, block.cols]).
    func gatherOutput(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, _ block: Block) {
        let span = block.p1 - block.p0, cols = block.cols, p = outPlane
        Parallel.forEachChunk(o, costPerItem: cols) { range in
            for oc in range {
                for i in 0..<block.images {
                    (dst + oc * cols + i * span).update(from: src + ((block.image + i) * o + oc) * p + block.p0, count: span)
                }
            }
        }
    }
}

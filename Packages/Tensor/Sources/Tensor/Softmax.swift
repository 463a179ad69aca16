import Foundation

// Softmax and log-softmax along any axis, numerically stable (the lane maximum is subtracted before exp), and
// their backwards. Each lane (the elements along `axis` for one position of the other axes) is processed in one
// fused pass per step; lanes are split across cores. The last axis (stride 1) takes a contiguous fast path.

private enum LaneOp { case softmax, logSoftmax }

extension Tensor {
    /// Visits every lane along `axis` of a contiguous shape: `body(offset, stride)` for lanes of length `dim`.
    private static func forEachLane(shape: [Int], axis ax: Int, cost: Int, _ body: (Int, Int) -> Void) {
        let (outer, dim, inner) = splitAround(shape, ax)
        Parallel.forEachChunk(outer * inner, costPerItem: dim * cost) { range in
            for lane in range {
                let o = lane / inner, j = lane % inner
                body(o * dim * inner + j, inner)
            }
        }
    }

    /// One lane: max, then exp(x - max) into `y` (vectorised), its Double sum, then scale or shift.
    @inline(__always)
    private static func softmaxLane(_ op: LaneOp, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>,
                                    _ n: Int, _ s: Int) {
        var m = -Float.infinity
        var nan = false
        for i in 0..<n {
            let v = x[i * s]
            m = v > m ? v : m
            if v != v { nan = true }
        }
        if nan {
            for i in 0..<n { y[i * s] = .nan }
            return
        }
        for i in 0..<n { y[i * s] = fastExp(x[i * s] - m) }
        var sum: Double
        if s == 1 {
            sum = contiguousSum(UnsafePointer(y), n)
        } else {
            sum = 0
            for i in 0..<n { sum += Double(y[i * s]) }
        }
        switch op {
        case .softmax:
            let inv = Float(1 / sum)
            for i in 0..<n { y[i * s] *= inv }
        case .logSoftmax:
            // (x - m) - log(sum) keeps full precision when |m| is large (x - (m + log(sum)) would not).
            let logSum = Float(Foundation.log(sum))
            for i in 0..<n { y[i * s] = (x[i * s] - m) - logSum }
        }
    }

    /// Softmax over the middle axis of [outer, n, inner] for a block of columns at a time, reading rows in
    /// memory order (lane-by-lane access would stride by `inner` on every element).
    private static func softmaxColumns(_ op: LaneOp, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>,
                                       outer: Int, n: Int, inner: Int) {
        let blockLen = Swift.min(inner, 256)
        let blocks = (inner + blockLen - 1) / blockLen
        Parallel.forEachChunk(outer * blocks, costPerItem: n * blockLen * 6) { range in
            let m = UnsafeMutablePointer<Float>.allocate(capacity: blockLen)
            let sum = UnsafeMutablePointer<Double>.allocate(capacity: blockLen)
            defer { m.deallocate(); sum.deallocate() }
            for item in range {
                let o = item / blocks, j0 = (item % blocks) * blockLen
                let w = Swift.min(inner, j0 + blockLen) - j0
                let base = o * n * inner + j0
                m.update(repeating: -.infinity, count: w)
                sum.update(repeating: 0, count: w)
                for l in 0..<n {  // column maxima; NaN sticks (no comparison with NaN is true)
                    let xr = x + base + l * inner
                    for j in 0..<w { let v = xr[j]; m[j] = (v > m[j] || v != v) && m[j] == m[j] ? v : m[j] }
                }
                for l in 0..<n {
                    let xr = x + base + l * inner, yr = y + base + l * inner
                    for j in 0..<w { yr[j] = fastExp(xr[j] - m[j]) }
                    for j in 0..<w { sum[j] += Double(yr[j]) }
                }
                switch op {
                case .softmax:
                    for j in 0..<w { m[j] = Float(1 / sum[j]) }  // reuse m for the scales
                    for l in 0..<n {
                        let yr = y + base + l * inner
                        for j in 0..<w { yr[j] *= m[j] }
                    }
                case .logSoftmax:
                    for j in 0..<w { sum[j] = Foundation.log(sum[j]) }
                    for l in 0..<n {
                        let xr = x + base + l * inner, yr = y + base + l * inner
                        for j in 0..<w { yr[j] = (xr[j] - m[j]) - Float(sum[j]) }
                    }
                }
            }
        }
    }

    private func laneMap(_ op: LaneOp, axis: Int, name: String) -> Tensor {
        let ax = tensorRequire { try normalizeAxis(axis, rank: rank, op: name) }
        if rank == 0 { return op == .softmax ? Tensor(scalar: 1) : Tensor(scalar: 0) }
        let x = contiguous()
        let out = Tensor(uninitializedShape: shape)
        if count == 0 { return out }
        let src = UnsafePointer(x.basePointer), dst = out.storage.pointer
        let (outer, n, inner) = Tensor.splitAround(shape, ax)
        if inner == 1 {
            Tensor.forEachLane(shape: shape, axis: ax, cost: 6) { off, _ in
                Tensor.softmaxLane(op, src + off, dst + off, n, 1)
            }
        } else {
            Tensor.softmaxColumns(op, src, dst, outer: outer, n: n, inner: inner)
        }
        withExtendedLifetime(x) {}
        return out
    }

    /// exp(x - max) / sum(exp(x - max)) along `axis`.
    public func softmax(axis: Int) -> Tensor { laneMap(.softmax, axis: axis, name: "softmax") }

    /// x - max - log(sum(exp(x - max))) along `axis`.
    public func logSoftmax(axis: Int) -> Tensor { laneMap(.logSoftmax, axis: axis, name: "logSoftmax") }

    /// log(sum(exp(x))) along `axis`, stable; the axis is removed unless `keepDims`.
    public func logSumExp(axis: Int, keepDims: Bool = false) -> Tensor {
        let ax = tensorRequire { try normalizeAxis(axis, rank: rank, op: "logSumExp") }
        let m = max(axis: ax, keepDims: true)
        // Lanes whose max is infinite would give inf - inf; use 0 as their shift (the result is then exact).
        let shift = m.map(FiniteOrZeroK())
        let s = (self - shift).exp().sum(axes: [ax], keepDims: true).log() + shift
        return keepDims ? s : s.squeezed(ax)
    }

    private enum BackOp { case softmax, logSoftmax }

    private static func laneBackward(_ op: BackOp, _ grad: Tensor, _ y: Tensor, axis: Int, name: String) -> Tensor {
        tensorCheck(grad.shape == y.shape, name, "gradient shape \(grad.shape) differs from output shape \(y.shape)")
        let ax = tensorRequire { try normalizeAxis(axis, rank: y.rank, op: name) }
        if y.rank == 0 { return Tensor(scalar: 0) }
        let g = grad.contiguous(), yc = y.contiguous()
        let out = Tensor(uninitializedShape: y.shape)
        if out.count == 0 { return out }
        let pg = UnsafePointer(g.basePointer), py = UnsafePointer(yc.basePointer), dst = out.storage.pointer
        let n = y.shape[ax]
        forEachLane(shape: y.shape, axis: ax, cost: op == .softmax ? 4 : 10) { off, s in
            let gl = pg + off, yl = py + off, dl = dst + off
            switch op {
            case .softmax:  // dx = y * (g - sum(g * y))
                var dot = 0.0
                for i in 0..<n { dot += Double(gl[i * s]) * Double(yl[i * s]) }
                let d = Float(dot)
                for i in 0..<n { dl[i * s] = yl[i * s] * (gl[i * s] - d) }
            case .logSoftmax:  // dx = g - exp(y) * sum(g)
                var total = 0.0
                for i in 0..<n { total += Double(gl[i * s]) }
                let t = Float(total)
                for i in 0..<n { dl[i * s] = gl[i * s] - fastExp(yl[i * s]) * t }
            }
        }
        withExtendedLifetime((g, yc)) {}
        return out
    }

    /// Gradient of `softmax` given the upstream gradient and the softmax output `y`.
    public static func softmaxBackward(_ grad: Tensor, _ y: Tensor, axis: Int) -> Tensor {
        laneBackward(.softmax, grad, y, axis: axis, name: "softmaxBackward")
    }
    /// Same as `softmaxBackward(_:_:axis:)` with an unlabelled axis.
    public static func softmaxBackward(_ grad: Tensor, _ y: Tensor, _ axis: Int) -> Tensor {
        softmaxBackward(grad, y, axis: axis)
    }
    /// Gradient of `logSoftmax` given the upstream gradient and the log-softmax output `y`.
    public static func logSoftmaxBackward(_ grad: Tensor, _ y: Tensor, axis: Int) -> Tensor {
        laneBackward(.logSoftmax, grad, y, axis: axis, name: "logSoftmaxBackward")
    }
    /// Same as `logSoftmaxBackward(_:_:axis:)` with an unlabelled axis.
    public static func logSoftmaxBackward(_ grad: Tensor, _ y: Tensor, _ axis: Int) -> Tensor {
        logSoftmaxBackward(grad, y, axis: axis)
    }
}

struct FiniteOrZeroK: UnaryKernel { @inline(__always) func apply(_ x: Float) -> Float { x.isFinite ? x : 0 } }

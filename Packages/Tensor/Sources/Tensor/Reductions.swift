import Foundation

// Reductions over any set of axes: sum, mean, variance, max/min, argmax/argmin, and `sumToShape`
// (the backward of broadcasting).
//
// One driver serves all of them. The input's axes are split into kept and reduced ones, size-1 axes dropped and
// neighbours of the same kind merged when contiguous with each other. Then:
// - innermost axis reduced (rows, e.g. the last axis): each output element reduces its own rows;
// - innermost axis kept (e.g. a bias gradient summing [N, T, D] to [D]): each work item accumulates a block of
//   output columns over all reduced rows, reading memory in order.
// Work is split over output elements only, so results do not depend on the number of cores.
// Sums, means and variances accumulate in Double (16 SIMD lanes along rows, one Double per output column),
// so long reductions keep full Float accuracy at near-memory speed.

protocol Reducer {
    associatedtype State
    static var cost: Int { get }
    var initial: State { get }
    func combine(_ s: inout State, _ x: Float, _ index: Int)
    /// Folds `n` elements `p[i*stride]` whose reduced positions are `index0 + i`.
    func reduceRun(_ s: inout State, _ p: UnsafePointer<Float>, _ n: Int, _ stride: Int, _ index0: Int)
    func finish(_ s: State, count: Int) -> Float
}

extension Reducer {
    static var cost: Int { 1 }

    func reduceRun(_ s: inout State, _ p: UnsafePointer<Float>, _ n: Int, _ stride: Int, _ index0: Int) {
        for i in 0..<n { combine(&s, p[i * stride], index0 + i) }
    }

    /// Folds one element into each of `n` column states (`p[j*stride]` into `st[j]`), all at reduced position `index`.
    @inline(__always)
    func combineColumns(_ st: UnsafeMutablePointer<State>, _ p: UnsafePointer<Float>, _ n: Int, _ stride: Int, _ index: Int) {
        if stride == 1 {
            for j in 0..<n { combine(&st[j], p[j], index) }
        } else {
            for j in 0..<n { combine(&st[j], p[j * stride], index) }
        }
    }
}

/// Sum of a contiguous run in Double: 16 lanes (4 x SIMD4<Double>) widened from Float, ~8 GB/s per core.
@inline(__always)
func contiguousSum(_ p: UnsafePointer<Float>, _ n: Int) -> Double {
    let raw = UnsafeRawPointer(p)
    var a0 = SIMD4<Double>(), a1 = SIMD4<Double>(), a2 = SIMD4<Double>(), a3 = SIMD4<Double>()
    var i = 0
    while i + 16 <= n {
        a0 += SIMD4<Double>(raw.loadUnaligned(fromByteOffset: i * 4, as: SIMD4<Float>.self))
        a1 += SIMD4<Double>(raw.loadUnaligned(fromByteOffset: (i + 4) * 4, as: SIMD4<Float>.self))
        a2 += SIMD4<Double>(raw.loadUnaligned(fromByteOffset: (i + 8) * 4, as: SIMD4<Float>.self))
        a3 += SIMD4<Double>(raw.loadUnaligned(fromByteOffset: (i + 12) * 4, as: SIMD4<Float>.self))
        i += 16
    }
    var total = ((a0 + a1) + (a2 + a3)).sum()
    while i < n { total += Double(p[i]); i += 1 }
    return total
}

struct SumR: Reducer {
    let divide: Bool  // true: mean
    var initial: Double { 0 }
    @inline(__always) func combine(_ s: inout Double, _ x: Float, _ index: Int) { s += Double(x) }
    func reduceRun(_ s: inout Double, _ p: UnsafePointer<Float>, _ n: Int, _ stride: Int, _ index0: Int) {
        if stride == 1 { s += contiguousSum(p, n); return }
        var acc = 0.0
        for i in 0..<n { acc += Double(p[i * stride]) }
        s += acc
    }
    func finish(_ s: Double, count: Int) -> Float { divide ? Float(s / Double(count)) : Float(s) }
}

/// Variance by shifted sums in Double (shift = first element of each reduction), one pass.
struct VarR: Reducer {
    struct State { var shift = 0.0, s1 = 0.0, s2 = 0.0 }
    let correction: Int
    var initial: State { State() }
    @inline(__always) func combine(_ s: inout State, _ x: Float, _ index: Int) {
        if index == 0 { s.shift = Double(x) }
        let d = Double(x) - s.shift
        s.s1 += d
        s.s2 += d * d
    }
    func reduceRun(_ s: inout State, _ p: UnsafePointer<Float>, _ n: Int, _ stride: Int, _ index0: Int) {
        if n == 0 { return }
        if index0 == 0 { s.shift = Double(p[0]) }
        let c = s.shift
        var s1 = 0.0, s2 = 0.0
        var i = 0
        if stride == 1 {  // 8 Double lanes
            let raw = UnsafeRawPointer(p), cv = SIMD4<Double>(repeating: c)
            var a1 = SIMD4<Double>(), a2 = SIMD4<Double>(), b1 = SIMD4<Double>(), b2 = SIMD4<Double>()
            while i + 8 <= n {
                let d0 = SIMD4<Double>(raw.loadUnaligned(fromByteOffset: i * 4, as: SIMD4<Float>.self)) - cv
                let d1 = SIMD4<Double>(raw.loadUnaligned(fromByteOffset: (i + 4) * 4, as: SIMD4<Float>.self)) - cv
                a1 += d0; a2 += d0 * d0
                b1 += d1; b2 += d1 * d1
                i += 8
            }
            s1 = (a1 + b1).sum()
            s2 = (a2 + b2).sum()
        }
        while i < n {
            let d = Double(p[i * stride]) - c
            s1 += d
            s2 += d * d
            i += 1
        }
        s.s1 += s1
        s.s2 += s2
    }
    func finish(_ s: State, count: Int) -> Float {
        let n = Double(count)
        let m2 = Swift.max(0, s.s2 - s.s1 * s.s1 / n)
        return Float(m2 / (n - Double(correction)))
    }
}

/// Max (or min with `isMin`); NaN propagates like torch.max.
struct ExtremeR: Reducer {
    let isMin: Bool
    var initial: Float { isMin ? .infinity : -.infinity }
    @inline(__always) func combine(_ s: inout Float, _ x: Float, _ index: Int) {
        if isMin { if x < s || x.isNaN { s = s.isNaN ? s : x } } else { if x > s || x.isNaN { s = s.isNaN ? s : x } }
    }
    func reduceRun(_ s: inout Float, _ p: UnsafePointer<Float>, _ n: Int, _ stride: Int, _ index0: Int) {
        var i = 0
        if stride == 1 && n >= 16 {  // 16 lanes; NaNs are tracked in a mask and win at the end
            let raw = UnsafeRawPointer(p)
            var m0 = SIMD8<Float>(repeating: initial), m1 = m0
            var nan = SIMDMask<SIMD8<Int32>>(repeating: false)
            while i + 16 <= n {
                let v0 = raw.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
                let v1 = raw.loadUnaligned(fromByteOffset: (i + 8) * 4, as: SIMD8<Float>.self)
                nan .|= (v0 .!= v0) .| (v1 .!= v1)
                if isMin {
                    m0.replace(with: v0, where: v0 .< m0); m1.replace(with: v1, where: v1 .< m1)
                } else {
                    m0.replace(with: v0, where: v0 .> m0); m1.replace(with: v1, where: v1 .> m1)
                }
                i += 16
            }
            if any(nan) { s = .nan; return }
            let m = isMin ? m0.replacing(with: m1, where: m1 .< m0).min() : m0.replacing(with: m1, where: m1 .> m0).max()
            combine(&s, m, 0)
        }
        while i < n { combine(&s, p[i * stride], index0 + i); i += 1 }
    }
    func finish(_ s: Float, count: Int) -> Float { s }
}

/// Index of the first max (or min) along the reduced positions; the first NaN wins like torch.argmax.
struct ArgExtremeR: Reducer {
    struct State { var value: Float; var index: Int }
    let isMin: Bool
    var initial: State { State(value: isMin ? .infinity : -.infinity, index: 0) }
    @inline(__always) func combine(_ s: inout State, _ x: Float, _ index: Int) {
        if s.value.isNaN { return }
        if x.isNaN || (isMin ? x < s.value : x > s.value) { s = State(value: x, index: index) }
    }
    func finish(_ s: State, count: Int) -> Float { Float(s.index) }
}

/// Axes of a strided view split into kept and reduced, size-1 axes dropped, mergeable neighbours merged.
struct ReductionPlan {
    var kept: [(size: Int, stride: Int)] = []
    var reduced: [(size: Int, stride: Int)] = []
    var innerReduced = false
    var outCount = 1
    var reducedCount = 1

    init(shape: [Int], strides: [Int], axes: Set<Int>) {
        var lastKind: Bool?
        for d in 0..<shape.count {
            let isReduced = axes.contains(d)
            if isReduced { reducedCount *= shape[d] } else { outCount *= shape[d] }
            if shape[d] == 1 { continue }
            if lastKind == isReduced {
                if isReduced, let l = reduced.last, l.stride == strides[d] * shape[d] {
                    reduced[reduced.count - 1] = (l.size * shape[d], strides[d]); continue
                }
                if !isReduced, let l = kept.last, l.stride == strides[d] * shape[d] {
                    kept[kept.count - 1] = (l.size * shape[d], strides[d]); continue
                }
            }
            if isReduced { reduced.append((shape[d], strides[d])) } else { kept.append((shape[d], strides[d])) }
            lastKind = isReduced
        }
        innerReduced = lastKind ?? true
    }
}

/// Offset of the `linear`-th element (row-major) of the sub-grid `dims`.
@inline(__always)
private func gridOffset(_ linear: Int, _ dims: ArraySlice<(size: Int, stride: Int)>) -> Int {
    var rem = linear, off = 0
    for d in dims.reversed() {
        off += (rem % d.size) * d.stride
        rem /= d.size
    }
    return off
}

/// Iterates the sub-grid `dims` in row-major order, calling `body(position, offset)`.
@inline(__always)
private func forEachGridPoint(_ dims: ArraySlice<(size: Int, stride: Int)>, _ body: (Int, Int) -> Void) {
    let n = dims.reduce(1) { $0 * $1.size }
    if n == 0 { return }
    let ds = Array(dims)
    var idx = [Int](repeating: 0, count: ds.count)
    var off = 0
    for q in 0..<n {
        body(q, off)
        var k = ds.count - 1
        while k >= 0 {
            idx[k] += 1
            off += ds[k].stride
            if idx[k] < ds[k].size { break }
            off -= ds[k].stride * ds[k].size
            idx[k] = 0
            k -= 1
        }
    }
}

extension Tensor {
    /// Runs reducer `r` over `axes` (already normalised), writing a contiguous tensor of shape `outShape`.
    func reduce<R: Reducer>(_ r: R, axes: Set<Int>, outShape: [Int]) -> Tensor {
        let plan = ReductionPlan(shape: shape, strides: strides, axes: axes)
        let out = Tensor(uninitializedShape: outShape)
        precondition(out.count == plan.outCount)
        let dst = out.storage.pointer
        let src = UnsafePointer(basePointer)
        let total = plan.reducedCount
        if plan.outCount == 0 { return out }
        if total == 0 {
            let v = r.finish(r.initial, count: 0)
            dst.update(repeating: v, count: plan.outCount)
            return out
        }
        if plan.innerReduced {
            let rInner = plan.reduced.last ?? (size: 1, stride: 1)
            let rOuter = plan.reduced.dropLast()
            let kept = plan.kept[...]
            Parallel.forEachChunk(plan.outCount, costPerItem: total * R.cost) { range in
                for o in range {
                    let base = gridOffset(o, kept)
                    var s = r.initial
                    forEachGridPoint(rOuter) { q, off in
                        r.reduceRun(&s, src + base + off, rInner.size, rInner.stride, q * rInner.size)
                    }
                    dst[o] = r.finish(s, count: total)
                }
            }
        } else {
            let kInner = plan.kept[plan.kept.count - 1]
            let kOuter = plan.kept.dropLast()
            let reduced = plan.reduced[...]
            let blockLen = Swift.min(kInner.size, 512)
            let blocks = (kInner.size + blockLen - 1) / blockLen
            let items = (plan.outCount / kInner.size) * blocks
            Parallel.forEachChunk(items, costPerItem: total * blockLen * R.cost) { range in
                let st = UnsafeMutablePointer<R.State>.allocate(capacity: blockLen)
                defer { st.deallocate() }
                for item in range {
                    let ko = item / blocks, j0 = (item % blocks) * blockLen
                    let n = Swift.min(kInner.size, j0 + blockLen) - j0
                    let base = gridOffset(ko, kOuter) + j0 * kInner.stride
                    st.initialize(repeating: r.initial, count: n)
                    forEachGridPoint(reduced) { q, off in
                        r.combineColumns(st, src + base + off, n, kInner.stride, q)
                    }
                    let o = dst + ko * kInner.size + j0
                    for j in 0..<n { o[j] = r.finish(st[j], count: total) }
                }
            }
        }
        withExtendedLifetime(self) {}
        return out
    }

    /// The shape after reducing `axes` of `shape` (validated: in range, no repeats); throws naming `op`.
    public static func reducedShape(_ shape: [Int], axes: [Int], keepDims: Bool, op: String = "reduce") throws -> [Int] {
        let ax = try axes.map { try normalizeAxis($0, rank: shape.count, op: op) }
        guard Set(ax).count == ax.count else {
            throw TensorError.invalidArgument(op: op, message: "repeated axis in \(axes) for shape \(shape)")
        }
        if keepDims { return shape.enumerated().map { ax.contains($0.offset) ? 1 : $0.element } }
        return shape.enumerated().filter { !ax.contains($0.offset) }.map(\.element)
    }

    private func reduceAxes<R: Reducer>(_ r: R, _ axes: [Int], keepDims: Bool, op: String) -> Tensor {
        if rank == 0 {
            tensorCheck(axes.allSatisfy { $0 == 0 || $0 == -1 } && axes.count <= 1, op,
                        "axes \(axes) are invalid for a 0-d tensor")
            return reduce(r, axes: [], outShape: [])
        }
        let outShape = tensorRequire { try Tensor.reducedShape(shape, axes: axes, keepDims: keepDims, op: op) }
        let set = Set(axes.map { $0 < 0 ? $0 + rank : $0 })
        return reduce(r, axes: set, outShape: outShape)
    }

    private func requireNonEmpty(_ axis: Int?, op: String) {
        if let axis {
            let ax = tensorRequire { try normalizeAxis(axis, rank: rank, op: op) }
            tensorCheck(rank == 0 || shape[ax] > 0, op, "cannot reduce empty axis \(axis) of shape \(shape)")
        } else {
            tensorCheck(count > 0, op, "cannot reduce an empty tensor of shape \(shape)")
        }
    }

    // MARK: Public reductions

    /// Sum of all elements (0-d).
    public func sum() -> Tensor { reduce(SumR(divide: false), axes: Set(0..<rank), outShape: []) }
    /// Sum over `axes` (an empty list reduces nothing); `keepDims` keeps them as size 1.
    public func sum(axes: [Int], keepDims: Bool = false) -> Tensor { reduceAxes(SumR(divide: false), axes, keepDims: keepDims, op: "sum") }
    /// Sum over one axis.
    public func sum(axis: Int, keepDims: Bool = false) -> Tensor { sum(axes: [axis], keepDims: keepDims) }

    /// Mean of all elements (0-d; NaN for an empty tensor like PyTorch).
    public func mean() -> Tensor { reduce(SumR(divide: true), axes: Set(0..<rank), outShape: []) }
    /// Mean over `axes`.
    public func mean(axes: [Int], keepDims: Bool = false) -> Tensor { reduceAxes(SumR(divide: true), axes, keepDims: keepDims, op: "mean") }
    /// Mean over one axis.
    public func mean(axis: Int, keepDims: Bool = false) -> Tensor { mean(axes: [axis], keepDims: keepDims) }

    /// Variance over `axes`, divided by N (or N-1 when `unbiased`), computed in Double.
    public func variance(axes: [Int], keepDims: Bool = false, unbiased: Bool = false) -> Tensor {
        reduceAxes(VarR(correction: unbiased ? 1 : 0), axes, keepDims: keepDims, op: "variance")
    }
    /// Variance of all elements (0-d).
    public func variance(unbiased: Bool = false) -> Tensor {
        reduce(VarR(correction: unbiased ? 1 : 0), axes: Set(0..<rank), outShape: [])
    }

    /// Largest element (0-d). NaN if any element is NaN.
    public func max() -> Tensor {
        requireNonEmpty(nil, op: "max")
        return reduce(ExtremeR(isMin: false), axes: Set(0..<rank), outShape: [])
    }
    /// Smallest element (0-d).
    public func min() -> Tensor {
        requireNonEmpty(nil, op: "min")
        return reduce(ExtremeR(isMin: true), axes: Set(0..<rank), outShape: [])
    }
    /// Maximum along `axis`.
    public func max(axis: Int, keepDims: Bool = false) -> Tensor {
        requireNonEmpty(axis, op: "max")
        return reduceAxes(ExtremeR(isMin: false), [axis], keepDims: keepDims, op: "max")
    }
    /// Minimum along `axis`.
    public func min(axis: Int, keepDims: Bool = false) -> Tensor {
        requireNonEmpty(axis, op: "min")
        return reduceAxes(ExtremeR(isMin: true), [axis], keepDims: keepDims, op: "min")
    }

    /// Index of the first maximum along `axis`, for every position of the other axes in row-major order.
    public func argmax(axis: Int) -> [Int] { argmax(axis: axis, keepDims: false).scalars.map { Int($0) } }
    /// Index of the first minimum along `axis`, row-major over the other axes.
    public func argmin(axis: Int) -> [Int] { argmin(axis: axis, keepDims: false).scalars.map { Int($0) } }
    /// Indices of the first maximum along `axis` as a Float tensor.
    public func argmax(axis: Int, keepDims: Bool) -> Tensor {
        requireNonEmpty(axis, op: "argmax")
        return reduceAxes(ArgExtremeR(isMin: false), [axis], keepDims: keepDims, op: "argmax")
    }
    /// Indices of the first minimum along `axis` as a Float tensor.
    public func argmin(axis: Int, keepDims: Bool) -> Tensor {
        requireNonEmpty(axis, op: "argmin")
        return reduceAxes(ArgExtremeR(isMin: true), [axis], keepDims: keepDims, op: "argmin")
    }
    /// Flat (row-major) index of the first maximum.
    public func argmax() -> Int {
        requireNonEmpty(nil, op: "argmax")
        return Int(contiguous().reshaped([count]).reduce(ArgExtremeR(isMin: false), axes: [0], outShape: []).item())
    }

    // MARK: Backward of broadcasting

    /// The axes to sum (with keepDims) so that a tensor of shape `from` becomes `to`, where `to` broadcasts to
    /// `from`: the leading axes `from` has in excess, and axes where `to` has 1. Throws naming the shapes.
    public static func sumToShapeAxes(from: [Int], to: [Int]) throws -> [Int] {
        guard to.count <= from.count else {
            throw TensorError.shapeMismatch(op: "sumToShape", shapes: [from, to],
                                            expected: "a target of rank <= \(from.count) that broadcasts to \(from)")
        }
        let lead = from.count - to.count
        var axes = Array(0..<lead)
        for i in 0..<to.count where to[i] != from[lead + i] {
            guard to[i] == 1 else {
                throw TensorError.shapeMismatch(op: "sumToShape", shapes: [from, to],
                                                expected: "a target that broadcasts to \(from) (axis \(i) of the target is \(to[i]), must be 1 or \(from[lead + i]))")
            }
            axes.append(lead + i)
        }
        return axes
    }

    /// Sums over broadcast axes so the result has `shape` (`shape` must broadcast to `self.shape`):
    /// the gradient of `x.expanded(to: self.shape)` / of an operand of a broadcasting op.
    public func sumToShape(_ shape: [Int]) -> Tensor {
        let axes = tensorRequire { try Tensor.sumToShapeAxes(from: self.shape, to: shape) }
        if axes.isEmpty { return contiguous() }
        let set = Set(axes)
        return reduce(SumR(divide: false), axes: set, outShape: shape)
    }
}

// Joining and cutting: concat, stack, split, chunk, padding.

extension Tensor {
    /// Copies `shape`-many elements from `src` (any strides) into `dst` viewed with `dstStrides`, across cores
    /// when large. Contiguous runs become memory copies.
    static func copyElements(shape: [Int], from src: UnsafePointer<Float>, srcStrides: [Int],
                             to dst: UnsafeMutablePointer<Float>, dstStrides: [Int]) {
        let loop = BroadcastLoop(shape: shape, strides: [dstStrides, srcStrides])
        let so = loop.innerStride(0), ss = loop.innerStride(1)
        loop.run(cost: 1) { od, os, _, _, n in
            let d = dst + od, s = src + os
            if so == 1 && ss == 1 {
                d.update(from: s, count: n)
            } else {
                for i in 0..<n { d[i * so] = s[i * ss] }
            }
        }
    }

    /// The shape of `concat` of tensors with `shapes` along `axis`; throws naming the first mismatching shape.
    public static func concatShape(_ shapes: [[Int]], axis: Int, op: String = "concat") throws -> [Int] {
        guard let first = shapes.first else {
            throw TensorError.invalidArgument(op: op, message: "needs at least one tensor")
        }
        let ax = try normalizeAxis(axis, rank: first.count, op: op)
        guard first.count > 0 else {
            throw TensorError.invalidArgument(op: op, message: "cannot join 0-d tensors; unsqueeze them or use stack")
        }
        var out = first
        out[ax] = 0
        for s in shapes {
            guard s.count == first.count, s.indices.allSatisfy({ $0 == ax || s[$0] == first[$0] }) else {
                throw TensorError.shapeMismatch(op: op, shapes: [first, s],
                                                expected: "equal sizes on every axis except \(ax)")
            }
            out[ax] += s[ax]
        }
        return out
    }

    /// Joins tensors along an existing axis.
    public static func concat(_ ts: [Tensor], axis: Int = 0) -> Tensor {
        let shape = tensorRequire { try concatShape(ts.map(\.shape), axis: axis) }
        let ax = axis < 0 ? axis + shape.count : axis
        let out = Tensor(uninitializedShape: shape)
        let dst = out.storage.pointer
        var start = 0
        for t in ts {
            if t.count > 0 {
                copyElements(shape: t.shape, from: UnsafePointer(t.basePointer), srcStrides: t.strides,
                             to: dst + start * out.strides[ax], dstStrides: out.strides)
            }
            start += t.shape[ax]
            withExtendedLifetime(t) {}
        }
        return out
    }

    /// The shape of `stack` of tensors with `shapes` at `axis`; throws when the shapes differ.
    public static func stackShape(_ shapes: [[Int]], axis: Int) throws -> [Int] {
        guard let first = shapes.first else {
            throw TensorError.invalidArgument(op: "stack", message: "needs at least one tensor")
        }
        let ax = try normalizeAxis(axis, rank: first.count + 1, op: "stack")
        for s in shapes where s != first {
            throw TensorError.shapeMismatch(op: "stack", shapes: [first, s], expected: "equal shapes")
        }
        var out = first
        out.insert(shapes.count, at: ax)
        return out
    }

    /// Joins equally shaped tensors along a new axis (`axis` in `-(rank+1)...rank`).
    public static func stack(_ ts: [Tensor], axis: Int = 0) -> Tensor {
        let shape = tensorRequire { try stackShape(ts.map(\.shape), axis: axis) }
        let ax = axis < 0 ? axis + shape.count : axis
        return concat(ts.map { $0.unsqueezed(ax) }, axis: ax)
    }

    /// Validates split sizes for a dimension; throws naming the sizes and the shape.
    public static func checkSplit(shape: [Int], sizes: [Int], axis: Int) throws -> Int {
        let ax = try normalizeAxis(axis, rank: shape.count, op: "split")
        guard sizes.allSatisfy({ $0 >= 0 }), sizes.reduce(0, +) == shape[ax] else {
            throw TensorError.invalidArgument(op: "split",
                                              message: "sizes \(sizes) must be non-negative and sum to \(shape[ax]), the size of axis \(axis) of shape \(shape)")
        }
        return ax
    }

    /// Cuts along `axis` into pieces of the given sizes (views, no copy).
    public func split(sizes: [Int], axis: Int) -> [Tensor] {
        let ax = tensorRequire { try Tensor.checkSplit(shape: shape, sizes: sizes, axis: axis) }
        var start = 0
        return sizes.map { n in
            defer { start += n }
            return sliced(axis: ax, start: start, end: start + n)
        }
    }

    /// Cuts along `axis` into `n` pieces of `ceil(size/n)` (the last may be smaller, and there may be fewer
    /// than `n` pieces), exactly like `torch.chunk`. Views, no copy.
    public func chunk(_ n: Int, axis: Int) -> [Tensor] {
        tensorCheck(n > 0, "chunk", "number of chunks must be positive, got \(n)")
        let ax = tensorRequire { try normalizeAxis(axis, rank: rank, op: "chunk") }
        let d = shape[ax]
        if d == 0 { return [Tensor](repeating: self, count: n) }
        let size = (d + n - 1) / n
        let pieces = (d + size - 1) / size
        return split(sizes: (0..<pieces).map { Swift.min(size, d - $0 * size) }, axis: ax)
    }

    /// Pads every axis with `widths[axis] = (before, after)` elements equal to `value` (like `numpy.pad`
    /// with constant mode; one pair per axis).
    public func padded(_ widths: [(before: Int, after: Int)], value: Float = 0) -> Tensor {
        tensorCheck(widths.count == rank, "padded", "needs one (before, after) pair per axis of shape \(shape), got \(widths.count)")
        tensorCheck(widths.allSatisfy { $0.before >= 0 && $0.after >= 0 }, "padded",
                    "widths must be non-negative, got \(widths.map { [$0.before, $0.after] })")
        let outShape = zip(shape, widths).map { $0 + $1.before + $1.after }
        let out = Tensor(shape: outShape, repeating: value)
        if count > 0 {
            var off = 0
            for (i, w) in widths.enumerated() { off += w.before * out.strides[i] }
            Tensor.copyElements(shape: shape, from: UnsafePointer(basePointer), srcStrides: strides,
                                to: out.storage.pointer + off, dstStrides: out.strides)
        }
        withExtendedLifetime(self) {}
        return out
    }

    /// Pads one axis with `before` and `after` elements equal to `value`.
    public func padded(axis: Int, before: Int, after: Int, value: Float = 0) -> Tensor {
        let ax = tensorRequire { try normalizeAxis(axis, rank: rank, op: "padded") }
        var widths = [(before: Int, after: Int)](repeating: (0, 0), count: rank)
        widths[ax] = (before, after)
        return padded(widths, value: value)
    }
}

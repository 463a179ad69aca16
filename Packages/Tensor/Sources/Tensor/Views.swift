/// Views: operations that change shape, strides or offset without copying (except `reshaped` of a
/// non-contiguous tensor, which must copy).
extension Tensor {
    /// Resolves a target shape with at most one `-1` against `count`.
    public static func resolveShape(_ newShape: [Int], count: Int, op: String = "reshape") throws -> [Int] {
        var shape = newShape
        let inferred = shape.indices.filter { shape[$0] == -1 }
        guard inferred.count <= 1 else {
            throw TensorError.invalidArgument(op: op, message: "at most one -1 allowed in \(newShape)")
        }
        guard shape.allSatisfy({ $0 >= 0 || $0 == -1 }) else {
            throw TensorError.invalidArgument(op: op, message: "negative dimension in \(newShape)")
        }
        if let i = inferred.first {
            let known = shape.enumerated().filter { $0.offset != i }.reduce(1) { $0 * $1.element }
            guard known > 0, count % known == 0 else {
                throw TensorError.shapeMismatch(op: op, shapes: [[count], newShape], expected: "a shape whose size divides \(count)")
            }
            shape[i] = count / known
        }
        guard shape.reduce(1, *) == count else {
            throw TensorError.shapeMismatch(op: op, shapes: [[count], newShape],
                                            expected: "a shape with \(count) elements")
        }
        return shape
    }

    /// The same elements in a new shape (one dimension may be -1). A view when contiguous, else a copy.
    public func reshaped(_ newShape: [Int]) -> Tensor {
        let shape = tensorRequire { try Tensor.resolveShape(newShape, count: count) }
        let base = contiguous()
        return Tensor(unchecked: base.storage, shape: shape, strides: Tensor.contiguousStrides(for: shape), offset: base.offset)
    }

    /// Reshape to 1-D.
    public func flattened() -> Tensor { reshaped([-1]) }

    /// Swaps two axes (a view).
    public func transposed(_ a: Int, _ b: Int) -> Tensor {
        let x = tensorRequire { try normalizeAxis(a, rank: rank, op: "transposed") }
        let y = tensorRequire { try normalizeAxis(b, rank: rank, op: "transposed") }
        var s = shape, st = strides
        s.swapAt(x, y); st.swapAt(x, y)
        return Tensor(unchecked: storage, shape: s, strides: st, offset: offset)
    }

    /// Matrix transpose of the last two axes (a view).
    public var T: Tensor {
        tensorCheck(rank >= 2, "T", "needs rank >= 2, got shape \(shape)")
        return transposed(-2, -1)
    }

    /// Reorders the axes (a view). `dims` must be a permutation of `0..<rank`.
    public func permuted(_ dims: [Int]) -> Tensor {
        let d = dims.map { ax in tensorRequire { try normalizeAxis(ax, rank: rank, op: "permuted") } }
        tensorCheck(d.count == rank && Set(d).count == rank, "permuted",
                    "\(dims) is not a permutation of the \(rank) axes of shape \(shape)")
        return Tensor(unchecked: storage, shape: d.map { shape[$0] }, strides: d.map { strides[$0] }, offset: offset)
    }

    /// Elements `start..<end` (step `step`) along `axis` (a view). Negative `start`/`end` count from the end;
    /// both are clamped to the dimension like Python slicing.
    public func sliced(axis: Int, start: Int, end: Int? = nil, step: Int = 1) -> Tensor {
        let ax = tensorRequire { try normalizeAxis(axis, rank: rank, op: "sliced") }
        tensorCheck(step > 0, "sliced", "step must be positive, got \(step)")
        let n = shape[ax]
        func clampIndex(_ i: Int) -> Int { Swift.min(Swift.max(i < 0 ? i + n : i, 0), n) }
        let lo = clampIndex(start)
        let hi = Swift.max(lo, clampIndex(end ?? n))
        let len = (hi - lo + step - 1) / step
        var s = shape, st = strides
        s[ax] = len
        st[ax] = strides[ax] * step
        return Tensor(unchecked: storage, shape: s, strides: st, offset: offset + (len > 0 ? lo * strides[ax] : 0))
    }

    /// The sub-tensor at `index` along `axis`, with that axis removed (a view).
    public func selecting(axis: Int, index: Int) -> Tensor {
        let ax = tensorRequire { try normalizeAxis(axis, rank: rank, op: "selecting") }
        let i = index < 0 ? index + shape[ax] : index
        tensorCheck(i >= 0 && i < shape[ax], "selecting", "index \(index) out of range for axis \(ax) of shape \(shape)")
        var s = shape, st = strides
        s.remove(at: ax); st.remove(at: ax)
        return Tensor(unchecked: storage, shape: s, strides: st, offset: offset + i * strides[ax])
    }

    /// Inserts an axis of size 1 at `axis` (in `-(rank+1)...rank`).
    public func unsqueezed(_ axis: Int) -> Tensor {
        let ax = tensorRequire { try normalizeAxis(axis, rank: rank + 1, op: "unsqueezed") }
        var s = shape, st = strides
        let inner = ax < rank ? strides[ax] * shape[ax] : 1
        s.insert(1, at: ax); st.insert(inner, at: ax)
        return Tensor(unchecked: storage, shape: s, strides: st, offset: offset)
    }

    /// Removes `axis`, which must have size 1; with no axis, removes every axis of size 1.
    public func squeezed(_ axis: Int? = nil) -> Tensor {
        var s = shape, st = strides
        if let axis {
            let ax = tensorRequire { try normalizeAxis(axis, rank: rank, op: "squeezed") }
            tensorCheck(shape[ax] == 1, "squeezed", "axis \(axis) of shape \(shape) has size \(shape[ax]), not 1")
            s.remove(at: ax); st.remove(at: ax)
        } else {
            let keep = shape.indices.filter { shape[$0] != 1 }
            s = keep.map { shape[$0] }; st = keep.map { strides[$0] }
        }
        return Tensor(unchecked: storage, shape: s, strides: st, offset: offset)
    }

    /// Broadcasts to `newShape` (a view with stride 0 on expanded axes). Leading axes may be added.
    public func expanded(to newShape: [Int]) -> Tensor {
        tensorCheck(newShape.count >= rank, "expanded", "cannot expand shape \(shape) to lower rank \(newShape)")
        let lead = newShape.count - rank
        var st = [Int](repeating: 0, count: newShape.count)
        for i in 0..<newShape.count {
            if i < lead { st[i] = 0; continue }
            let d = shape[i - lead]
            if d == newShape[i] { st[i] = strides[i - lead] }
            else {
                tensorCheck(d == 1, "expanded", "cannot expand shape \(shape) to \(newShape): axis \(i) has size \(d)")
                st[i] = 0
            }
        }
        return Tensor(unchecked: storage, shape: newShape, strides: st, offset: offset)
    }

    /// The broadcast shape of two shapes (NumPy rules), or a `shapeMismatch` error naming `op`.
    public static func broadcastShape(_ a: [Int], _ b: [Int], op: String = "broadcast") throws -> [Int] {
        let r = Swift.max(a.count, b.count)
        var out = [Int](repeating: 1, count: r)
        for i in 0..<r {
            let da = i < r - a.count ? 1 : a[i - (r - a.count)]
            let db = i < r - b.count ? 1 : b[i - (r - b.count)]
            if da == db || db == 1 { out[i] = da }
            else if da == 1 { out[i] = db }
            else { throw TensorError.shapeMismatch(op: op, shapes: [a, b], expected: "shapes that broadcast (equal or 1 per axis)") }
        }
        return out
    }
}

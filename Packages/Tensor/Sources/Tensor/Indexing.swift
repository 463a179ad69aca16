// Integer indexing: index_select / embedding, gather, and their scatter-add backwards.

extension Tensor {
    /// Throws `indexOutOfRange` naming `op` for the first index outside `0..<size`.
    public static func checkIndices(_ indices: [Int], size: Int, op: String) throws {
        for i in indices where i < 0 || i >= size {
            throw TensorError.indexOutOfRange(op: op, index: i, size: size)
        }
    }

    /// (outer, size along axis, inner) of a shape around `axis`.
    static func splitAround(_ shape: [Int], _ ax: Int) -> (outer: Int, dim: Int, inner: Int) {
        (shape[..<ax].reduce(1, *), shape[ax], shape[(ax + 1)...].reduce(1, *))
    }

    /// The sub-tensors at `indices` along `axis` (repeats allowed), like `torch.index_select`.
    public func indexSelect(axis: Int, indices: [Int]) -> Tensor {
        let ax = tensorRequire { try normalizeAxis(axis, rank: rank, op: "indexSelect") }
        tensorRequire { try Tensor.checkIndices(indices, size: shape[ax], op: "indexSelect(axis: \(axis)) of shape \(shape)") }
        var outShape = shape
        outShape[ax] = indices.count
        let out = Tensor(uninitializedShape: outShape)
        if out.count == 0 { return out }
        let x = contiguous()
        let (outer, dim, inner) = Tensor.splitAround(shape, ax)
        let k = indices.count
        let src = UnsafePointer(x.basePointer), dst = out.storage.pointer
        indices.withUnsafeBufferPointer { idx in
            Parallel.forEachChunk(outer * k, costPerItem: inner) { range in
                for item in range {
                    let o = item / k, j = item % k
                    let s = src + (o * dim + idx[j]) * inner
                    let d = dst + item * inner
                    if inner == 1 { d[0] = s[0] } else { d.update(from: s, count: inner) }
                }
            }
        }
        withExtendedLifetime(x) {}
        return out
    }

    /// Rows of `weight` ([vocabulary, dim]) for each id: shape [ids.count, dim].
    public static func embedding(weight: Tensor, ids: [Int]) -> Tensor {
        tensorCheck(weight.rank == 2, "embedding", "weight must be [vocabulary, dim], got shape \(weight.shape)")
        tensorRequire { try checkIndices(ids, size: weight.shape[0], op: "embedding (weight \(weight.shape))") }
        return weight.indexSelect(axis: 0, indices: ids)
    }

    /// Sums `source` into a zero tensor of `shape` at `indices` along `axis` (repeated indices accumulate):
    /// the backward of `indexSelect`/`embedding`. `source` has `shape` with `indices.count` along `axis`.
    public static func indexAdd(into shape: [Int], axis: Int, indices: [Int], source: Tensor) -> Tensor {
        let ax = tensorRequire { try normalizeAxis(axis, rank: shape.count, op: "indexAdd") }
        var expected = shape
        expected[ax] = indices.count
        tensorCheck(source.shape == expected, "indexAdd",
                    "source shape \(source.shape) does not match \(expected) (target \(shape) with \(indices.count) indices on axis \(ax))")
        tensorRequire { try checkIndices(indices, size: shape[ax], op: "indexAdd(axis: \(axis)) into shape \(shape)") }
        var out = Tensor.zeros(shape)
        if source.count == 0 { return out }
        let s = source.contiguous()
        let (outer, dim, inner) = splitAround(shape, ax)
        let k = indices.count
        let src = UnsafePointer(s.basePointer)
        out.withMutableBuffer { buf in
            let dst = buf.baseAddress!
            indices.withUnsafeBufferPointer { idx in
                // Split over outer rows and column blocks of `inner`: disjoint outputs, fixed summation order.
                let blockLen = Swift.min(inner, 4096)
                let blocks = (inner + blockLen - 1) / blockLen
                Parallel.forEachChunk(outer * blocks, costPerItem: k * blockLen) { range in
                    for item in range {
                        let o = item / blocks, c0 = (item % blocks) * blockLen
                        let n = Swift.min(inner, c0 + blockLen) - c0
                        for j in 0..<k {
                            let d = dst + (o * dim + idx[j]) * inner + c0
                            let sp = src + (o * k + j) * inner + c0
                            for c in 0..<n { d[c] += sp[c] }
                        }
                    }
                }
            }
        }
        withExtendedLifetime(s) {}
        return out
    }

    /// Validates `gather`/`scatterAdd` arguments like `torch.gather`: index rank equal to the data's,
    /// index sizes no larger than the data's on the other axes, indices in range along `axis`.
    public static func checkGather(dataShape: [Int], axis: Int, indices: [Int], indexShape: [Int], op: String) throws -> Int {
        let ax = try normalizeAxis(axis, rank: dataShape.count, op: op)
        guard indexShape.count == dataShape.count,
              indexShape.indices.allSatisfy({ $0 == ax || indexShape[$0] <= dataShape[$0] }),
              indexShape.allSatisfy({ $0 >= 0 }) else {
            throw TensorError.shapeMismatch(op: op, shapes: [dataShape, indexShape],
                                            expected: "an index shape of the same rank, no larger than the data on axes other than \(ax)")
        }
        guard indices.count == indexShape.reduce(1, *) else {
            throw TensorError.invalidArgument(op: op, message: "\(indices.count) indices given for index shape \(indexShape)")
        }
        try checkIndices(indices, size: dataShape[ax], op: op)
        return ax
    }

    /// Offsets into data with `strides` for every index position (row-major over `indexShape`).
    private static func gatherOffsets(indexShape: [Int], strides: [Int], axis ax: Int, indices: [Int],
                                      _ body: (Int, Int) -> Void) {
        let n = indices.count
        if n == 0 { return }
        let r = indexShape.count
        var idx = [Int](repeating: 0, count: r)
        var base = 0  // offset of the current position with the axis coordinate left out
        for p in 0..<n {
            body(p, base + indices[p] * strides[ax])
            var d = r - 1
            while d >= 0 {
                idx[d] += 1
                if d != ax { base += strides[d] }
                if idx[d] < indexShape[d] { break }
                if d != ax { base -= strides[d] * indexShape[d] }
                idx[d] = 0
                d -= 1
            }
        }
    }

    /// `out[p] = self[p with axis coordinate replaced by indices[p]]` for every position `p` of `indexShape`
    /// (row-major `indices`), like `torch.gather`.
    public func gather(axis: Int, indices: [Int], indexShape: [Int]) -> Tensor {
        let ax = tensorRequire {
            try Tensor.checkGather(dataShape: shape, axis: axis, indices: indices, indexShape: indexShape, op: "gather")
        }
        var out = Tensor(uninitializedShape: indexShape)
        let src = UnsafePointer(basePointer)
        out.withMutableBuffer { buf in
            Tensor.gatherOffsets(indexShape: indexShape, strides: strides, axis: ax, indices: indices) { p, off in
                buf[p] = src[off]
            }
        }
        withExtendedLifetime(self) {}
        return out
    }

    /// `gather` with indices given as a tensor of integral Float values (its shape is the index shape).
    public func gather(axis: Int, index: Tensor) -> Tensor {
        let ids = index.scalars.map { v -> Int in
            tensorCheck(v == v.rounded() && Swift.abs(v) < 16_777_216, "gather", "index value \(v) is not an integer")
            return Int(v)
        }
        return gather(axis: axis, indices: ids, indexShape: index.shape)
    }

    /// Adds `source` (shape `indexShape`) into a zero tensor of `shape` at the positions `gather` reads
    /// (repeats accumulate): the backward of `gather`.
    public static func scatterAdd(into shape: [Int], axis: Int, indices: [Int], indexShape: [Int], source: Tensor) -> Tensor {
        let ax = tensorRequire {
            try checkGather(dataShape: shape, axis: axis, indices: indices, indexShape: indexShape, op: "scatterAdd")
        }
        tensorCheck(source.shape == indexShape, "scatterAdd",
                    "source shape \(source.shape) must equal the index shape \(indexShape)")
        var out = Tensor.zeros(shape)
        let s = source.contiguous()
        let src = UnsafePointer(s.basePointer)
        let strides = out.strides
        out.withMutableBuffer { buf in
            gatherOffsets(indexShape: indexShape, strides: strides, axis: ax, indices: indices) { p, off in
                buf[off] += src[p]
            }
        }
        withExtendedLifetime(s) {}
        return out
    }
}

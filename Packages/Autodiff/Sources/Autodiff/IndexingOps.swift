import Tensor

/// Gathering by index (backward: scatter-add) and selection by a constant condition.
extension Variable {
    /// Rows (or slices) at `indices` along `axis`; repeated indices accumulate in the backward pass.
    public func indexSelect(axis: Int, indices: [Int]) -> Variable {
        let inShape = shape
        return Variable.record("indexSelect", value.indexSelect(axis: axis, indices: indices), inputs: [self]) { g, _ in
            [Tensor.indexAdd(into: inShape, axis: axis, indices: indices, source: g)]
        }
    }

    /// Rows of `weight` [V, D] for `ids`: [ids.count, D].
    public static func embedding(weight: Variable, ids: [Int]) -> Variable {
        let wShape = weight.shape
        return record("embedding", Tensor.embedding(weight: weight.value, ids: ids), inputs: [weight]) { g, _ in
            [Tensor.indexAdd(into: wShape, axis: 0, indices: ids, source: g)]
        }
    }

    /// `out[p] = self[p with the axis coordinate replaced by indices[p]]` (`torch.gather`); `indices` is row-major
    /// over `indexShape`.
    public func gather(axis: Int, indices: [Int], indexShape: [Int]) -> Variable {
        let inShape = shape
        return Variable.record("gather", value.gather(axis: axis, indices: indices, indexShape: indexShape), inputs: [self]) { g, _ in
            [Tensor.scatterAdd(into: inShape, axis: axis, indices: indices, indexShape: indexShape, source: g)]
        }
    }

    /// `cond != 0 ? a : b` elementwise with broadcasting; `cond` is a constant tensor.
    public static func `where`(_ cond: Tensor, _ a: Variable, _ b: Variable) -> Variable {
        let sa = a.shape, sb = b.shape
        let zero = Tensor(scalar: 0)
        return record("where", Tensor.where(cond, a.value, b.value), inputs: [a, b]) { g, needs in
            [needs[0] ? Kernels.sumToShape(Tensor.where(cond, g, zero), sa, op: "where backward") : nil,
             needs[1] ? Kernels.sumToShape(Tensor.where(cond, zero, g), sb, op: "where backward") : nil]
        }
    }
}

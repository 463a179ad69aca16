import Tensor

/// Concatenation, stacking and splitting. Backward of concat/stack hands each input its slice of the gradient
/// (a view); split/chunk pieces are slices, whose backward writes into zeros.
extension Variable {
    /// Joins variables along an existing axis; all other dimensions must match.
    public static func concat(_ xs: [Variable], axis: Int) -> Variable {
        tensorCheck(!xs.isEmpty, "Variable.concat", "needs at least one variable")
        let r = xs[0].rank
        let ax = tensorRequire { try normalizeAxis(axis, rank: r, op: "Variable.concat") }
        let value = Tensor.concat(xs.map(\.value), axis: ax)
        let sizes = xs.map { $0.shape[ax] }
        return record("concat", value, inputs: xs) { g, needs in
            var start = 0
            return sizes.enumerated().map { i, n in
                defer { start += n }
                return needs[i] ? g.sliced(axis: ax, start: start, end: start + n) : nil
            }
        }
    }

    /// Joins variables of equal shape along a new axis.
    public static func stack(_ xs: [Variable], axis: Int = 0) -> Variable {
        tensorCheck(!xs.isEmpty, "Variable.stack", "needs at least one variable")
        let ax = tensorRequire { try normalizeAxis(axis, rank: xs[0].rank + 1, op: "Variable.stack") }
        for x in xs {
            tensorCheck(x.shape == xs[0].shape, "Variable.stack", "shapes differ: \(xs.map(\.shape))")
        }
        return concat(xs.map { $0.unsqueezed(ax) }, axis: ax)
    }

    /// Splits along `axis` into pieces of the given sizes (which must add up to the dimension).
    public func split(sizes: [Int], axis: Int) -> [Variable] {
        let ax = tensorRequire { try normalizeAxis(axis, rank: rank, op: "Variable.split") }
        tensorCheck(sizes.reduce(0, +) == shape[ax] && sizes.allSatisfy { $0 >= 0 }, "Variable.split",
                    "sizes \(sizes) do not add up to dimension \(shape[ax]) of axis \(axis) in shape \(shape)")
        var start = 0
        return sizes.map { n in
            defer { start += n }
            return sliced(axis: ax, start: start, end: start + n)
        }
    }

    /// Splits along `axis` into `n` pieces of equal size (the last may be smaller, like `torch.chunk`).
    public func chunk(_ n: Int, axis: Int) -> [Variable] {
        let ax = tensorRequire { try normalizeAxis(axis, rank: rank, op: "Variable.chunk") }
        tensorCheck(n > 0, "Variable.chunk", "chunk count must be positive, got \(n)")
        let d = shape[ax]
        let size = (d + n - 1) / n
        var sizes: [Int] = []
        var left = d
        while left > 0 { sizes.append(Swift.min(size, left)); left -= size }
        if sizes.isEmpty { sizes = [0] }
        return split(sizes: sizes, axis: ax)
    }
}

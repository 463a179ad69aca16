import Tensor

/// Reductions. The gradient of a reduced tensor is broadcast back over the reduced axes.
extension Variable {
    /// Sum of all elements (0-d).
    public func sum() -> Variable {
        let inShape = shape
        return Variable.record("sum", value.sum(), inputs: [self]) { g, _ in [g.reshaped(inShape.map { _ in 1 }).expanded(to: inShape)] }
    }

    /// Sum over `axes`.
    public func sum(axes: [Int], keepDims: Bool = false) -> Variable {
        let inShape = shape
        let kept = tensorRequire { try Tensor.reducedShape(inShape, axes: axes, keepDims: true, op: "sum") }
        return Variable.record("sum", value.sum(axes: axes, keepDims: keepDims), inputs: [self]) { g, _ in
            [g.reshaped(kept).expanded(to: inShape)]
        }
    }

    /// Sum over one axis.
    public func sum(axis: Int, keepDims: Bool = false) -> Variable { sum(axes: [axis], keepDims: keepDims) }

    /// Mean of all elements (0-d).
    public func mean() -> Variable {
        let inShape = shape, n = Float(Swift.max(count, 1))
        return Variable.record("mean", value.mean(), inputs: [self]) { g, _ in
            [(g / n).reshaped(inShape.map { _ in 1 }).expanded(to: inShape)]
        }
    }

    /// Mean over `axes`.
    public func mean(axes: [Int], keepDims: Bool = false) -> Variable {
        let inShape = shape
        let kept = tensorRequire { try Tensor.reducedShape(inShape, axes: axes, keepDims: true, op: "mean") }
        let n = Float(Swift.max(1, count / Swift.max(kept.reduce(1, *), 1)))
        return Variable.record("mean", value.mean(axes: axes, keepDims: keepDims), inputs: [self]) { g, _ in
            [(g / n).reshaped(kept).expanded(to: inShape)]
        }
    }

    /// Mean over one axis.
    public func mean(axis: Int, keepDims: Bool = false) -> Variable { mean(axes: [axis], keepDims: keepDims) }

    /// Variance over `axes` (divided by N, or N-1 when `unbiased`); gradient `2 (x - mean) / (N - correction)`.
    public func variance(axes: [Int], keepDims: Bool = false, unbiased: Bool = false) -> Variable {
        let x = value
        let kept = tensorRequire { try Tensor.reducedShape(x.shape, axes: axes, keepDims: true, op: "variance") }
        let n = x.count / Swift.max(kept.reduce(1, *), 1)
        let denom = Float(n - (unbiased ? 1 : 0))
        return Variable.record("variance", x.variance(axes: axes, keepDims: keepDims, unbiased: unbiased), inputs: [self]) { g, _ in
            let centered = x - x.mean(axes: axes, keepDims: true)
            return [centered * (g.reshaped(kept) * (2 / denom))]
        }
    }

    /// Maximum along `axis`; the gradient goes to the first maximal element (like `torch.max(dim)`).
    public func max(axis: Int, keepDims: Bool = false) -> Variable { extreme(axis: axis, keepDims: keepDims, isMax: true) }

    /// Minimum along `axis`; the gradient goes to the first minimal element.
    public func min(axis: Int, keepDims: Bool = false) -> Variable { extreme(axis: axis, keepDims: keepDims, isMax: false) }

    /// Largest element (0-d); tied maxima share the gradient evenly (like `torch.max()`).
    public func max() -> Variable {
        let x = value
        let out = x.max()
        return Variable.record("max", out, inputs: [self]) { g, _ in
            let mask = x.equal(out.item())
            let ties = mask.sum().item()
            return [mask * (g.reshaped([]) / ties)]
        }
    }

    /// Smallest element (0-d); tied minima share the gradient evenly.
    public func min() -> Variable {
        let x = value
        let out = x.min()
        return Variable.record("min", out, inputs: [self]) { g, _ in
            let mask = x.equal(out.item())
            let ties = mask.sum().item()
            return [mask * (g.reshaped([]) / ties)]
        }
    }

    private func extreme(axis: Int, keepDims: Bool, isMax: Bool) -> Variable {
        let x = value
        let ax = tensorRequire { try normalizeAxis(axis, rank: x.rank, op: isMax ? "max" : "min") }
        let out = isMax ? x.max(axis: ax, keepDims: keepDims) : x.min(axis: ax, keepDims: keepDims)
        var kept = x.shape
        kept[ax] = 1
        return Variable.record(isMax ? "max" : "min", out, inputs: [self]) { g, _ in
            let idx = isMax ? x.argmax(axis: ax) : x.argmin(axis: ax)
            return [Tensor.scatterAdd(into: x.shape, axis: ax, indices: idx, indexShape: kept, source: g.reshaped(kept))]
        }
    }
}

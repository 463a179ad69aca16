import Tensor

/// Views on variables. Forward results share storage with the input; gradients are reshaped, transposed back,
/// written into zeros (slices) or summed over broadcast axes (expand).
extension Variable {
    /// The same elements in a new shape (one dimension may be -1).
    public func reshaped(_ newShape: [Int]) -> Variable {
        let inShape = shape
        return Variable.record("reshaped", value.reshaped(newShape), inputs: [self]) { g, _ in [g.reshaped(inShape)] }
    }

    /// Reshape to 1-D.
    public func flattened() -> Variable { reshaped([-1]) }

    /// Swaps two axes.
    public func transposed(_ a: Int, _ b: Int) -> Variable {
        Variable.record("transposed", value.transposed(a, b), inputs: [self]) { g, _ in [g.transposed(a, b)] }
    }

    /// Matrix transpose of the last two axes.
    public var T: Variable {
        tensorCheck(rank >= 2, "T", "needs rank >= 2, got shape \(shape)")
        return transposed(-2, -1)
    }

    /// Reorders the axes; `dims` is a permutation of `0..<rank`.
    public func permuted(_ dims: [Int]) -> Variable {
        let out = value.permuted(dims)
        let r = rank
        let d = dims.map { $0 < 0 ? $0 + r : $0 }
        var inverse = [Int](repeating: 0, count: r)
        for (i, a) in d.enumerated() { inverse[a] = i }
        return Variable.record("permuted", out, inputs: [self]) { g, _ in [g.permuted(inverse)] }
    }

    /// Elements `start..<end` (step `step`) along `axis`, Python-style clamping.
    public func sliced(axis: Int, start: Int, end: Int? = nil, step: Int = 1) -> Variable {
        let inShape = shape
        return Variable.record("sliced", value.sliced(axis: axis, start: start, end: end, step: step), inputs: [self]) { g, _ in
            [Variable.scatterIntoZeros(g, shape: inShape) { $0.sliced(axis: axis, start: start, end: end, step: step) }]
        }
    }

    /// The sub-tensor at `index` along `axis`, with that axis removed.
    public func selecting(axis: Int, index: Int) -> Variable {
        let inShape = shape
        return Variable.record("selecting", value.selecting(axis: axis, index: index), inputs: [self]) { g, _ in
            [Variable.scatterIntoZeros(g, shape: inShape) { $0.selecting(axis: axis, index: index) }]
        }
    }

    /// Inserts an axis of size 1.
    public func unsqueezed(_ axis: Int) -> Variable {
        let inShape = shape
        return Variable.record("unsqueezed", value.unsqueezed(axis), inputs: [self]) { g, _ in [g.reshaped(inShape)] }
    }

    /// Removes `axis` (of size 1), or every axis of size 1.
    public func squeezed(_ axis: Int? = nil) -> Variable {
        let inShape = shape
        return Variable.record("squeezed", value.squeezed(axis), inputs: [self]) { g, _ in [g.reshaped(inShape)] }
    }

    /// Broadcasts to `newShape`; the gradient is summed over the broadcast axes.
    public func expanded(to newShape: [Int]) -> Variable {
        let inShape = shape
        return Variable.record("expanded", value.expanded(to: newShape), inputs: [self]) { g, _ in
            [Kernels.sumToShape(g, inShape, op: "expanded backward")]
        }
    }

    /// A zero tensor of `shape` with `g` written where `view` (applied to a contiguous tensor of `shape`) looks.
    internal static func scatterIntoZeros(_ g: Tensor, shape: [Int], view: (Tensor) -> Tensor) -> Tensor {
        var zeros = Tensor(shape: shape, repeating: 0)
        let (strides, offset): ([Int], Int) = {
            let v = view(zeros)
            tensorCheck(v.shape == g.shape, "backward", "gradient of shape \(g.shape) for a view of shape \(v.shape)")
            return (v.strides, v.offset)
        }()
        zeros.withMutableBuffer { po in
            g.withContiguousBuffer { pg in
                Kernels.stridedStore(shape: g.shape, dstStrides: strides, dst: po.baseAddress! + offset,
                                     src: pg.baseAddress!, accumulate: false)
            }
        }
        return zeros
    }
}

import Tensor

/// Softmax and log-softmax (numerically stable forward; backward from the saved output).
extension Variable {
    /// Softmax along `axis`.
    public func softmax(axis: Int) -> Variable {
        let y = value.softmax(axis: axis)
        return Variable.record("softmax", y, inputs: [self]) { g, _ in [Tensor.softmaxBackward(g, y, axis: axis)] }
    }

    /// Log-softmax along `axis`.
    public func logSoftmax(axis: Int) -> Variable {
        let y = value.logSoftmax(axis: axis)
        return Variable.record("logSoftmax", y, inputs: [self]) { g, _ in [Tensor.logSoftmaxBackward(g, y, axis: axis)] }
    }

    /// log(sum(exp(x))) along `axis`, stable; gradient softmax(x) * g.
    public func logSumExp(axis: Int, keepDims: Bool = false) -> Variable {
        let x = value
        let ax = tensorRequire { try normalizeAxis(axis, rank: x.rank, op: "logSumExp") }
        var kept = x.shape
        kept[ax] = 1
        return Variable.record("logSumExp", x.logSumExp(axis: ax, keepDims: keepDims), inputs: [self]) { g, _ in
            [x.softmax(axis: ax) * g.reshaped(kept)]
        }
    }
}

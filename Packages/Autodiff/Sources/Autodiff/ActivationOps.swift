import Tensor

/// Activation functions; backward uses Tensor's fused one-pass derivative kernels.
extension Variable {
    /// max(x, 0); gradient 0 at x = 0 (like PyTorch).
    public func relu() -> Variable {
        let x = value
        return Variable.record("relu", x.relu(), inputs: [self]) { g, _ in [Tensor.reluBackward(g, x)] }
    }

    /// x * sigmoid(x).
    public func silu() -> Variable {
        let x = value
        return Variable.record("silu", x.silu(), inputs: [self]) { g, _ in [Tensor.siluBackward(g, x)] }
    }

    /// GELU, exact (erf) by default or with the tanh approximation.
    public func gelu(approximate: GeluApproximation = .none) -> Variable {
        let x = value
        return Variable.record("gelu", x.gelu(approximate: approximate), inputs: [self]) { g, _ in
            [Tensor.geluBackward(g, x, approximate: approximate)]
        }
    }

    /// x * sigmoid(1.702 x) (CLIP's activation).
    public func quickGelu() -> Variable {
        let x = value
        return Variable.record("quickGelu", x.quickGelu(), inputs: [self]) { g, _ in [Tensor.quickGeluBackward(g, x)] }
    }
}

import Foundation
import Tensor

/// Elementwise functions. Forward uses the Tensor op; backward is one fused pass over the gradient and the saved
/// input `x` or output `y` (the derivative closure is a literal, inlined into the loop by `Kernels.map`).
extension Variable {
    public func exp() -> Variable {
        let y = value.exp()
        return Variable.record("exp", y, inputs: [self]) { g, _ in [Kernels.map(g, y, op: "exp backward") { g, y in g * y }] }
    }

    public func log() -> Variable {
        let x = value
        return Variable.record("log", x.log(), inputs: [self]) { g, _ in [Kernels.map(g, x, op: "log backward") { g, x in g / x }] }
    }

    public func sqrt() -> Variable {
        let y = value.sqrt()
        return Variable.record("sqrt", y, inputs: [self]) { g, _ in [Kernels.map(g, y, op: "sqrt backward") { g, y in g * 0.5 / y }] }
    }

    public func rsqrt() -> Variable {
        let y = value.rsqrt()
        return Variable.record("rsqrt", y, inputs: [self]) { g, _ in
            [Kernels.map(g, y, op: "rsqrt backward") { g, y in -0.5 * g * y * y * y }]
        }
    }

    /// |x|; the gradient at 0 is 0 (like PyTorch).
    public func abs() -> Variable {
        let x = value
        return Variable.record("abs", x.abs(), inputs: [self]) { g, _ in
            [Kernels.map(g, x, op: "abs backward") { g, x in x > 0 ? g : (x < 0 ? -g : 0) }]
        }
    }

    public func square() -> Variable {
        let x = value
        return Variable.record("square", x.square(), inputs: [self]) { g, _ in
            [Kernels.map(g, x, op: "square backward") { g, x in 2 * g * x }]
        }
    }

    public func sin() -> Variable {
        let x = value
        return Variable.record("sin", x.sin(), inputs: [self]) { g, _ in
            [Kernels.map(g, x, op: "sin backward") { g, x in g * Foundation.cos(x) }]
        }
    }

    public func cos() -> Variable {
        let x = value
        return Variable.record("cos", x.cos(), inputs: [self]) { g, _ in
            [Kernels.map(g, x, op: "cos backward") { g, x in -g * Foundation.sin(x) }]
        }
    }

    public func tanh() -> Variable {
        let y = value.tanh()
        return Variable.record("tanh", y, inputs: [self]) { g, _ in [Tensor.tanhBackward(g, output: y)] }
    }

    public func sigmoid() -> Variable {
        let y = value.sigmoid()
        return Variable.record("sigmoid", y, inputs: [self]) { g, _ in [Tensor.sigmoidBackward(g, output: y)] }
    }

    public func reciprocal() -> Variable {
        let y = value.reciprocal()
        return Variable.record("reciprocal", y, inputs: [self]) { g, _ in
            [Kernels.map(g, y, op: "reciprocal backward") { g, y in -g * y * y }]
        }
    }

    /// `x^p`; gradient `p x^(p-1)`.
    public func pow(_ p: Float) -> Variable {
        let x = value
        return Variable.record("pow", x.pow(p), inputs: [self]) { g, _ in
            [Kernels.map(g, x, op: "pow backward") { g, x in p == 0 ? 0 : g * p * Foundation.pow(x, p - 1) }]
        }
    }

    /// Clamps into `[min, max]`; the gradient passes where `min <= x <= max` (like PyTorch).
    public func clamped(min lo: Float? = nil, max hi: Float? = nil) -> Variable {
        let x = value
        let l = lo ?? -.infinity, h = hi ?? .infinity
        return Variable.record("clamped", x.clamped(min: lo, max: hi), inputs: [self]) { g, _ in
            [Kernels.map(g, x, op: "clamped backward") { g, x in x >= l && x <= h ? g : 0 }]
        }
    }
}

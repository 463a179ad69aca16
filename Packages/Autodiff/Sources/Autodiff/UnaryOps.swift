import Foundation
import Tensor

/// Elementwise functions. Forward uses the Tensor op; backward is one fused pass over (grad, saved tensor).
extension Variable {
    /// One-input elementwise op whose derivative is `d(g, saved)`, `saved` being the input or the output.
    @inline(__always)
    private func unary(_ op: String, _ out: Tensor, savesOutput: Bool,
                       _ d: @escaping (Float, Float) -> Float) -> Variable {
        let saved = savesOutput ? out : value
        return Variable.record(op, out, inputs: [self]) { g, _ in [Kernels.map(g, saved, op: "\(op) backward", d)] }
    }

    public func exp() -> Variable { unary("exp", value.exp(), savesOutput: true) { g, y in g * y } }
    public func log() -> Variable { unary("log", value.log(), savesOutput: false) { g, x in g / x } }
    public func sqrt() -> Variable { unary("sqrt", value.sqrt(), savesOutput: true) { g, y in g * 0.5 / y } }
    public func rsqrt() -> Variable { unary("rsqrt", value.rsqrt(), savesOutput: true) { g, y in -0.5 * g * y * y * y } }
    /// |x|; the gradient at 0 is 0 (like PyTorch).
    public func abs() -> Variable {
        unary("abs", value.abs(), savesOutput: false) { g, x in x > 0 ? g : (x < 0 ? -g : 0) }
    }
    public func square() -> Variable { unary("square", value.square(), savesOutput: false) { g, x in 2 * g * x } }
    public func sin() -> Variable { unary("sin", value.sin(), savesOutput: false) { g, x in g * Foundation.cos(x) } }
    public func cos() -> Variable { unary("cos", value.cos(), savesOutput: false) { g, x in -g * Foundation.sin(x) } }
    public func tanh() -> Variable { unary("tanh", value.tanh(), savesOutput: true) { g, y in g * (1 - y * y) } }
    public func sigmoid() -> Variable { unary("sigmoid", value.sigmoid(), savesOutput: true) { g, y in g * y * (1 - y) } }
    public func reciprocal() -> Variable { unary("reciprocal", value.reciprocal(), savesOutput: true) { g, y in -g * y * y } }

    /// `x^p`; gradient `p x^(p-1)`.
    public func pow(_ p: Float) -> Variable {
        unary("pow", value.pow(p), savesOutput: false) { g, x in p == 0 ? 0 : g * p * Foundation.pow(x, p - 1) }
    }

    /// Clamps into `[min, max]`; the gradient passes where `min <= x <= max` (like PyTorch).
    public func clamped(min lo: Float? = nil, max hi: Float? = nil) -> Variable {
        let l = lo ?? -.infinity, h = hi ?? .infinity
        return unary("clamped", value.clamped(min: lo, max: hi), savesOutput: false) { g, x in x >= l && x <= h ? g : 0 }
    }
}

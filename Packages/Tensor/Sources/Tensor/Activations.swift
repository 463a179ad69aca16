import Foundation

// Activation functions with the formulas PyTorch uses, and fused one-pass derivatives for autodiff.

/// Which GELU formula: `.none` is exact (erf), `.tanh` the tanh approximation (`F.gelu(approximate="tanh")`).
public enum GeluApproximation: String, Sendable {
    case none
    case tanh
}
public typealias GELUApproximation = GeluApproximation

/// sqrt(2/pi), the tanh-GELU inner scale.
private let geluBeta: Float = 0.7978846
private let geluKappa: Float = 0.044715
/// 1/sqrt(2).
private let sqrtHalf: Float = 0.70710677
/// 1/sqrt(2 pi), the normal density's scale.
private let normalPdfScale: Float = 0.3989423

struct ReluK: UnaryKernel { @inline(__always) func apply(_ x: Float) -> Float { x > 0 || x.isNaN ? x : 0 } }
struct SiluK: UnaryKernel {
    static var cost: Int { 4 }
    @inline(__always) func apply(_ x: Float) -> Float { x / (1 + fastExp(-x)) }
}
/// The standard normal CDF Phi(x) = 0.5 erfc(-x/sqrt2), vectorisable (1.8x faster than libm's erfcf per core).
/// erfc(z), z >= 0, is the Chebyshev fit t exp(-z^2 + P(t)), t = 1/(1 + z/2) (Numerical Recipes' erfcc, relative
/// error < 1.2e-7 for all z), so the negative tail keeps its relative accuracy: rounding z^2 costs ~z^2 * 6e-8,
/// the same as the conditioning of erfc in Float. (0.5 (1 + erf) as in PyTorch gives 0 for x <= -6.)
@inline(__always)
func normalCdf(_ x: Float) -> Float {
    let z = Swift.abs(x) * sqrtHalf
    let t = 1 / (1 + 0.5 * z)
    var p: Float = 0.17087277
    p = p * t - 0.82215223
    p = p * t + 1.48851587
    p = p * t - 1.13520398
    p = p * t + 0.27886807
    p = p * t - 0.18628806
    p = p * t + 0.09678418
    p = p * t + 0.37409196
    p = p * t + 1.00002368
    p = p * t - 1.26551223
    let lower = 0.5 * t * fastExp(p - z * z)  // Phi(-|x|)
    return x > 0 ? 1 - lower : lower
}

/// x Phi(x), exact GELU.
struct GeluK: UnaryKernel {
    static var cost: Int { 6 }
    @inline(__always) func apply(_ x: Float) -> Float { x * normalCdf(x) }
}
/// 0.5 x (1 + tanh(u)) == x * sigmoid(2u) exactly, u = sqrt(2/pi) (x + 0.044715 x^3).
struct GeluTanhK: UnaryKernel {
    static var cost: Int { 5 }
    @inline(__always) func apply(_ x: Float) -> Float { x * fastSigmoid(2 * geluBeta * (x + geluKappa * x * x * x)) }
}
struct QuickGeluK: UnaryKernel {
    static var cost: Int { 4 }
    @inline(__always) func apply(_ x: Float) -> Float { x * fastSigmoid(1.702 * x) }
}

struct ReluBackK: BinaryKernel { @inline(__always) func apply(_ g: Float, _ x: Float) -> Float { x > 0 ? g : 0 } }
struct SiluBackK: BinaryKernel {
    static var cost: Int { 4 }
    @inline(__always) func apply(_ g: Float, _ x: Float) -> Float {
        let s = fastSigmoid(x)
        return g * s * (1 + x * (1 - s))
    }
}
struct GeluBackK: BinaryKernel {
    static var cost: Int { 8 }
    @inline(__always) func apply(_ g: Float, _ x: Float) -> Float {
        let cdf = normalCdf(x)
        let pdf = fastExp(-0.5 * x * x) * normalPdfScale
        return g * (cdf + x * pdf)
    }
}
/// d/dx [x s(2u)] = s + 2 x s (1 - s) u', the same value as PyTorch's tanh form (1 - tanh^2 = 4 s (1 - s)).
struct GeluTanhBackK: BinaryKernel {
    static var cost: Int { 5 }
    @inline(__always) func apply(_ g: Float, _ x: Float) -> Float {
        let x2 = x * x
        let s = fastSigmoid(2 * geluBeta * (x + geluKappa * x2 * x))
        return g * (s + 2 * x * s * (1 - s) * geluBeta * (1 + 3 * geluKappa * x2))
    }
}
struct QuickGeluBackK: BinaryKernel {
    static var cost: Int { 4 }
    @inline(__always) func apply(_ g: Float, _ x: Float) -> Float {
        let s = fastSigmoid(1.702 * x)
        return g * (s + 1.702 * x * s * (1 - s))
    }
}
struct SigmoidBackK: BinaryKernel { @inline(__always) func apply(_ g: Float, _ y: Float) -> Float { g * y * (1 - y) } }
struct TanhBackK: BinaryKernel { @inline(__always) func apply(_ g: Float, _ y: Float) -> Float { g * (1 - y * y) } }

extension Tensor {
    /// max(x, 0) (NaN passes through).
    public func relu() -> Tensor { map(ReluK()) }
    /// x * sigmoid(x) (SiLU / swish).
    public func silu() -> Tensor { map(SiluK()) }
    /// GELU: exact `x * Phi(x)` by default, or the tanh approximation.
    public func gelu(approximate: GeluApproximation = .none) -> Tensor {
        approximate == .none ? map(GeluK()) : map(GeluTanhK())
    }
    /// CLIP's quick GELU: x * sigmoid(1.702 x).
    public func quickGelu() -> Tensor { map(QuickGeluK()) }

    private static func checkSameShape(_ grad: Tensor, _ x: Tensor, _ op: String) {
        tensorCheck(grad.shape == x.shape, op, "gradient shape \(grad.shape) differs from input shape \(x.shape)")
    }

    /// grad * relu'(x).
    public static func reluBackward(_ grad: Tensor, _ x: Tensor) -> Tensor {
        checkSameShape(grad, x, "reluBackward")
        return zipBroadcast(grad, x, ReluBackK(), op: "reluBackward")
    }
    /// grad * silu'(x), one pass.
    public static func siluBackward(_ grad: Tensor, _ x: Tensor) -> Tensor {
        checkSameShape(grad, x, "siluBackward")
        return zipBroadcast(grad, x, SiluBackK(), op: "siluBackward")
    }
    /// grad * gelu'(x) for the chosen formula, one pass (PyTorch's GeluBackward formulas).
    public static func geluBackward(_ grad: Tensor, _ x: Tensor, approximate: GeluApproximation = .none) -> Tensor {
        checkSameShape(grad, x, "geluBackward")
        return approximate == .none ? zipBroadcast(grad, x, GeluBackK(), op: "geluBackward")
                                    : zipBroadcast(grad, x, GeluTanhBackK(), op: "geluBackward")
    }
    /// grad * quickGelu'(x), one pass.
    public static func quickGeluBackward(_ grad: Tensor, _ x: Tensor) -> Tensor {
        checkSameShape(grad, x, "quickGeluBackward")
        return zipBroadcast(grad, x, QuickGeluBackK(), op: "quickGeluBackward")
    }
    /// grad * y * (1 - y), given the sigmoid output `y`.
    public static func sigmoidBackward(_ grad: Tensor, output y: Tensor) -> Tensor {
        checkSameShape(grad, y, "sigmoidBackward")
        return zipBroadcast(grad, y, SigmoidBackK(), op: "sigmoidBackward")
    }
    /// grad * (1 - y^2), given the tanh output `y`.
    public static func tanhBackward(_ grad: Tensor, output y: Tensor) -> Tensor {
        checkSameShape(grad, y, "tanhBackward")
        return zipBroadcast(grad, y, TanhBackK(), op: "tanhBackward")
    }
}

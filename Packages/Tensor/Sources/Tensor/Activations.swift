import Foundation

// Activation functions with the formulas PyTorch uses, and fused one-pass derivatives for autodiff.

/// Which GELU formula: `.none` is exact (erf), `.tanh` the tanh approximation (`F.gelu(approximate="tanh")`).
public enum GeluApproximation: String, Sendable {
    case none
    case tanh
}
public typealias GELUApproximation = GeluApproximation

/// sqrt(2/pi), the tanh-GELU inner scale.
private let geluBeta: Float = Float(2.0.squareRoot() * (2.0 / Double.pi.squareRoot()) * 0.5)
private let geluKappa: Float = 0.044715
/// 1/sqrt(2).
private let sqrtHalf: Float = Float(0.5.squareRoot())
/// 1/sqrt(2 pi), the normal density's scale.
private let normalPdfScale: Float = Float(1 / (2 * Double.pi).squareRoot())

struct ReluK: UnaryKernel { func apply(_ x: Float) -> Float { x > 0 || x.isNaN ? x : 0 } }
struct SiluK: UnaryKernel {
    static var cost: Int { 4 }
    func apply(_ x: Float) -> Float { x / (1 + fastExp(-x)) }
}
/// The standard normal CDF as 0.5 erfc(-x/sqrt2) (libm): unlike 0.5 (1 + erf(x/sqrt2)) it keeps its relative
/// accuracy in the negative tail (PyTorch's GELU returns 0 for x <= -6; this returns the true tiny value).
@inline(__always)
func normalCdf(_ x: Float) -> Float { 0.5 * Foundation.erfc(-x * sqrtHalf) }

/// x Phi(x), exact GELU.
struct GeluK: UnaryKernel {
    static var cost: Int { 10 }
    func apply(_ x: Float) -> Float { x * normalCdf(x) }
}
/// 0.5 x (1 + tanh(u)) == x * sigmoid(2u) exactly, u = sqrt(2/pi) (x + 0.044715 x^3).
struct GeluTanhK: UnaryKernel {
    static var cost: Int { 5 }
    func apply(_ x: Float) -> Float { x * fastSigmoid(2 * geluBeta * (x + geluKappa * x * x * x)) }
}
struct QuickGeluK: UnaryKernel {
    static var cost: Int { 4 }
    func apply(_ x: Float) -> Float { x * fastSigmoid(1.702 * x) }
}

struct ReluBackK: BinaryKernel { func apply(_ g: Float, _ x: Float) -> Float { x > 0 ? g : 0 } }
struct SiluBackK: BinaryKernel {
    static var cost: Int { 4 }
    func apply(_ g: Float, _ x: Float) -> Float {
        let s = fastSigmoid(x)
        return g * s * (1 + x * (1 - s))
    }
}
struct GeluBackK: BinaryKernel {
    static var cost: Int { 12 }
    func apply(_ g: Float, _ x: Float) -> Float {
        let cdf = normalCdf(x)
        let pdf = fastExp(-0.5 * x * x) * normalPdfScale
        return g * (cdf + x * pdf)
    }
}
/// d/dx [x s(2u)] = s + 2 x s (1 - s) u', the same value as PyTorch's tanh form (1 - tanh^2 = 4 s (1 - s)).
struct GeluTanhBackK: BinaryKernel {
    static var cost: Int { 5 }
    func apply(_ g: Float, _ x: Float) -> Float {
        let x2 = x * x
        let s = fastSigmoid(2 * geluBeta * (x + geluKappa * x2 * x))
        return g * (s + 2 * x * s * (1 - s) * geluBeta * (1 + 3 * geluKappa * x2))
    }
}
struct QuickGeluBackK: BinaryKernel {
    static var cost: Int { 4 }
    func apply(_ g: Float, _ x: Float) -> Float {
        let s = fastSigmoid(1.702 * x)
        return g * (s + 1.702 * x * s * (1 - s))
    }
}
struct SigmoidBackK: BinaryKernel { func apply(_ g: Float, _ y: Float) -> Float { g * y * (1 - y) } }
struct TanhBackK: BinaryKernel { func apply(_ g: Float, _ y: Float) -> Float { g * (1 - y * y) } }

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

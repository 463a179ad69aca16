import Autodiff
import Foundation
import Tensor

/// Gradient norms and clipping with `torch.nn.utils.clip_grad_norm_` semantics.
public enum GradientClipping {
    /// The p-norm of all gradients seen as one vector (p = .infinity for the max norm). Parameters without a
    /// gradient are ignored. Accumulates in Double.
    public static func totalNorm(_ parameters: [Variable], normType: Double = 2) -> Float {
        tensorCheck(normType > 0, "GradientClipping.totalNorm", "norm type must be positive, got \(normType)")
        var norms: [Double] = []
        for v in parameters {
            guard let g = v.grad else { continue }
            norms.append(g.withContiguousBuffer { b in
                if normType.isInfinite {
                    var m = 0.0
                    for x in b { m = Swift.max(m, Double(Swift.abs(x))) }
                    return m
                }
                var s = 0.0
                if normType == 2 {
                    for x in b { s += Double(x) * Double(x) }
                    return Float(s.squareRoot()).asDouble
                }
                for x in b { s += Foundation.pow(Double(Swift.abs(x)), normType) }
                return Float(Foundation.pow(s, 1 / normType)).asDouble
            })
        }
        if normType.isInfinite { return Float(norms.max() ?? 0) }
        var s = 0.0
        for n in norms { s += Foundation.pow(n, normType) }
        return Float(Foundation.pow(s, 1 / normType))
    }

    /// Scales every gradient by min(1, maxNorm / (total + 1e-6)) and returns the total norm before clipping
    /// (`torch.nn.utils.clip_grad_norm_`). Like PyTorch it always multiplies, by 1 when under the limit.
    @discardableResult
    public static func clipGradNorm(_ parameters: [Variable], maxNorm: Double, normType: Double = 2,
                                    errorIfNonfinite: Bool = false) -> Float {
        let total = totalNorm(parameters, normType: normType)
        tensorCheck(!errorIfNonfinite || total.isFinite, "clipGradNorm",
                    "the total norm of order \(normType) of the gradients is non-finite (\(total))")
        let coef = Swift.min(Float(maxNorm) / (total + 1e-6), 1)
        for v in parameters {
            guard var g = v.grad else { continue }
            v.grad = nil   // keep g uniquely referenced so the scaling happens in place
            g.withMutableBuffer { b in for i in 0..<b.count { b[i] *= coef } }
            v.grad = g
        }
        return total
    }

    /// `clipGradNorm` over named parameters (e.g. `store.trainableParameters()`).
    @discardableResult
    public static func clipGradNorm(_ parameters: [NamedParameter], maxNorm: Double, normType: Double = 2,
                                    errorIfNonfinite: Bool = false) -> Float {
        clipGradNorm(parameters.map(\.variable), maxNorm: maxNorm, normType: normType, errorIfNonfinite: errorIfNonfinite)
    }
}

private extension Float {
    var asDouble: Double { Double(self) }
}

import Foundation
import Tensor

/// Finite-difference check of backward rules.
///
/// The function under test may return any shape; it is projected to a scalar with fixed random weights `r`
/// (so the whole Jacobian is exercised, not just its column sums): `L(x) = sum(r * f(x))`. The analytic gradient
/// comes from `f(x).backward(r)`; the numeric one from central differences `(L(x + eps e_j) - L(x - eps e_j)) / 2eps`
/// per element, with `f` in Float and the projection summed in Double.
///
/// Error per element: `|analytic - numeric| / max(|numeric|, |analytic|, floorFraction * scale, absoluteFloor)`,
/// where `scale` is the largest numeric gradient magnitude of that input, so tiny entries are judged relative to
/// the input's gradient scale instead of their own size. Float evaluation limits the attainable error to about
/// `1e-7 * |L| / eps`; use eps around 1e-2 ... 1e-3, small shapes, and inputs away from kinks (relu at 0, ties).
public enum GradientCheck {
    /// The outcome of one check.
    public struct Report: CustomStringConvertible {
        /// Largest element error per input (0 for inputs that were not checked).
        public let errors: [Float]
        public let tolerance: Float
        /// Worst element per input: flat index, analytic and numeric gradient.
        public let worst: [(index: Int, analytic: Float, numeric: Float)]
        /// True when every error is within `tolerance`.
        public var passed: Bool { errors.allSatisfy { $0 <= tolerance } }
        /// The largest error over all inputs.
        public var maxError: Float { errors.max() ?? 0 }

        public var description: String {
            let lines = errors.indices.map { i in
                let w = worst[i]
                return "  input \(i): max error \(errors[i]) at element \(w.index) (analytic \(w.analytic), numeric \(w.numeric))"
            }
            return "GradientCheck \(passed ? "passed" : "FAILED") (tolerance \(tolerance)):\n" + lines.joined(separator: "\n")
        }
    }

    /// Compares `f`'s backward rules with central differences at `inputs`.
    /// - Parameters:
    ///   - differentiable: which inputs to check (default all); the others are passed as constants.
    ///   - seed: seed of the projection weights.
    public static func check(inputs: [Tensor], differentiable: [Bool]? = nil, eps: Float = 1e-2,
                             tolerance: Float = 1e-2, floorFraction: Float = 0.1, absoluteFloor: Float = 1e-3,
                             seed: UInt64 = 0x5eed, _ f: ([Variable]) -> Variable) -> Report {
        let diff = differentiable ?? inputs.map { _ in true }
        tensorCheck(diff.count == inputs.count, "GradientCheck", "differentiable has \(diff.count) entries for \(inputs.count) inputs")

        // Analytic gradients.
        let vars = zip(inputs, diff).map { Variable($0, requiresGrad: $1) }
        let out = GradMode.enableGrad { f(vars) }
        let r = uniform(out.shape, seed: seed, in: -1...1)
        let analytic: [Tensor?]
        if out.requiresGrad {
            out.backward(r)
            analytic = vars.map { $0.grad }
        } else {
            analytic = vars.map { _ in nil }
        }
        let weights = r.scalars.map(Double.init)

        func loss(_ xs: [Tensor]) -> Double {
            let y = GradMode.noGrad { f(xs.map { Variable($0) }) }
            tensorCheck(y.shape == out.shape, "GradientCheck", "f returned shape \(y.shape), first call returned \(out.shape)")
            var s = 0.0
            y.value.withContiguousBuffer { p in for i in 0..<p.count { s += weights[i] * Double(p[i]) } }
            return s
        }

        var errors: [Float] = []
        var worst: [(index: Int, analytic: Float, numeric: Float)] = []
        for (k, x) in inputs.enumerated() {
            guard diff[k] else { errors.append(0); worst.append((0, 0, 0)); continue }
            let n = x.count
            var numeric = [Float](repeating: 0, count: n)
            var xs = inputs
            var base = Tensor(copying: x)
            for j in 0..<n {
                let orig = base.withMutableBuffer { $0[j] }
                base.withMutableBuffer { $0[j] = orig + eps }
                xs[k] = Tensor(copying: base)
                let plus = loss(xs)
                base.withMutableBuffer { $0[j] = orig - eps }
                xs[k] = Tensor(copying: base)
                let minus = loss(xs)
                base.withMutableBuffer { $0[j] = orig }
                numeric[j] = Float((plus - minus) / (2 * Double(eps)))
            }
            let a = analytic[k]?.scalars ?? [Float](repeating: 0, count: n)
            let scale = numeric.map(abs).max() ?? 0
            var e: Float = -1
            var w = (index: 0, analytic: Float(0), numeric: Float(0))
            for j in 0..<n {
                let denom = max(abs(numeric[j]), abs(a[j]), floorFraction * scale, absoluteFloor)
                let ej = abs(a[j] - numeric[j]) / denom
                if ej > e || ej.isNaN { e = ej.isNaN ? .infinity : ej; w = (j, a[j], numeric[j]) }
            }
            e = max(e, 0)
            errors.append(e)
            worst.append(w)
        }
        return Report(errors: errors, tolerance: tolerance, worst: worst)
    }

    /// A tensor with elements uniform in `range` from a fixed seed (SplitMix64); with `awayFromZero > 0`, every
    /// element has magnitude at least that (signs kept), to keep inputs away from kinks at 0.
    public static func uniform(_ shape: [Int], seed: UInt64, in range: ClosedRange<Float> = -1...1,
                               awayFromZero: Float = 0) -> Tensor {
        var state = seed &+ 0x9E37_79B9_7F4A_7C15
        let n = shape.reduce(1, *)
        var values = [Float](repeating: 0, count: n)
        for i in 0..<n {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            z ^= z >> 31
            let u = Float(z >> 40) / Float(1 << 24)
            var v = range.lowerBound + (range.upperBound - range.lowerBound) * u
            if awayFromZero > 0 && abs(v) < awayFromZero { v = v < 0 ? -awayFromZero - abs(v) : awayFromZero + v }
            values[i] = v
        }
        return Tensor(shape: shape, scalars: values)
    }
}

import Foundation
import Tensor

/// How a new parameter is filled, with PyTorch's default initialisations as named cases.
public enum Initializer {
    case zeros
    case ones
    case constant(Float)
    /// Uniform on [low, high) (`torch.nn.init.uniform_`).
    case uniform(low: Float, high: Float)
    /// Normal (`torch.nn.init.normal_`).
    case normal(mean: Float, std: Float)
    /// `torch.nn.init.kaiming_uniform_(w, a=a, mode="fan_in", nonlinearity="leaky_relu")`:
    /// uniform on ±sqrt(6 / ((1 + a²) · fanIn)).
    case kaimingUniform(a: Float, fanIn: Int)
    /// A given value (its shape must match the parameter).
    case value(Tensor)

    /// PyTorch's default for `nn.Linear` / `nn.Conv2d` weights: kaiming-uniform with a = √5, i.e. ±1/√fanIn.
    public static func defaultWeight(fanIn: Int) -> Initializer { .kaimingUniform(a: Float(5).squareRoot(), fanIn: fanIn) }

    /// PyTorch's default for `nn.Linear` / `nn.Conv2d` biases: uniform on ±1/√fanIn (zero bound when fanIn is 0).
    public static func defaultBias(fanIn: Int) -> Initializer {
        let bound = fanIn > 0 ? Float(1.0 / Double(fanIn).squareRoot()) : 0
        return .uniform(low: -bound, high: bound)
    }

    /// The uniform bound of a kaiming-uniform initialisation, computed in Double as PyTorch does.
    static func kaimingBound(a: Float, fanIn: Int) -> Float {
        guard fanIn > 0 else { return 0 }
        let gain = (2.0 / (1.0 + Double(a) * Double(a))).squareRoot()
        let std = gain / Double(fanIn).squareRoot()
        return Float(3.0.squareRoot() * std)
    }

    /// A new tensor of `shape` filled by this initializer, drawing random numbers from `generator`.
    public func makeTensor<G: RandomNumberGenerator>(shape: [Int], generator: inout G) -> Tensor {
        switch self {
        case .zeros: return Tensor(shape: shape, repeating: 0)
        case .ones: return Tensor(shape: shape, repeating: 1)
        case .constant(let c): return Tensor(shape: shape, repeating: c)
        case .uniform(let low, let high):
            return RandomFill.uniform(shape: shape, low: low, high: high, generator: &generator)
        case .normal(let mean, let std):
            return RandomFill.normal(shape: shape, mean: mean, std: std, generator: &generator)
        case .kaimingUniform(let a, let fanIn):
            let b = Initializer.kaimingBound(a: a, fanIn: fanIn)
            return RandomFill.uniform(shape: shape, low: -b, high: b, generator: &generator)
        case .value(let t):
            tensorCheck(t.shape == shape, "Initializer.value", "value of shape \(t.shape) given for a parameter of shape \(shape)")
            return t
        }
    }

    /// True when the initializer draws random numbers.
    public var isRandom: Bool {
        switch self {
        case .uniform, .normal, .kaimingUniform: return true
        default: return false
        }
    }
}

/// Random fills. With a `TorchGenerator` they are PyTorch's own (`uniform_`, `normal_`), so a model built from
/// `TorchGenerator(seed: s)` starts bit for bit where PyTorch does after `torch.manual_seed(s)` (same
/// construction order); other `TensorRandomSource`s supply normals; any other generator gets 24-bit uniforms
/// and Box–Muller normals.
enum RandomFill {
    static func uniform<G: RandomNumberGenerator>(shape: [Int], low: Float, high: Float, generator: inout G) -> Tensor {
        if var torch = generator as? TorchGenerator {
            let t = torch.uniform(low: Double(low), high: Double(high), shape: shape)
            generator = torch as! G
            return t
        }
        var t = Tensor(uninitializedShape: shape)
        let lo = Double(low), span = Double(high) - Double(low)
        t.withMutableBuffer { buf in
            for i in 0..<buf.count {
                let bits = generator.next() >> 40                      // top 24 bits
                let u = Double(bits) * (1.0 / 16_777_216.0)
                buf[i] = Float(u * span + lo)
            }
        }
        return t
    }

    static func normal<G: RandomNumberGenerator>(shape: [Int], mean: Float, std: Float, generator: inout G) -> Tensor {
        if var source = generator as? any TensorRandomSource {
            let t = source.normal(mean: Double(mean), std: Double(std), shape: shape)
            generator = source as! G
            return t
        }
        var t = Tensor(uninitializedShape: shape)
        let m = Double(mean), s = Double(std)
        t.withMutableBuffer { buf in
            var i = 0
            while i < buf.count {
                // u1 in (0, 1], u2 in [0, 1)
                let u1 = 1.0 - Double(generator.next() >> 11) * (1.0 / 9_007_199_254_740_992.0)
                let u2 = Double(generator.next() >> 11) * (1.0 / 9_007_199_254_740_992.0)
                let r = (-2.0 * Foundation.log(u1)).squareRoot()
                buf[i] = Float(m + s * r * Foundation.cos(2 * Double.pi * u2))
                if i + 1 < buf.count { buf[i + 1] = Float(m + s * r * Foundation.sin(2 * Double.pi * u2)) }
                i += 2
            }
        }
        return t
    }
}

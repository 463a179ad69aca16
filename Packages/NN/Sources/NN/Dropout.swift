import Autodiff
import Tensor

/// `nn.Dropout(p)`: in training mode zeroes each element with probability p and scales the rest by 1/(1 − p);
/// the identity in evaluation mode or when p = 0. The mask is drawn from the generator passed to the call.
/// Like PyTorch modules it starts in training mode; `ParameterStore.setTraining(false)` switches it off.
public final class Dropout: TrainingModeSwitchable {
    public let path: String
    public let p: Float
    public var isTraining = true

    public init(_ vb: VarBuilder, p: Float) {
        tensorCheck(p >= 0 && p < 1, "Dropout(\(vb.path))", "probability must lie in [0, 1), got \(p)")
        path = vb.path
        self.p = p
        vb.register(self)
    }

    /// True when a call changes its input (training mode and p > 0).
    public var isActive: Bool { isTraining && p > 0 }

    public func callAsFunction<G: RandomNumberGenerator>(_ x: Variable, generator: inout G) -> Variable {
        guard isActive else { return x }
        let keep = 1 - p
        var mask = Tensor(uninitializedShape: x.shape)
        let scale = 1 / keep
        mask.withMutableBuffer { m in
            for i in 0..<m.count {
                let u = Float(generator.next() >> 40) * (1.0 / 16_777_216.0)
                m[i] = u < keep ? scale : 0
            }
        }
        return x * mask
    }

    /// The call without a generator: valid only when the layer is inactive (evaluation mode or p = 0).
    public func callAsFunction(_ x: Variable) -> Variable {
        tensorCheck(!isActive, "Dropout(\(path))", "p = \(p) in training mode needs a generator: call it with generator:")
        return x
    }
}

/// A generator for calls that must not draw random numbers (dropout inactive); it stops if used.
public struct NoRandomness: RandomNumberGenerator {
    public init() {}
    public mutating func next() -> UInt64 {
        preconditionFailure("Dropout in training mode with p > 0 needs a generator: pass generator: to the forward call")
    }
}

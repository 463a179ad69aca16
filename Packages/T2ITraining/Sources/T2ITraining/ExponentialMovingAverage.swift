import NN
import Tensor

/// EMA of parameters (diffusers' `EMAModel` rule): shadow = d * shadow + (1 - d) * param with
/// d = min(decay, (1 + n) / (10 + n)) at the n-th update (n from 0).
public final class ExponentialMovingAverage {
    public let decay: Double
    public private(set) var updates: Int
    public let names: [String]
    /// The shadow values in the order of `names`.
    public private(set) var shadows: [Tensor]
    private let parameters: [NamedParameter]

    public init(parameters: [NamedParameter], decay: Double) {
        self.decay = decay
        self.parameters = parameters
        names = parameters.map(\.name)
        shadows = parameters.map { Tensor(copying: $0.variable.value) }
        updates = 0
    }

    /// The decay used by the next update.
    public var currentDecay: Float { Float(Swift.min(decay, Double(1 + updates) / Double(10 + updates))) }

    /// Moves every shadow towards its parameter.
    public func update() {
        let d = currentDecay, e = 1 - d
        for i in shadows.indices {
            let p = parameters[i].variable.value
            p.withContiguousBuffer { src in
                shadows[i].withMutableBuffer { dst in
                    let s = src.baseAddress!, t = dst.baseAddress!
                    for k in 0..<dst.count { t[k] = d * t[k] + e * s[k] }
                }
            }
        }
        updates += 1
    }

    /// Shadows by parameter name.
    public var stateDict: [String: Tensor] { Dictionary(uniqueKeysWithValues: zip(names, shadows)) }

    /// Restores shadows and the update count (as saved by `stateDict` and `updates`).
    public func load(_ dict: [String: Tensor], updates: Int) throws {
        var next = shadows
        for (i, n) in names.enumerated() {
            guard let t = dict[n] else { throw T2ITrainingError("EMA state lacks '\(n)'") }
            guard t.shape == shadows[i].shape else {
                throw T2ITrainingError("EMA state '\(n)' has shape \(t.shape), the model \(shadows[i].shape)")
            }
            next[i] = Tensor(copying: t)
        }
        shadows = next
        self.updates = updates
    }
}

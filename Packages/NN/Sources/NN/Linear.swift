import Autodiff
import Tensor

/// `nn.Linear`: y = x Wᵀ + b over the last axis. Parameters `<path>.weight` [out, in] and `<path>.bias` [out],
/// initialised as PyTorch does (kaiming-uniform a = √5, bias uniform ±1/√in). An attached `LoRA` adds
/// scale · B(A x) unless it is disabled or merged into the weight.
public final class Linear: Module {
    public let path: String
    public let inFeatures: Int
    public let outFeatures: Int
    public let weight: Variable
    public let bias: Variable?
    /// The adapter attached by `ParameterStore.addLoRA` (nil when none).
    public internal(set) var lora: LoRA?

    public init(_ vb: VarBuilder, inFeatures: Int, outFeatures: Int, bias: Bool = true) {
        tensorCheck(inFeatures > 0 && outFeatures > 0, "Linear(\(vb.path))",
                    "feature counts must be positive, got in \(inFeatures), out \(outFeatures)")
        path = vb.path
        self.inFeatures = inFeatures
        self.outFeatures = outFeatures
        weight = vb.parameter("weight", shape: [outFeatures, inFeatures], initializer: .defaultWeight(fanIn: inFeatures))
        self.bias = bias ? vb.parameter("bias", shape: [outFeatures], initializer: .defaultBias(fanIn: inFeatures)) : nil
        vb.register(self)
    }

    /// Applies the layer to `x` [..., inFeatures].
    public func callAsFunction(_ x: Variable) -> Variable {
        tensorCheck(x.shape.last == inFeatures, "Linear(\(path))",
                    "input shape \(x.shape) does not end in inFeatures \(inFeatures)")
        let y = Variable.linear(x, weight: weight, bias: bias)
        if let lora, lora.isEnabled, !lora.isMerged { return y + lora.delta(x) }
        return y
    }
}

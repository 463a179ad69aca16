import Autodiff
import Tensor

/// A low-rank adapter on a `Linear` (PEFT's `LoraLayer`): y = base(x) + (alpha / rank) · B(A x).
///
/// A = `<path>.lora_A.weight` [rank, in] starts kaiming-uniform (a = √5, PEFT's default) or N(0, 1/rank²)
/// (`LoRAInitialization.gaussian`: diffusers' `LoRALinearLayer`, the DPT release's), B = `<path>.lora_B.weight`
/// [out, rank] starts at zero, so a fresh adapter leaves the output exactly unchanged. Adapters are registered
/// in the store as `.adapter` parameters: saved and loaded apart from the model (`stateDict(.adapters)`).
public final class LoRA {
    public let rank: Int
    public let alpha: Float
    /// alpha / rank.
    public let scale: Float
    /// A (`lora_A.weight`) [rank, in].
    public let down: Variable
    /// B (`lora_B.weight`) [out, rank].
    public let up: Variable
    /// The adapted layer's weight (updated in place by merge / unmerge).
    private let baseWeight: Variable
    /// Whether the adapter contributes to the output. Disabling a merged adapter unmerges it first.
    public var isEnabled = true {
        didSet { if !isEnabled && isMerged { unmerge() } }
    }
    /// True while B·A·scale is folded into the base weight (the forward pass then skips the adapter path).
    public private(set) var isMerged = false

    init(base: Linear, rank: Int, alpha: Float, down: Variable, up: Variable) {
        self.rank = rank
        self.alpha = alpha
        self.scale = alpha / Float(rank)
        self.down = down
        self.up = up
        self.baseWeight = base.weight
    }

    /// scale · B(A x) for `x` [..., in].
    func delta(_ x: Variable) -> Variable {
        Variable.linear(Variable.linear(x, weight: down), weight: up) * scale
    }

    /// The weight update scale · B A [out, in].
    public var deltaWeight: Tensor {
        Tensor.matmul(up.value, down.value) * scale
    }

    /// Folds the adapter into the base weight (W += scale · B A); the layer then computes the same function
    /// (up to rounding) with one matrix product.
    public func merge() {
        guard !isMerged else { return }
        baseWeight.value = baseWeight.value + deltaWeight
        isMerged = true
    }

    /// Undoes `merge()` (W −= scale · B A with the adapter's current values).
    public func unmerge() {
        guard isMerged else { return }
        baseWeight.value = baseWeight.value - deltaWeight
        isMerged = false
    }
}

/// How a LoRA's down projection A starts (B always starts at zero).
public enum LoRAInitialization: String, Sendable, Equatable, CaseIterable {
    /// kaiming-uniform with a = √5 (PEFT's `init_lora_weights=True`): std about 0.58 / √in.
    case kaiming
    /// N(0, (1 / rank)²) (PEFT's `"gaussian"`, diffusers' `LoRALinearLayer`, the DPT release).
    case gaussian
}

extension ParameterStore {
    /// Attaches a LoRA adapter of `rank` and `alpha` to `linear`, registering `<path>.lora_A.weight` and
    /// `<path>.lora_B.weight`. With `freezeBase` the layer's weight and bias stop requiring gradients.
    @discardableResult
    public func addLoRA<G: RandomNumberGenerator>(to linear: Linear, rank: Int, alpha: Float, generator: inout G,
                                                  initialization: LoRAInitialization = .kaiming,
                                                  freezeBase: Bool = true) -> LoRA {
        let op = "addLoRA(\(linear.path))"
        tensorCheck(linear.lora == nil, op, "the layer already has a LoRA adapter")
        tensorCheck(module(at: linear.path) === linear, op, "the layer is not registered in this store")
        tensorCheck(rank > 0 && rank <= Swift.min(linear.inFeatures, linear.outFeatures), op,
                    "rank \(rank) must lie in 1...\(Swift.min(linear.inFeatures, linear.outFeatures))")
        let vb = builder(linear.path)
        let aInit = (initialization == .gaussian ? Initializer.normal(mean: 0, std: 1 / Float(rank))
                                                 : Initializer.defaultWeight(fanIn: linear.inFeatures))
            .makeTensor(shape: [rank, linear.inFeatures], generator: &generator)
        let down = addParameter(vb.pp("lora_A").fullName("weight"), shape: [rank, linear.inFeatures],
                                initializer: .value(aInit), kind: .adapter)
        let up = addParameter(vb.pp("lora_B").fullName("weight"), shape: [linear.outFeatures, rank],
                              initializer: .zeros, kind: .adapter)
        if freezeBase {
            linear.weight.requiresGrad = false
            linear.weight.grad = nil
            linear.bias?.requiresGrad = false
            linear.bias?.grad = nil
        }
        let lora = LoRA(base: linear, rank: rank, alpha: alpha, down: down, up: up)
        linear.lora = lora
        return lora
    }

    /// Attaches adapters to every registered `Linear` whose path satisfies `predicate` (e.g. paths ending in
    /// `.to_q`, `.to_k`, `.to_v`, `.to_out.0`), in registration order.
    @discardableResult
    public func addLoRA<G: RandomNumberGenerator>(where predicate: (String) -> Bool, rank: Int, alpha: Float,
                                                  generator: inout G, initialization: LoRAInitialization = .kaiming,
                                                  freezeBase: Bool = true) -> [Linear] {
        let targets = modules(ofType: Linear.self).filter { predicate($0.path) }
        for l in targets {
            addLoRA(to: l, rank: rank, alpha: alpha, generator: &generator, initialization: initialization, freezeBase: freezeBase)
        }
        return targets
    }

    /// Every `Linear` that carries an adapter, in registration order.
    public func loraLayers() -> [Linear] { modules(ofType: Linear.self).filter { $0.lora != nil } }

    /// Enables or disables every adapter (disabling unmerges merged ones).
    public func setLoRAEnabled(_ enabled: Bool) { for l in loraLayers() { l.lora!.isEnabled = enabled } }

    /// Merges every adapter into its base weight.
    public func mergeLoRA() { for l in loraLayers() { l.lora!.merge() } }

    /// Unmerges every merged adapter.
    public func unmergeLoRA() { for l in loraLayers() { l.lora!.unmerge() } }

    /// Removes the adapter of `linear` (unmerging it first) and its parameters; the base stays as it is
    /// (frozen if it was frozen).
    public func removeLoRA(from linear: Linear) {
        guard let lora = linear.lora else { return }
        lora.unmerge()
        removeParameter(linear.path + ".lora_A.weight")
        removeParameter(linear.path + ".lora_B.weight")
        linear.lora = nil
    }

    /// LoRA weights only, by `<path>.lora_A.weight` / `<path>.lora_B.weight` (PEFT's key layout; add e.g.
    /// `keyPrefix: "unet."` or `"base_model.model."` to match a particular file).
    public func loraStateDict(keyPrefix: String = "") -> [String: Tensor] { stateDict(.adapters, keyPrefix: keyPrefix) }

    /// Loads LoRA weights saved by `loraStateDict` (strict by default). Adapters must not be merged.
    @discardableResult
    public func loadLoRAStateDict(_ dict: [String: Tensor], keyPrefix: String = "", strict: Bool = true) throws -> StateDictReport {
        let merged = loraLayers().filter { $0.lora!.isMerged }.map(\.path)
        tensorCheck(merged.isEmpty, "loadLoRAStateDict", "unmerge the adapters first (merged: \(merged.joined(separator: ", ")))")
        return try loadStateDict(dict, scope: .adapters, keyPrefix: keyPrefix, strict: strict)
    }
}

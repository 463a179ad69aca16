import DataIO
import Foundation
import NN
import Tensor

/// The settings of a U-Net LoRA (PEFT's `adapter_config.json` keys).
public struct UNetLoRAConfig: Codable, Equatable, Sendable {
    /// Rank r of every adapter.
    public var r: Int
    /// The update is scaled by lora_alpha / r.
    public var loraAlpha: Double
    /// Path suffixes of the wrapped linear layers (diffusers names: `to_q`, `to_k`, `to_v`, `to_out.0`).
    public var targetModules: [String]
    /// Only layers inside these attention kinds (`attn1` self-attention, `attn2` cross-attention).
    public var attentionKinds: [String]
    /// How the down projections start: PEFT's `init_lora_weights`, written `true` (kaiming) or `"gaussian"`
    /// (N(0, 1/r²), the release's); a file without the key was made with kaiming.
    public var initialization: LoRAInitialization

    public init(r: Int = 4, loraAlpha: Double? = nil, targetModules: [String] = UNetLoRA.defaultTargets,
                attentionKinds: [String] = ["attn1", "attn2"], initialization: LoRAInitialization = .gaussian) {
        self.r = r
        self.loraAlpha = loraAlpha ?? Double(r)
        self.targetModules = targetModules
        self.attentionKinds = attentionKinds
        self.initialization = initialization
    }

    enum CodingKeys: String, CodingKey {
        case r, loraAlpha = "lora_alpha", targetModules = "target_modules", attentionKinds = "attention_kinds"
        case initialization = "init_lora_weights"
    }

    public init(from decoder: Swift.Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        r = try c.decode(Int.self, forKey: .r)
        loraAlpha = try c.decode(Double.self, forKey: .loraAlpha)
        targetModules = try c.decode([String].self, forKey: .targetModules)
        attentionKinds = try c.decode([String].self, forKey: .attentionKinds)
        if !c.contains(.initialization) {
            initialization = .kaiming
        } else if let flag = try? c.decode(Bool.self, forKey: .initialization) {
            guard flag else {
                throw DecodingError.dataCorruptedError(forKey: .initialization, in: c,
                                                       debugDescription: "init_lora_weights false (random B) is not supported: use true or \"gaussian\"")
            }
            initialization = .kaiming
        } else {
            let name = try c.decode(String.self, forKey: .initialization)
            guard name == "gaussian" else {
                throw DecodingError.dataCorruptedError(forKey: .initialization, in: c,
                                                       debugDescription: "init_lora_weights '\(name)' is not true or \"gaussian\"")
            }
            initialization = .gaussian
        }
    }

    public func encode(to encoder: Swift.Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(r, forKey: .r)
        try c.encode(loraAlpha, forKey: .loraAlpha)
        try c.encode(targetModules, forKey: .targetModules)
        try c.encode(attentionKinds, forKey: .attentionKinds)
        switch initialization {
        case .kaiming: try c.encode(true, forKey: .initialization)
        case .gaussian: try c.encode("gaussian", forKey: .initialization)
        }
    }

    /// Whether the layer at diffusers path `path` is one this config wraps.
    public func matches(_ path: String) -> Bool {
        let parts = path.split(separator: ".").map(String.init)
        guard targetModules.contains(where: { path.hasSuffix("." + $0) }) else { return false }
        return parts.contains { attentionKinds.contains($0) }
    }
}

/// LoRA on a U-Net's attention projections, saved as its own component folder (DPT stage 2):
/// `<folder>/adapter_config.json` (`UNetLoRAConfig`) and `<folder>/pytorch_lora_weights.safetensors` with keys
/// `unet.<diffusers path>.lora_A.weight` / `.lora_B.weight` (the PEFT layout diffusers' `load_lora_weights` reads).
public enum UNetLoRA {
    /// Every attention projection: q, k, v and out.
    public static let defaultTargets = ["to_q", "to_k", "to_v", "to_out.0"]
    public static let configFileName = "adapter_config.json"
    public static let weightsFileName = "pytorch_lora_weights.safetensors"
    public static let keyPrefix = "unet."
    /// The usual component folder name inside a model or run folder.
    public static let componentName = "unet_lora"

    /// Attaches zero-initialised adapters (up projection zero, so the U-Net's output is unchanged; down projection
    /// as `config.initialization`) to every
    /// projection `config` selects, freezing every base weight of the U-Net (only the adapters require gradients). Returns the wrapped layers; throws when none match.
    @discardableResult
    public static func attach(to unet: UNet2DConditionModel, config: UNetLoRAConfig, seed: UInt64) throws -> [Linear] {
        guard config.r >= 1 else { throw ModelComponentError(.config, component: "unet_lora", "rank r must be >= 1, got \(config.r)") }
        let targets = unet.attentionProjections().filter { config.matches($0.path) }
        guard !targets.isEmpty else {
            throw ModelComponentError(.config, component: "unet_lora",
                                      "no attention projection matches target_modules \(config.targetModules) in \(config.attentionKinds)")
        }
        if let already = targets.first(where: { $0.linear.lora != nil }) {
            throw ModelComponentError(.config, component: "unet_lora", "\(already.path) already carries a LoRA adapter")
        }
        // The base model stays fixed: only the adapters added below train.
        _ = unet.store.freeze()
        var g = TorchGenerator(seed: seed)
        for t in targets {
            let maxRank = min(t.linear.inFeatures, t.linear.outFeatures)
            guard config.r <= maxRank else {
                throw ModelComponentError(.config, component: "unet_lora", "rank \(config.r) exceeds \(maxRank) for \(t.path)")
            }
            unet.store.addLoRA(to: t.linear, rank: config.r, alpha: Float(config.loraAlpha), generator: &g,
                               initialization: config.initialization)
        }
        return targets.map(\.linear)
    }

    /// Writes the adapters of `unet` (which must carry them, unmerged or merged) into `folder` atomically.
    public static func save(_ unet: UNet2DConditionModel, config: UNetLoRAConfig, to folder: URL,
                            metadata: [String: String] = [:]) throws {
        let dict = unet.store.loraStateDict(keyPrefix: keyPrefix)
        guard !dict.isEmpty else { throw ModelComponentError(.config, component: "unet_lora", "the U-Net carries no LoRA adapter to save") }
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try SafetensorsFile.write(dict, metadata: metadata.merging(["format": "pt"]) { a, _ in a },
                                  to: folder.appendingPathComponent(weightsFileName))
        try ConfigFile.write(config, to: folder.appendingPathComponent(configFileName))
    }

    /// Reads `folder`'s config, attaches adapters to `unet` and loads their weights strictly (missing, unexpected
    /// and mis-shaped keys are listed); with `merge` the updates are folded into the base weights (sampling cost
    /// unchanged). Returns the config.
    @discardableResult
    public static func load(from folder: URL, into unet: UNet2DConditionModel, merge: Bool) throws -> UNetLoRAConfig {
        let configURL = folder.appendingPathComponent(configFileName)
        guard FileManager.default.fileExists(atPath: configURL.path) else {
            throw ModelComponentError(.config, component: "unet_lora", "\(configURL.path) is missing (not a LoRA folder written by train-adapter tune?)")
        }
        let config = try ConfigFile.read(UNetLoRAConfig.self, from: configURL)
        try attach(to: unet, config: config, seed: 0)
        let file = try SafetensorsFile(contentsOf: folder.appendingPathComponent(weightsFileName))
        var dict: [String: Tensor] = [:]
        for n in file.tensorNames { dict[n] = Tensor(copying: try file.tensor(n)) }
        do {
            try unet.store.loadLoRAStateDict(dict, keyPrefix: keyPrefix, strict: true)
        } catch let e as StateDictError {
            throw ModelComponentError(.weights, component: "unet_lora", "\(file.name): \(e.report)")
        }
        if merge { unet.store.mergeLoRA() }
        return config
    }
}

import DataIO
import Diffusion
import Foundation
import NN
import ShapesWorld

/// Every setting of a stage-2 (tuning) run: LoRA on the U-Net's attention projections and the stage-1 adapter are
/// trained together on `itm_weight * (L_i2t + L_t2i) + rec_weight * L_rec + mse_weight * L_mse` on ShapesWorld's
/// train split. Stored as JSON with snake_case keys in `tune_config.json` and in every checkpoint; a JSON file may
/// set any subset of the keys (`decode(overrides:)`); unknown keys throw naming the key.
///
/// The stage-1 adapter is not a key: it is a folder given to the trainer (`--adapter`), and the adapter's
/// architecture, feature taps and dropout come from its `config.json`. Ablations are config changes:
/// `itm_weight 0` (no ITM), `rec_weight 0` (no REC), `lora_rank`, `train_adapter false` (adapter frozen).
///
/// The defaults follow the release's stage 2 (method notes §5): LoRA rank 4 (alpha = rank, scale 1) on q, k, v and
/// out of every self- and cross-attention, AdamW lr 1e-4 / wd 1e-2 / clip 1.0, cosine schedule without warm-up, the
/// three loss weights 1. The release trains 8 x 8 accumulation x 5,000 steps; here the default run is batch 4 x 1,000
/// steps: on the bundled model with its default stage-1 adapter (tap up0) a step measured 1.16 CPU-seconds and
/// 0.72-0.90 s wall on the shared two cores (package README), so about 15 minutes idle and well inside an hour
/// under load.
public struct TuneConfig: RunConfig, Equatable, AdapterRunConfig, Sendable {
    /// Seed of the LoRA down projections and of every per-step random draw (negatives, noise, t, dropout).
    public var seed: UInt64 = 0
    /// Seed of the ShapesWorld generator the samples come from.
    public var worldSeed: UInt64 = 0
    /// ShapesWorld split trained on.
    public var trainSplit = "train"

    // LoRA.
    /// Rank r of every LoRA adapter.
    public var loraRank = 4
    /// The LoRA update is scaled by lora_alpha / r; nil: alpha = r (scale 1, as the release).
    public var loraAlpha: Double? = nil
    /// Wrapped projections (diffusers names).
    public var loraTargets = UNetLoRA.defaultTargets
    /// Attention kinds wrapped: `attn1` (self) and/or `attn2` (cross).
    public var loraAttention = ["attn1", "attn2"]
    /// How the LoRA down projections start: `gaussian` (N(0, 1/r²), the release's diffusers `LoRALinearLayer`) or
    /// `kaiming` (PEFT's default, 3.5-4.9x smaller on the bundled model's projections; this stage's init before 2026-12-08).
    public var loraInit = "gaussian"

    // Objective.
    /// Weight of the two ITM terms (L_i2t + L_t2i); 0 removes them.
    public var itmWeight = 1.0
    /// Weight of the REC set loss; 0 removes it.
    public var recWeight = 1.0
    /// Weight of the denoising MSE (full U-Net pass on the positive caption); 0 removes it.
    public var mseWeight = 1.0
    /// Whether the adapter is trained with the LoRA (false: frozen, in evaluation mode).
    public var trainAdapter = true

    // Optimisation.
    /// Samples per micro-batch (each: 3 images, 3 captions, 1 expression; 6 tapped passes and 1 full pass).
    public var batchSize = 4
    /// Micro-batches whose gradients are summed per step: the effective batch is batch_size x gradient_accumulation.
    public var gradientAccumulation = 1
    public var steps = 1000
    public var learningRate = 1e-4
    public var weightDecay = 1e-2
    public var adamBeta1 = 0.9
    public var adamBeta2 = 0.999
    public var gradClipNorm = 1.0
    /// `cosine` (the release's stage 2: half cosine to 0 at `steps`) or `constant`.
    public var lrSchedule = "cosine"
    public var warmupSteps = 0
    /// Training timesteps are drawn uniformly from `timestep_min ..< timestep_max` (nil: the schedule's T).
    public var timestepMin = 0
    public var timestepMax: Int? = nil

    // Run bookkeeping.
    public var checkpointEvery = 50
    public var keepCheckpoints = 2
    public var logEvery = 10

    public init() {}

    public static let errorLabel = "tune config"
    public static var integerLimits: [String: ClosedRange<Int>] {
        adapterRunIntegerLimits.merging(["lora_rank": 1...ConfigLimits.dimension, "gradient_accumulation": 1...1_000_000]) { a, _ in a }
    }

    /// The stage's own keys; the shared ones are `AdapterRunKeys`.
    enum CodingKeys: String, CodingKey {
        case loraRank = "lora_rank", loraAlpha = "lora_alpha", loraTargets = "lora_targets"
        case loraAttention = "lora_attention", itmWeight = "itm_weight", recWeight = "rec_weight", loraInit = "lora_init"
        case mseWeight = "mse_weight", trainAdapter = "train_adapter", gradientAccumulation = "gradient_accumulation"
    }

    public init(from decoder: Swift.Decoder) throws {
        self.init()
        try decodeShared(from: decoder)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        loraRank = try c.decodeIfPresent(Int.self, forKey: .loraRank) ?? loraRank
        loraAlpha = try c.decodeIfPresent(Double.self, forKey: .loraAlpha)
        loraTargets = try c.decodeIfPresent([String].self, forKey: .loraTargets) ?? loraTargets
        loraAttention = try c.decodeIfPresent([String].self, forKey: .loraAttention) ?? loraAttention
        loraInit = try c.decodeIfPresent(String.self, forKey: .loraInit) ?? loraInit
        itmWeight = try c.decodeIfPresent(Double.self, forKey: .itmWeight) ?? itmWeight
        recWeight = try c.decodeIfPresent(Double.self, forKey: .recWeight) ?? recWeight
        mseWeight = try c.decodeIfPresent(Double.self, forKey: .mseWeight) ?? mseWeight
        trainAdapter = try c.decodeIfPresent(Bool.self, forKey: .trainAdapter) ?? trainAdapter
        gradientAccumulation = try c.decodeIfPresent(Int.self, forKey: .gradientAccumulation) ?? gradientAccumulation
    }

    /// Optionals are written as null so that the JSON always lists every key.
    public func encode(to encoder: Swift.Encoder) throws {
        try encodeShared(to: encoder)
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(loraRank, forKey: .loraRank)
        try c.encode(loraAlpha, forKey: .loraAlpha)
        try c.encode(loraTargets, forKey: .loraTargets)
        try c.encode(loraAttention, forKey: .loraAttention)
        try c.encode(loraInit, forKey: .loraInit)
        try c.encode(itmWeight, forKey: .itmWeight)
        try c.encode(recWeight, forKey: .recWeight)
        try c.encode(mseWeight, forKey: .mseWeight)
        try c.encode(trainAdapter, forKey: .trainAdapter)
        try c.encode(gradientAccumulation, forKey: .gradientAccumulation)
    }

    /// Checks value ranges; errors name the key.
    public func validate() throws {
        func need(_ ok: Bool, _ key: String, _ what: String) throws {
            if !ok { throw AdapterTrainingError("tune config: \(key) \(what)") }
        }
        try need(loraRank >= 1, "lora_rank", "must be >= 1, got \(loraRank)")
        try need(LoRAInitialization(rawValue: loraInit) != nil, "lora_init", "'\(loraInit)' is not gaussian or kaiming")
        try need(loraAlpha.map { $0 > 0 && $0.isFinite } ?? true, "lora_alpha", "must be positive")
        try need(!loraTargets.isEmpty && Set(loraTargets).count == loraTargets.count
                 && loraTargets.allSatisfy(UNetLoRA.defaultTargets.contains), "lora_targets",
                 "\(loraTargets) must name projections among \(UNetLoRA.defaultTargets), each once")
        try need(!loraAttention.isEmpty && Set(loraAttention).count == loraAttention.count
                 && loraAttention.allSatisfy(["attn1", "attn2"].contains), "lora_attention",
                 "\(loraAttention) must name attn1 (self) and/or attn2 (cross), each once")
        for (key, w) in [("itm_weight", itmWeight), ("rec_weight", recWeight), ("mse_weight", mseWeight)] {
            try need(w >= 0 && w.isFinite, key, "must be >= 0, got \(w)")
        }
        try need(itmWeight + recWeight + mseWeight > 0, "itm_weight", "rec_weight and mse_weight are all 0: nothing to train")
        try need(gradientAccumulation >= 1, "gradient_accumulation", "must be >= 1")
        try validateShared()
    }

    /// The U-Net LoRA settings of this run.
    public var loraConfig: UNetLoRAConfig {
        UNetLoRAConfig(r: loraRank, loraAlpha: loraAlpha, targetModules: loraTargets, attentionKinds: loraAttention,
                       initialization: LoRAInitialization(rawValue: loraInit) ?? .gaussian)
    }

    /// Samples per optimisation step (batch_size x gradient_accumulation).
    public var effectiveBatchSize: Int { batchSize * gradientAccumulation }
}

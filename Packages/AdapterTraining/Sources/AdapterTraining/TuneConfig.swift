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

    enum CodingKeys: String, CodingKey {
        case seed, worldSeed = "world_seed", trainSplit = "train_split"
        case loraRank = "lora_rank", loraAlpha = "lora_alpha", loraTargets = "lora_targets", loraAttention = "lora_attention"
        case itmWeight = "itm_weight", recWeight = "rec_weight", mseWeight = "mse_weight", trainAdapter = "train_adapter"
        case batchSize = "batch_size", gradientAccumulation = "gradient_accumulation", steps, learningRate = "learning_rate"
        case weightDecay = "weight_decay", adamBeta1 = "adam_beta1", adamBeta2 = "adam_beta2", gradClipNorm = "grad_clip_norm"
        case lrSchedule = "lr_schedule", warmupSteps = "warmup_steps", timestepMin = "timestep_min", timestepMax = "timestep_max"
        case checkpointEvery = "checkpoint_every", keepCheckpoints = "keep_checkpoints", logEvery = "log_every"
    }

    public init(from decoder: Swift.Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = TuneConfig()
        seed = try c.decodeIfPresent(UInt64.self, forKey: .seed) ?? d.seed
        worldSeed = try c.decodeIfPresent(UInt64.self, forKey: .worldSeed) ?? d.worldSeed
        trainSplit = try c.decodeIfPresent(String.self, forKey: .trainSplit) ?? d.trainSplit
        loraRank = try c.decodeIfPresent(Int.self, forKey: .loraRank) ?? d.loraRank
        loraAlpha = try c.decodeIfPresent(Double.self, forKey: .loraAlpha)
        loraTargets = try c.decodeIfPresent([String].self, forKey: .loraTargets) ?? d.loraTargets
        loraAttention = try c.decodeIfPresent([String].self, forKey: .loraAttention) ?? d.loraAttention
        itmWeight = try c.decodeIfPresent(Double.self, forKey: .itmWeight) ?? d.itmWeight
        recWeight = try c.decodeIfPresent(Double.self, forKey: .recWeight) ?? d.recWeight
        mseWeight = try c.decodeIfPresent(Double.self, forKey: .mseWeight) ?? d.mseWeight
        trainAdapter = try c.decodeIfPresent(Bool.self, forKey: .trainAdapter) ?? d.trainAdapter
        batchSize = try c.decodeIfPresent(Int.self, forKey: .batchSize) ?? d.batchSize
        gradientAccumulation = try c.decodeIfPresent(Int.self, forKey: .gradientAccumulation) ?? d.gradientAccumulation
        steps = try c.decodeIfPresent(Int.self, forKey: .steps) ?? d.steps
        learningRate = try c.decodeIfPresent(Double.self, forKey: .learningRate) ?? d.learningRate
        weightDecay = try c.decodeIfPresent(Double.self, forKey: .weightDecay) ?? d.weightDecay
        adamBeta1 = try c.decodeIfPresent(Double.self, forKey: .adamBeta1) ?? d.adamBeta1
        adamBeta2 = try c.decodeIfPresent(Double.self, forKey: .adamBeta2) ?? d.adamBeta2
        gradClipNorm = try c.decodeIfPresent(Double.self, forKey: .gradClipNorm) ?? d.gradClipNorm
        lrSchedule = try c.decodeIfPresent(String.self, forKey: .lrSchedule) ?? d.lrSchedule
        warmupSteps = try c.decodeIfPresent(Int.self, forKey: .warmupSteps) ?? d.warmupSteps
        timestepMin = try c.decodeIfPresent(Int.self, forKey: .timestepMin) ?? d.timestepMin
        timestepMax = try c.decodeIfPresent(Int.self, forKey: .timestepMax)
        checkpointEvery = try c.decodeIfPresent(Int.self, forKey: .checkpointEvery) ?? d.checkpointEvery
        keepCheckpoints = try c.decodeIfPresent(Int.self, forKey: .keepCheckpoints) ?? d.keepCheckpoints
        logEvery = try c.decodeIfPresent(Int.self, forKey: .logEvery) ?? d.logEvery
    }

    /// Optionals are written as null so that the JSON always lists every key.
    public func encode(to encoder: Swift.Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(seed, forKey: .seed)
        try c.encode(worldSeed, forKey: .worldSeed)
        try c.encode(trainSplit, forKey: .trainSplit)
        try c.encode(loraRank, forKey: .loraRank)
        try c.encode(loraAlpha, forKey: .loraAlpha)
        try c.encode(loraTargets, forKey: .loraTargets)
        try c.encode(loraAttention, forKey: .loraAttention)
        try c.encode(itmWeight, forKey: .itmWeight)
        try c.encode(recWeight, forKey: .recWeight)
        try c.encode(mseWeight, forKey: .mseWeight)
        try c.encode(trainAdapter, forKey: .trainAdapter)
        try c.encode(batchSize, forKey: .batchSize)
        try c.encode(gradientAccumulation, forKey: .gradientAccumulation)
        try c.encode(steps, forKey: .steps)
        try c.encode(learningRate, forKey: .learningRate)
        try c.encode(weightDecay, forKey: .weightDecay)
        try c.encode(adamBeta1, forKey: .adamBeta1)
        try c.encode(adamBeta2, forKey: .adamBeta2)
        try c.encode(gradClipNorm, forKey: .gradClipNorm)
        try c.encode(lrSchedule, forKey: .lrSchedule)
        try c.encode(warmupSteps, forKey: .warmupSteps)
        try c.encode(timestepMin, forKey: .timestepMin)
        try c.encode(timestepMax, forKey: .timestepMax)
        try c.encode(checkpointEvery, forKey: .checkpointEvery)
        try c.encode(keepCheckpoints, forKey: .keepCheckpoints)
        try c.encode(logEvery, forKey: .logEvery)
    }

    /// Checks value ranges; errors name the key.
    public func validate() throws {
        func need(_ ok: Bool, _ key: String, _ what: String) throws {
            if !ok { throw AdapterTrainingError("tune config: \(key) \(what)") }
        }
        try need(loraRank >= 1, "lora_rank", "must be >= 1, got \(loraRank)")
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
        try need(batchSize >= 1, "batch_size", "must be >= 1")
        try need(gradientAccumulation >= 1, "gradient_accumulation", "must be >= 1")
        try need(steps >= 1, "steps", "must be >= 1")
        try need(learningRate > 0, "learning_rate", "must be positive")
        try need(weightDecay >= 0, "weight_decay", "must be >= 0")
        try need((0..<1).contains(adamBeta1), "adam_beta1", "must be in [0, 1)")
        try need((0..<1).contains(adamBeta2), "adam_beta2", "must be in [0, 1)")
        try need(gradClipNorm > 0, "grad_clip_norm", "must be positive")
        try need(["constant", "cosine"].contains(lrSchedule), "lr_schedule", "'\(lrSchedule)' is not constant or cosine")
        try need(warmupSteps >= 0, "warmup_steps", "must be >= 0")
        try need(timestepMin >= 0 && timestepMax.map { $0 > timestepMin } ?? true, "timestep_min",
                 "\(timestepMin) must be >= 0 and below timestep_max \(timestepMax.map(String.init) ?? "T")")
        try need(checkpointEvery >= 1, "checkpoint_every", "must be >= 1")
        try need(keepCheckpoints >= 1, "keep_checkpoints", "must be >= 1")
        try need(logEvery >= 1, "log_every", "must be >= 1")
        _ = try split()
    }

    /// The ShapesWorld split of `train_split`.
    public func split() throws -> Split {
        guard let s = Split(rawValue: trainSplit) else {
            throw AdapterTrainingError("tune config: train_split '\(trainSplit)' is not one of \(Split.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return s
    }

    /// The U-Net LoRA settings of this run.
    public var loraConfig: UNetLoRAConfig {
        UNetLoRAConfig(r: loraRank, loraAlpha: loraAlpha, targetModules: loraTargets, attentionKinds: loraAttention)
    }

    /// Samples per optimisation step (batch_size x gradient_accumulation).
    public var effectiveBatchSize: Int { batchSize * gradientAccumulation }

    /// The learning-rate schedule of this run.
    public var learningRateSchedule: LRSchedule {
        lrSchedule == "cosine" ? .cosineWithWarmup(warmupSteps: warmupSteps, totalSteps: steps)
                               : .constantWithWarmup(warmupSteps: warmupSteps)
    }
}

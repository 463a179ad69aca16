import DataIO
import Foundation
import NN
import ShapesWorld

/// Every setting of a stage-1 (probing) run: the adapter is trained on a frozen T2I model with DPT's losses
/// (L_i2t + L_t2i + L_rec) on ShapesWorld's train split. Stored as JSON with snake_case keys in `probe_config.json`
/// and in every checkpoint; a JSON file may set any subset of the keys (`decode(overrides:)`); unknown keys throw.
///
/// The defaults are the bundled model's run (`Models/shapes-t2i`): the `bundled` adapter preset on `up1`,
/// AdamW lr 1e-4, weight decay 1e-2, grad clip 1.0, constant rate, t uniform over all training timesteps; batch 4 x
/// 700 steps: measured 7.2 CPU-seconds per step on the bundled architecture at up1 (32x32, 1024 adapter tokens), so
/// about 40-60 minutes on two cores (see the package README).
public struct ProbeConfig: RunConfig, Equatable, AdapterRunConfig, Sendable {
    /// Seed of the adapter's initial weights and of every per-step random draw (negatives, noise, t, dropout).
    public var seed: UInt64 = 0
    /// Seed of the ShapesWorld generator the samples come from.
    public var worldSeed: UInt64 = 0
    /// ShapesWorld split trained on.
    public var trainSplit = "train"
    /// Image side in pixels the samples are rendered at; nil: the model's (U-Net sample size x VAE factor).
    public var imageSize: Int? = nil

    // Adapter.
    /// `bundled` (d 128, 4 heads, FFN 512, 4 + 16 queries) or `release` (d 256, 8 heads, FFN 2048, 10 + 100).
    public var preset = "bundled"
    /// U-Net taps read by the adapter (`down0`.., `mid`, `up0`..); several are concatenated. The default `cross-up`
    /// is the method's tap, the first cross-attention up block: `up1` in Stable Diffusion, `up0` in the bundled model.
    public var featureTaps = ["cross-up"]
    /// Dropout of the adapter; nil: the preset's (0.1).
    public var dropout: Float? = nil
    /// Whether to train the contrastive token-alignment head and loss as well.
    public var contrastiveAlign = false
    /// Train on a U-Net with random weights drawn from this seed instead of the model's (the control run).
    public var randomUNetSeed: UInt64? = nil

    // Optimisation.
    public var batchSize = 4
    public var steps = 700
    public var learningRate = 1e-4
    public var weightDecay = 1e-2
    public var adamBeta1 = 0.9
    public var adamBeta2 = 0.999
    public var gradClipNorm = 1.0
    /// `constant` (the release's stage 1) or `cosine` (half cosine to 0 at `steps`).
    public var lrSchedule = "constant"
    public var warmupSteps = 0
    /// Training timesteps are drawn uniformly from `timestep_min ..< timestep_max` (nil: the schedule's T).
    public var timestepMin = 0
    public var timestepMax: Int? = nil

    // Run bookkeeping.
    public var checkpointEvery = 50
    public var keepCheckpoints = 2
    public var logEvery = 10

    public init() {}

    enum CodingKeys: String, CodingKey {
        case seed, worldSeed = "world_seed", trainSplit = "train_split", imageSize = "image_size", preset
        case featureTaps = "feature_taps", dropout, contrastiveAlign = "contrastive_align", randomUNetSeed = "random_unet_seed"
        case batchSize = "batch_size", steps, learningRate = "learning_rate", weightDecay = "weight_decay"
        case adamBeta1 = "adam_beta1", adamBeta2 = "adam_beta2", gradClipNorm = "grad_clip_norm", lrSchedule = "lr_schedule"
        case warmupSteps = "warmup_steps", timestepMin = "timestep_min", timestepMax = "timestep_max"
        case checkpointEvery = "checkpoint_every", keepCheckpoints = "keep_checkpoints", logEvery = "log_every"
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = ProbeConfig()
        seed = try c.decodeIfPresent(UInt64.self, forKey: .seed) ?? d.seed
        worldSeed = try c.decodeIfPresent(UInt64.self, forKey: .worldSeed) ?? d.worldSeed
        trainSplit = try c.decodeIfPresent(String.self, forKey: .trainSplit) ?? d.trainSplit
        imageSize = try c.decodeIfPresent(Int.self, forKey: .imageSize)
        preset = try c.decodeIfPresent(String.self, forKey: .preset) ?? d.preset
        featureTaps = try c.decodeIfPresent([String].self, forKey: .featureTaps) ?? d.featureTaps
        dropout = try c.decodeIfPresent(Float.self, forKey: .dropout)
        contrastiveAlign = try c.decodeIfPresent(Bool.self, forKey: .contrastiveAlign) ?? d.contrastiveAlign
        randomUNetSeed = try c.decodeIfPresent(UInt64.self, forKey: .randomUNetSeed)
        batchSize = try c.decodeIfPresent(Int.self, forKey: .batchSize) ?? d.batchSize
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
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(seed, forKey: .seed)
        try c.encode(worldSeed, forKey: .worldSeed)
        try c.encode(trainSplit, forKey: .trainSplit)
        try c.encode(imageSize, forKey: .imageSize)
        try c.encode(preset, forKey: .preset)
        try c.encode(featureTaps, forKey: .featureTaps)
        try c.encode(dropout, forKey: .dropout)
        try c.encode(contrastiveAlign, forKey: .contrastiveAlign)
        try c.encode(randomUNetSeed, forKey: .randomUNetSeed)
        try c.encode(batchSize, forKey: .batchSize)
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
            if !ok { throw AdapterTrainingError("config: \(key) \(what)") }
        }
        try need(["bundled", "release"].contains(preset), "preset", "'\(preset)' is not bundled or release")
        try need(!featureTaps.isEmpty && Set(featureTaps).count == featureTaps.count, "feature_taps", "\(featureTaps) must name taps, each once")
        try need(dropout.map { $0 >= 0 && $0 < 1 } ?? true, "dropout", "must be in [0, 1)")
        try need(imageSize.map { $0 >= 8 } ?? true, "image_size", "must be >= 8")
        try need(batchSize >= 1, "batch_size", "must be >= 1")
        try need(steps >= 1, "steps", "must be >= 1")
        try need(learningRate > 0, "learning_rate", "must be positive")
        try need(weightDecay >= 0, "weight_decay", "must be >= 0")
        try need((0..<1).contains(adamBeta1) && (0..<1).contains(adamBeta2), "adam_beta1", "and adam_beta2 must be in [0, 1)")
        try need(gradClipNorm > 0, "grad_clip_norm", "must be positive")
        try need(["constant", "cosine"].contains(lrSchedule), "lr_schedule", "'\(lrSchedule)' is not constant or cosine")
        try need(warmupSteps >= 0, "warmup_steps", "must be >= 0")
        try need(timestepMin >= 0 && timestepMax.map { $0 > timestepMin } ?? true, "timestep_min",
                 "\(timestepMin) must be >= 0 and below timestep_max \(timestepMax.map(String.init) ?? "T")")
        try need(checkpointEvery >= 1 && keepCheckpoints >= 1, "checkpoint_every", "and keep_checkpoints must be >= 1")
        try need(logEvery >= 1, "log_every", "must be >= 1")
        _ = try split()
    }

    /// The ShapesWorld split of `train_split`.
    public func split() throws -> Split {
        guard let s = Split(rawValue: trainSplit) else {
            throw AdapterTrainingError("config: train_split '\(trainSplit)' is not one of \(Split.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return s
    }

    /// The learning-rate schedule of this run.
    public var learningRateSchedule: LRSchedule {
        lrSchedule == "cosine" ? .cosineWithWarmup(warmupSteps: warmupSteps, totalSteps: steps)
                               : .constantWithWarmup(warmupSteps: warmupSteps)
    }
}

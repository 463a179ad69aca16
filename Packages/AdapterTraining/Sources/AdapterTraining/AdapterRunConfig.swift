import DataIO
import Foundation
import NN
import ShapesWorld

/// The settings both adapter stages share (`ProbeConfig`, `TuneConfig`): the data (seeds, split), the optimiser,
/// the timestep range and the run bookkeeping. Each stage's JSON stays one flat object: the shared keys are read
/// and written here through their own container on the same object, the stage's own keys by the stage.
public protocol AdapterRunConfig: RunConfig, Equatable {
    /// Seed of the trained weights' initialisation and of every per-step random draw.
    var seed: UInt64 { get set }
    /// Seed of the ShapesWorld generator the samples come from.
    var worldSeed: UInt64 { get set }
    /// ShapesWorld split trained on.
    var trainSplit: String { get set }
    var batchSize: Int { get set }
    var steps: Int { get set }
    var learningRate: Double { get set }
    var weightDecay: Double { get set }
    var adamBeta1: Double { get set }
    var adamBeta2: Double { get set }
    var gradClipNorm: Double { get set }
    /// `constant` or `cosine` (half cosine to 0 at `steps`).
    var lrSchedule: String { get set }
    var warmupSteps: Int { get set }
    /// Training timesteps are drawn uniformly from `timestep_min ..< timestep_max` (nil: the schedule's T).
    var timestepMin: Int { get set }
    var timestepMax: Int? { get set }
    var checkpointEvery: Int { get set }
    var keepCheckpoints: Int { get set }
    var logEvery: Int { get set }
}

/// Ranges of the shared integer keys a file or `--set` may give, checked before a config is built (naming the key).
let adapterRunIntegerLimits: [String: ClosedRange<Int>] = [
    "batch_size": 1...1_000_000, "steps": 1...1_000_000_000, "warmup_steps": 0...1_000_000_000,
    "timestep_min": 0...ConfigLimits.timesteps, "timestep_max": 1...ConfigLimits.timesteps,
    "checkpoint_every": 1...1_000_000_000, "keep_checkpoints": 1...1_000_000, "log_every": 1...1_000_000_000,
]

/// The JSON keys of the shared settings.
enum AdapterRunKeys: String, CodingKey {
    case seed, worldSeed = "world_seed", trainSplit = "train_split"
    case batchSize = "batch_size", steps, learningRate = "learning_rate", weightDecay = "weight_decay"
    case adamBeta1 = "adam_beta1", adamBeta2 = "adam_beta2", gradClipNorm = "grad_clip_norm", lrSchedule = "lr_schedule"
    case warmupSteps = "warmup_steps", timestepMin = "timestep_min", timestepMax = "timestep_max"
    case checkpointEvery = "checkpoint_every", keepCheckpoints = "keep_checkpoints", logEvery = "log_every"
}

extension AdapterRunConfig {
    /// Sets every shared key present in `decoder`'s object; absent keys keep their current (default) values.
    mutating func decodeShared(from decoder: Swift.Decoder) throws {
        let c = try decoder.container(keyedBy: AdapterRunKeys.self)
        func read<T: Decodable>(_ key: AdapterRunKeys, _ value: inout T) throws {
            if let v = try c.decodeIfPresent(T.self, forKey: key) { value = v }
        }
        try read(.seed, &seed); try read(.worldSeed, &worldSeed); try read(.trainSplit, &trainSplit)
        try read(.batchSize, &batchSize); try read(.steps, &steps); try read(.learningRate, &learningRate)
        try read(.weightDecay, &weightDecay); try read(.adamBeta1, &adamBeta1); try read(.adamBeta2, &adamBeta2)
        try read(.gradClipNorm, &gradClipNorm); try read(.lrSchedule, &lrSchedule); try read(.warmupSteps, &warmupSteps)
        try read(.timestepMin, &timestepMin)
        timestepMax = try c.decodeIfPresent(Int.self, forKey: .timestepMax)
        try read(.checkpointEvery, &checkpointEvery); try read(.keepCheckpoints, &keepCheckpoints); try read(.logEvery, &logEvery)
    }

    /// Writes every shared key (`timestep_max` as null when nil, so that the JSON always lists every key).
    func encodeShared(to encoder: Swift.Encoder) throws {
        var c = encoder.container(keyedBy: AdapterRunKeys.self)
        try c.encode(seed, forKey: .seed); try c.encode(worldSeed, forKey: .worldSeed); try c.encode(trainSplit, forKey: .trainSplit)
        try c.encode(batchSize, forKey: .batchSize); try c.encode(steps, forKey: .steps)
        try c.encode(learningRate, forKey: .learningRate); try c.encode(weightDecay, forKey: .weightDecay)
        try c.encode(adamBeta1, forKey: .adamBeta1); try c.encode(adamBeta2, forKey: .adamBeta2)
        try c.encode(gradClipNorm, forKey: .gradClipNorm); try c.encode(lrSchedule, forKey: .lrSchedule)
        try c.encode(warmupSteps, forKey: .warmupSteps); try c.encode(timestepMin, forKey: .timestepMin)
        try c.encode(timestepMax, forKey: .timestepMax); try c.encode(checkpointEvery, forKey: .checkpointEvery)
        try c.encode(keepCheckpoints, forKey: .keepCheckpoints); try c.encode(logEvery, forKey: .logEvery)
    }

    /// Range checks of the shared keys; errors start with the config's `errorLabel` and name the key.
    func validateShared() throws {
        func need(_ ok: Bool, _ key: String, _ what: String) throws {
            if !ok { throw AdapterTrainingError("\(Self.errorLabel): \(key) \(what)") }
        }
        // Configs are JSON, whose integers are kept exact as Int.
        try need(seed <= UInt64(Int.max), "seed", "\(seed) must be at most \(Int.max)")
        try need(worldSeed <= UInt64(Int.max), "world_seed", "\(worldSeed) must be at most \(Int.max)")
        try need(batchSize >= 1, "batch_size", "must be >= 1")
        try need(steps >= 1, "steps", "must be >= 1")
        // An infinity passes the lower bounds: the real-valued keys are also checked finite (NaN fails every test).
        try need(learningRate > 0 && learningRate.isFinite, "learning_rate", "must be a positive finite number, got \(learningRate)")
        try need(weightDecay >= 0 && weightDecay.isFinite, "weight_decay", "must be a finite number >= 0, got \(weightDecay)")
        try need((0..<1).contains(adamBeta1), "adam_beta1", "must be in [0, 1), got \(adamBeta1)")
        try need((0..<1).contains(adamBeta2), "adam_beta2", "must be in [0, 1), got \(adamBeta2)")
        try need(gradClipNorm > 0 && gradClipNorm.isFinite, "grad_clip_norm", "must be a positive finite number, got \(gradClipNorm)")
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
            throw AdapterTrainingError("\(Self.errorLabel): train_split '\(trainSplit)' is not one of \(Split.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return s
    }

    /// The learning-rate schedule of this run.
    public var learningRateSchedule: LRSchedule {
        lrSchedule == "cosine" ? .cosineWithWarmup(warmupSteps: warmupSteps, totalSteps: steps)
                               : .constantWithWarmup(warmupSteps: warmupSteps)
    }
}

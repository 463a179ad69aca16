import DataIO
import DiscriminativeAdapter
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
    public static var integerLimits: [String: ClosedRange<Int>] {
        adapterRunIntegerLimits.merging(["image_size": 16...1024]) { a, _ in a }
    }
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
    /// The REC head: `detr` (the release's) or `heatmap` (per-cell centre scores and boxes; a deviation).
    public var recHead = "detr"
    /// Standard deviation in feature cells of the heatmap head's Gaussian centre target.
    public var heatmapSigma = 1.0
    /// DETR head deviations (see `AdapterConfig`): learned per-query reference points with box offsets, and the
    /// position code added to the decoder's cross-attention values.
    public var recReferencePoints = false
    public var decoderValuePosition = false
    /// Heatmap head deviation: the head also reads the expression (a bilinear term of its pooled embedding and each
    /// cell's features plus position; see `AdapterConfig`).
    public var heatmapText = false

    // ITM hard negatives (see `ProbeData`).
    /// Relative frequency of each category's samples (category names as ShapesWorld's, e.g. `spatial`; unlisted
    /// categories 1; empty: the stream as generated).
    public var categoryWeights: [String: Double] = [:]
    /// Relative probability of each hard-negative kind among a sample's negatives (e.g. `flip_relation`; unlisted
    /// kinds 1; empty: uniform).
    public var negativeWeights: [String: Double] = [:]

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

    /// The stage's own keys; the shared ones are `AdapterRunKeys`.
    enum CodingKeys: String, CodingKey {
        case imageSize = "image_size", preset, featureTaps = "feature_taps", dropout
        case contrastiveAlign = "contrastive_align", randomUNetSeed = "random_unet_seed"
        case recHead = "rec_head", heatmapSigma = "heatmap_sigma"
        case recReferencePoints = "rec_reference_points", decoderValuePosition = "dec_value_pos"
        case categoryWeights = "category_weights", negativeWeights = "negative_weights", heatmapText = "heatmap_text"
    }

    public init(from decoder: Decoder) throws {
        self.init()
        try decodeShared(from: decoder)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        imageSize = try c.decodeIfPresent(Int.self, forKey: .imageSize)
        preset = try c.decodeIfPresent(String.self, forKey: .preset) ?? preset
        featureTaps = try c.decodeIfPresent([String].self, forKey: .featureTaps) ?? featureTaps
        dropout = try c.decodeIfPresent(Float.self, forKey: .dropout)
        contrastiveAlign = try c.decodeIfPresent(Bool.self, forKey: .contrastiveAlign) ?? contrastiveAlign
        randomUNetSeed = try c.decodeIfPresent(UInt64.self, forKey: .randomUNetSeed)
        recHead = try c.decodeIfPresent(String.self, forKey: .recHead) ?? recHead
        heatmapSigma = try c.decodeIfPresent(Double.self, forKey: .heatmapSigma) ?? heatmapSigma
        recReferencePoints = try c.decodeIfPresent(Bool.self, forKey: .recReferencePoints) ?? false
        decoderValuePosition = try c.decodeIfPresent(Bool.self, forKey: .decoderValuePosition) ?? false
        heatmapText = try c.decodeIfPresent(Bool.self, forKey: .heatmapText) ?? false
        categoryWeights = try c.decodeIfPresent([String: Double].self, forKey: .categoryWeights) ?? [:]
        negativeWeights = try c.decodeIfPresent([String: Double].self, forKey: .negativeWeights) ?? [:]
    }

    /// Optionals are written as null so that the JSON always lists every key.
    public func encode(to encoder: Encoder) throws {
        try encodeShared(to: encoder)
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(imageSize, forKey: .imageSize)
        try c.encode(preset, forKey: .preset)
        try c.encode(featureTaps, forKey: .featureTaps)
        try c.encode(dropout, forKey: .dropout)
        try c.encode(contrastiveAlign, forKey: .contrastiveAlign)
        try c.encode(randomUNetSeed, forKey: .randomUNetSeed)
        try c.encode(recHead, forKey: .recHead)
        try c.encode(heatmapSigma, forKey: .heatmapSigma)
        try c.encode(recReferencePoints, forKey: .recReferencePoints)
        try c.encode(decoderValuePosition, forKey: .decoderValuePosition)
        try c.encode(heatmapText, forKey: .heatmapText)
        try c.encode(categoryWeights, forKey: .categoryWeights)
        try c.encode(negativeWeights, forKey: .negativeWeights)
    }

    /// `category_weights` by category; errors name the key and the unknown category or bad weight.
    public func categoryWeightTable() throws -> [Category: Double] {
        var out: [Category: Double] = [:]
        for (name, w) in categoryWeights {
            guard let c = Category(rawValue: name) else {
                throw AdapterTrainingError("config: category_weights names '\(name)', not one of \(Category.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            guard w.isFinite, w >= 0 else { throw AdapterTrainingError("config: category_weights[\(name)] \(w) must be finite and >= 0") }
            out[c] = w
        }
        if !out.isEmpty, Category.allCases.allSatisfy({ (out[$0] ?? 1) == 0 }) {
            throw AdapterTrainingError("config: category_weights give every category weight 0")
        }
        return out
    }

    /// `negative_weights` by kind; errors name the key and the unknown kind or bad weight.
    public func negativeWeightTable() throws -> [NegativeKind: Double] {
        var out: [NegativeKind: Double] = [:]
        for (name, w) in negativeWeights {
            guard let k = NegativeKind(rawValue: name) else {
                throw AdapterTrainingError("config: negative_weights names '\(name)', not one of \(NegativeKind.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            guard w.isFinite, w > 0 else { throw AdapterTrainingError("config: negative_weights[\(name)] \(w) must be finite and > 0") }
            out[k] = w
        }
        return out
    }

    /// `rec_head` as the adapter's kind.
    public func recHeadKind() throws -> RECHeadKind {
        guard let k = RECHeadKind(rawValue: recHead) else {
            throw AdapterTrainingError("config: rec_head '\(recHead)' is not one of \(RECHeadKind.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return k
    }

    /// Checks value ranges; errors name the key.
    public func validate() throws {
        func need(_ ok: Bool, _ key: String, _ what: String) throws {
            if !ok { throw AdapterTrainingError("config: \(key) \(what)") }
        }
        try need(["bundled", "release"].contains(preset), "preset", "'\(preset)' is not bundled or release")
        try need(!featureTaps.isEmpty && Set(featureTaps).count == featureTaps.count, "feature_taps", "\(featureTaps) must name taps, each once")
        try need(dropout.map { $0 >= 0 && $0 < 1 } ?? true, "dropout", "must be in [0, 1)")
        try need(randomUNetSeed.map { $0 <= UInt64(Int.max) } ?? true, "random_unet_seed", "must be at most \(Int.max)")
        try need(imageSize.map { $0 >= 8 } ?? true, "image_size", "must be >= 8")
        let head = try recHeadKind()
        try need(!(head == .heatmap && contrastiveAlign), "contrastive_align", "needs REC queries, which rec_head heatmap has none of")
        try need(!(head == .heatmap && recReferencePoints), "rec_reference_points", "are DETR query reference points; rec_head heatmap has no queries")
        try need(heatmapSigma > 0 && heatmapSigma.isFinite, "heatmap_sigma", "must be positive")
        try need(!(head == .detr && heatmapText), "heatmap_text", "conditions the heatmap head; rec_head is detr")
        _ = try categoryWeightTable()
        _ = try negativeWeightTable()
        try validateShared()
    }
}

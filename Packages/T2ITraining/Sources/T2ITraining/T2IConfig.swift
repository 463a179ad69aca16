import DataIO
import Diffusion
import Foundation
import NN
import TextEncoder

/// Every setting of a text-to-image training run. The defaults are the bundled model's (`Models/shapes-t2i`).
/// Stored as JSON with snake_case keys in each checkpoint and in `train_config.json`; a JSON file may set any subset
/// of the keys (`T2IConfig.decode(overrides:)`), and unknown keys are errors.
public struct T2IConfig: RunConfig, Equatable, Sendable {
    // Data (ShapesWorld, generated on the fly).
    /// Seed of the world, of the initial weights and of every per-step random draw.
    public var seed: UInt64 = 0
    /// Image side in pixels (the U-Net works in pixel space: 3 channels, no VAE).
    public var imageSize = 32

    // Tokenizer: byte-level BPE fitted to the captions of the train split.
    public var vocabSize = 320
    /// Number of train-split captions the BPE merges are learned from.
    public var tokenizerCorpusSize = 20000
    /// Token context (start + caption + end + padding); must hold the longest caption of the corpus.
    public var contextLength = 24

    // Text encoder (CLIPTextModel from scratch).
    public var textHiddenSize = 128
    public var textLayers = 4
    public var textHeads = 4
    public var textIntermediateSize = 512
    /// Whether the text encoder is trained with the U-Net (default on, at a tenth of the U-Net's rate). Trained
    /// jointly at the full rate of 1e-3 it collapsed towards a prompt-independent output within a few hundred steps
    /// (cross-attention gradients are tiny early on and Adam turns them into full-size noisy steps); kept frozen at
    /// its random initialisation (bundled model v1) the U-Net learned to read it only weakly and failed to compose
    /// unseen combinations. At 1e-4 it trains stably (v2: better multi-object and out-of-distribution adherence).
    public var trainTextEncoder = true
    /// Multiplier of `learning_rate` for the text encoder's parameters when `train_text_encoder` is on.
    public var textEncoderLRScale = 0.1
    /// Weight of an auxiliary loss that makes the text encoder keep what the caption says (`CaptionAttributes`: the
    /// colour, shape, size and count of each object group and the relation, read by a linear head from the state of
    /// the last context position); 0 = off. The denoising loss alone lets the encoder blur size and relation words
    /// (`TextEncoderSeparation`; Docs/RESULTS.md). Needs `train_text_encoder`. 0.01 (bundled model v7) lifted the
    /// full `id` suite's `single` all-pass from 83.3% to 93.8% and size binding from 42.1% to 70.0% against v6 (0).
    public var textParseWeight = 0.01

    // U-Net (UNet2DConditionModel).
    public var blockOutChannels = [32, 64, 64]
    public var downBlockTypes = ["DownBlock2D", "DownBlock2D", "CrossAttnDownBlock2D"]
    public var upBlockTypes = ["CrossAttnUpBlock2D", "UpBlock2D", "UpBlock2D"]
    public var layersPerBlock = 1
    /// Attention heads per transformer block (diffusers' `attention_head_dim` for this class).
    public var attentionHeads = 4
    public var normNumGroups = 32
    public var midBlock = true
    /// diffusers' `addition_embed_type: "text"` (`TextTimeEmbedding`, `attention_heads` pooling heads): the pooled
    /// prompt is added to the timestep embedding, so every ResNet block at every resolution is conditioned on the
    /// text, not only the cross-attention layers (at 8x8 in the default layout). Off: trained with v2's settings it
    /// followed prompts worse (v4 attempt: `id` all-pass 17.5% against v2's 26.8%, Models/shapes-t2i/README.md).
    public var textTimeEmbedding = false

    // Diffusion objective (DDPM).
    /// What the U-Net predicts: `v_prediction` (default; well conditioned at every t of the cosine schedule, where an
    /// epsilon model's x0 estimate at t near T divides by sqrt(alpha_bar) ~ 0), `epsilon` or `sample`.
    public var predictionType = "v_prediction"
    /// Min-SNR-gamma loss weighting (Hang et al. 2023); 0 turns it off (plain MSE). For v-prediction min-SNR-5 weighs
    /// a step by min(SNR, 5) / (SNR + 1), under 0.1 for the noisiest fifth of the cosine schedule; plain v-MSE (0)
    /// weighs every step alike, yet trained a worse model (v3 attempt, 6,000 steps: `id` all-pass 12.5% against v2's
    /// 26.8%, both at guidance 1.5; Models/shapes-t2i/README.md).
    public var snrGamma = 5.0
    public var numTrainTimesteps = 1000
    public var betaSchedule = "squaredcos_cap_v2"
    public var betaStart = 0.0001
    public var betaEnd = 0.02

    // Optimisation.
    public var batchSize = 16
    public var steps = 9000
    public var learningRate = 1e-3
    public var warmupSteps = 200
    /// `cosine` (warm-up then half cosine to 0), `constant` (warm-up then constant) or `linear`.
    public var lrSchedule = "cosine"
    public var weightDecay = 0.01
    public var adamBeta1 = 0.9
    public var adamBeta2 = 0.999
    public var gradClipNorm = 1.0
    /// EMA decay; the effective decay warms up as min(decay, (1 + n) / (10 + n)) like diffusers' EMAModel.
    public var emaDecay = 0.998
    /// Probability that a caption is replaced by the empty prompt (for classifier-free guidance).
    public var captionDropout = 0.1

    // Run bookkeeping.
    public var checkpointEvery = 250
    public var keepCheckpoints = 2
    public var sampleEvery = 500
    public var logEvery = 10

    // Sampling (in-loop grids and the scheduler written into the model folder).
    public var sampler = "DDIMScheduler"
    public var sampleSteps = 20
    /// Classifier-free guidance of the in-loop grids. The bundled models follow prompts best near 1.5; at 3 the
    /// colours over-saturate into off-palette blends (v2, id single: 56% all-pass at 1.5, 22.5% at 3, 1% at 5).
    public var guidanceScale = 1.5

    public init() {}

    /// Ranges of the integer keys a file or `--set` may give (checked before the config is built, naming the key):
    /// each size within DataIO's `ConfigLimits` (per key: a product of several can still be large).
    public static let integerLimits: [String: ClosedRange<Int>] = [
        "image_size": 1...4096, "vocab_size": 1...ConfigLimits.vocabulary, "tokenizer_corpus_size": 1...10_000_000,
        "context_length": 1...ConfigLimits.dimension, "text_hidden_size": 1...ConfigLimits.dimension,
        "text_layers": 1...ConfigLimits.layers, "text_heads": 1...ConfigLimits.dimension,
        "text_intermediate_size": 1...ConfigLimits.wideDimension, "block_out_channels": 1...ConfigLimits.dimension,
        "layers_per_block": 1...ConfigLimits.layers, "attention_heads": 1...ConfigLimits.dimension,
        "norm_num_groups": 1...ConfigLimits.dimension, "num_train_timesteps": 1...ConfigLimits.timesteps,
        "batch_size": 1...1_000_000, "steps": 1...1_000_000_000, "warmup_steps": 0...1_000_000_000,
        "checkpoint_every": 1...1_000_000_000, "keep_checkpoints": 1...1_000_000, "sample_every": 0...1_000_000_000,
        "log_every": 1...1_000_000_000, "sample_steps": 1...ConfigLimits.timesteps,
    ]

    enum CodingKeys: String, CodingKey {
        case seed, imageSize = "image_size", vocabSize = "vocab_size", tokenizerCorpusSize = "tokenizer_corpus_size"
        case contextLength = "context_length", textHiddenSize = "text_hidden_size", textLayers = "text_layers"
        case textHeads = "text_heads", textIntermediateSize = "text_intermediate_size", trainTextEncoder = "train_text_encoder"
        case textEncoderLRScale = "text_encoder_lr_scale", textParseWeight = "text_parse_weight"
        case blockOutChannels = "block_out_channels", downBlockTypes = "down_block_types", upBlockTypes = "up_block_types"
        case layersPerBlock = "layers_per_block", attentionHeads = "attention_heads", normNumGroups = "norm_num_groups"
        case midBlock = "mid_block", textTimeEmbedding = "text_time_embedding", predictionType = "prediction_type", snrGamma = "snr_gamma", numTrainTimesteps = "num_train_timesteps", betaSchedule = "beta_schedule"
        case betaStart = "beta_start", betaEnd = "beta_end", batchSize = "batch_size", steps
        case learningRate = "learning_rate", warmupSteps = "warmup_steps", lrSchedule = "lr_schedule"
        case weightDecay = "weight_decay", adamBeta1 = "adam_beta1", adamBeta2 = "adam_beta2"
        case gradClipNorm = "grad_clip_norm", emaDecay = "ema_decay", captionDropout = "caption_dropout"
        case checkpointEvery = "checkpoint_every", keepCheckpoints = "keep_checkpoints", sampleEvery = "sample_every"
        case logEvery = "log_every", sampler, sampleSteps = "sample_steps", guidanceScale = "guidance_scale"
    }

    /// Keys that only steer logging, checkpointing and progress grids: a run may be resumed with other values.
    /// `guidance_scale` and `sample_steps` steer only the in-loop grids and the sampling defaults written with the
    /// model (what the tools' `ModelOptions.samplingDefaults` reads back), never the weights.
    public static let bookkeepingKeys: Set<String> = ["checkpoint_every", "keep_checkpoints", "sample_every", "log_every",
                                                      "guidance_scale", "sample_steps"]

    /// Checks value ranges and block lists; errors name the key.
    public func validate() throws {
        func need(_ ok: Bool, _ key: String, _ what: String) throws {
            if !ok { throw T2ITrainingError("config: \(key) \(what)") }
        }
        // NaN fails no `<`/`>` test and an infinity passes the lower bounds below: every real-valued key is finite.
        for (key, v) in [("text_encoder_lr_scale", textEncoderLRScale), ("text_parse_weight", textParseWeight),
                         ("snr_gamma", snrGamma), ("beta_start", betaStart), ("beta_end", betaEnd),
                         ("learning_rate", learningRate), ("weight_decay", weightDecay), ("adam_beta1", adamBeta1),
                         ("adam_beta2", adamBeta2), ("grad_clip_norm", gradClipNorm), ("ema_decay", emaDecay),
                         ("caption_dropout", captionDropout), ("guidance_scale", guidanceScale)] {
            try need(v.isFinite, key, "must be a finite number, got \(v)")
        }
        // Configs are JSON, whose integers are kept exact as Int.
        try need(seed <= UInt64(Int.max), "seed", "\(seed) must be at most \(Int.max)")
        // Guards before the arithmetic below (a modulo by zero or a shift past the word size traps).
        try need(normNumGroups >= 1, "norm_num_groups", "\(normNumGroups) must be >= 1")
        try need(attentionHeads >= 1, "attention_heads", "\(attentionHeads) must be >= 1")
        try need(blockOutChannels.count <= 13, "block_out_channels",
                 "\(blockOutChannels.count) blocks downsample by 2^\(blockOutChannels.count - 1); image_size allows at most 13")
        try need(imageSize >= 16 && imageSize % (1 << max(0, blockOutChannels.count - 1)) == 0, "image_size",
                 "\(imageSize) must be >= 16 and divisible by 2^(blocks-1)")
        try need(vocabSize >= 64, "vocab_size", "\(vocabSize) must be >= 64")
        try need(tokenizerCorpusSize >= 100, "tokenizer_corpus_size", "\(tokenizerCorpusSize) must be >= 100")
        try need(contextLength >= 4, "context_length", "\(contextLength) must be >= 4")
        try need(textHiddenSize > 0 && textHeads > 0 && textHiddenSize % textHeads == 0, "text_hidden_size",
                 "\(textHiddenSize) must be a positive multiple of text_heads \(textHeads)")
        try need(textLayers >= 1 && textIntermediateSize > 0, "text_layers", "and text_intermediate_size must be positive")
        try need(!blockOutChannels.isEmpty && blockOutChannels.allSatisfy { $0 > 0 && $0 % normNumGroups == 0 },
                 "block_out_channels", "\(blockOutChannels) must be non-empty multiples of norm_num_groups \(normNumGroups)")
        try need(downBlockTypes.count == blockOutChannels.count && upBlockTypes.count == blockOutChannels.count,
                 "down_block_types", "and up_block_types need one entry per block_out_channels entry")
        try need(blockOutChannels.allSatisfy { $0 % attentionHeads == 0 }, "attention_heads",
                 "\(attentionHeads) must divide every block_out_channels entry")
        try need(!textTimeEmbedding || textHiddenSize % attentionHeads == 0, "text_time_embedding",
                 "needs attention_heads \(attentionHeads) to divide text_hidden_size \(textHiddenSize) (the pooling heads)")
        try need(layersPerBlock >= 1, "layers_per_block", "must be >= 1")
        try need(numTrainTimesteps >= 2, "num_train_timesteps", "must be >= 2")
        try need(BetaScheduleKind(rawValue: betaSchedule) != nil, "beta_schedule",
                 "'\(betaSchedule)' is not one of \(BetaScheduleKind.allCases.map(\.rawValue).joined(separator: ", "))")
        try need(PredictionType(rawValue: predictionType) != nil, "prediction_type",
                 "'\(predictionType)' is not one of epsilon, v_prediction, sample")
        try need(snrGamma >= 0, "snr_gamma", "must be >= 0 (0 = plain MSE)")
        try need(batchSize >= 1, "batch_size", "must be >= 1")
        try need(steps >= 1, "steps", "must be >= 1")
        try need(learningRate > 0, "learning_rate", "must be positive")
        try need(textEncoderLRScale > 0, "text_encoder_lr_scale", "must be positive")
        try need(textParseWeight >= 0 && textParseWeight.isFinite, "text_parse_weight", "must be >= 0")
        try need(textParseWeight == 0 || trainTextEncoder, "text_parse_weight", "needs train_text_encoder (a frozen encoder cannot learn from it): set text_parse_weight=0 with train_text_encoder=false")
        try need(weightDecay >= 0, "weight_decay", "must be >= 0")
        try need((0..<1).contains(adamBeta1), "adam_beta1", "must be in [0, 1)")
        try need((0..<1).contains(adamBeta2), "adam_beta2", "must be in [0, 1)")
        try need(betaStart > 0 && betaStart <= betaEnd && betaEnd < 1, "beta_start",
                 "\(betaStart) and beta_end \(betaEnd) must satisfy 0 < beta_start <= beta_end < 1")
        try need(warmupSteps >= 0, "warmup_steps", "must be >= 0")
        try need(["cosine", "constant", "linear"].contains(lrSchedule), "lr_schedule", "'\(lrSchedule)' is not cosine, constant or linear")
        try need(gradClipNorm > 0, "grad_clip_norm", "must be positive")
        try need(emaDecay >= 0 && emaDecay < 1, "ema_decay", "must be in [0, 1)")
        try need(captionDropout >= 0 && captionDropout < 1, "caption_dropout", "must be in [0, 1)")
        try need(checkpointEvery >= 1 && keepCheckpoints >= 1, "checkpoint_every", "and keep_checkpoints must be >= 1")
        try need(sampleEvery >= 0 && logEvery >= 1, "sample_every", "must be >= 0 and log_every >= 1")
        try need(SchedulerKind(rawValue: sampler) != nil, "sampler",
                 "'\(sampler)' is not one of \(SchedulerKind.knownNames.joined(separator: ", "))")
        try need(sampleSteps >= 1, "sample_steps", "must be >= 1")
        try need(guidanceScale >= 0, "guidance_scale", "must be >= 0 (<= 1: no guidance)")
    }

    /// The learning-rate schedule of this run (diffusers' schedules; the multiplier is applied to `learning_rate`).
    public var learningRateSchedule: LRSchedule {
        switch lrSchedule {
        case "constant": return .constantWithWarmup(warmupSteps: warmupSteps)
        case "linear": return .linearWithWarmup(warmupSteps: warmupSteps, totalSteps: steps)
        default: return .cosineWithWarmup(warmupSteps: warmupSteps, totalSteps: steps)
        }
    }

    /// The prediction type as the Diffusion package's enum (valid after `validate()`).
    public var prediction: PredictionType { PredictionType(rawValue: predictionType) ?? .vPrediction }

    /// The text encoder's configuration (token ids from the fitted tokenizer).
    public func textEncoderConfig(vocabularySize: Int, bosTokenID: Int, eosTokenID: Int) -> CLIPTextConfig {
        var c = CLIPTextConfig()
        c.vocabSize = vocabularySize
        c.hiddenSize = textHiddenSize
        c.intermediateSize = textIntermediateSize
        c.projectionDim = textHiddenSize
        c.numHiddenLayers = textLayers
        c.numAttentionHeads = textHeads
        c.maxPositionEmbeddings = contextLength
        c.hiddenAct = "quick_gelu"
        c.padTokenId = eosTokenID
        c.bosTokenId = bosTokenID
        c.eosTokenId = eosTokenID
        c.torchDtype = "float32"
        return c
    }

    /// The U-Net's configuration (pixel space: 3 channels in and out).
    public var unetConfig: UNet2DConditionConfig {
        var c = UNet2DConditionConfig()
        c.sampleSize = .one(imageSize)
        c.inChannels = 3
        c.outChannels = 3
        c.downBlockTypes = downBlockTypes
        c.upBlockTypes = upBlockTypes
        c.midBlockType = midBlock ? "UNetMidBlock2DCrossAttn" : nil
        c.blockOutChannels = blockOutChannels
        c.layersPerBlock = .one(layersPerBlock)
        c.normNumGroups = normNumGroups
        c.crossAttentionDim = .one(textHiddenSize)
        c.attentionHeadDim = .one(attentionHeads)
        if textTimeEmbedding {
            c.additionEmbedType = "text"
            c.additionEmbedTypeNumHeads = .int(attentionHeads)
        }
        return c
    }

    /// The training noise schedule / inference scheduler keys (diffusers `scheduler_config.json` values).
    public var schedulerValues: [String: JSONValue] {
        var v: [String: JSONValue] = [
            "num_train_timesteps": .int(numTrainTimesteps), "beta_schedule": .string(betaSchedule),
            "beta_start": .double(betaStart), "beta_end": .double(betaEnd), "prediction_type": .string(predictionType),
        ]
        if sampler == "DDIMScheduler" || sampler == "DDPMScheduler" {
            v["clip_sample"] = true
            v["set_alpha_to_one"] = sampler == "DDIMScheduler" ? .bool(true) : nil
            v["timestep_spacing"] = "trailing"
        }
        return v
    }

    /// The scheduler configuration written into the model folder (class `sampler`).
    public func schedulerConfiguration() throws -> SchedulerConfiguration {
        try SchedulerConfiguration(className: sampler, values: schedulerValues)
    }
}


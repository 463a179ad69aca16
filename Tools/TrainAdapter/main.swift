// train-adapter: DPT stage 1 (probing: the discriminative adapter on a frozen text-to-image model) and stage 2
// (tuning: U-Net LoRA + the stage-1 adapter with the discriminative and denoising losses) on a model folder (the
// bundled model or any diffusers SD folder), as the subcommands `probe` and `tune`. The logic lives in
// Packages/AdapterTraining; this file only parses flags.
import AdapterTraining
import ArgumentParser
import DataIO
import DiscriminativeAdapter
import Foundation
import ToolSupport

struct TrainAdapter: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train-adapter",
        abstract: "Train DPT's discriminative adapter (probe, stage 1) or tune the U-Net with LoRA and the adapter (tune, stage 2); resumable.",
        discussion: """
            Settings: flags, any config key with --set KEY=VALUE (JSON value), or a JSON file (--config); precedence: \
            defaults < --config < flags. `train-adapter probe --help` and `train-adapter tune --help` list each stage's flags.
            """,
        subcommands: [Probe.self, Tune.self])
}

/// The options both stages take (the same keys in ProbeConfig and TuneConfig).
struct CommonOptions: ParsableArguments {
    @Option(name: .long, help: "Text-to-image model folder (diffusers layout).")
    var model: String = "Models/shapes-t2i"
    @Option(name: .long, help: "Run folder (probe: default runs/probe-<taps>, or runs/probe-control-<taps> with --random-unet-seed; tune: default runs/tune).")
    var out: String?
    @OptionGroup var run: RunOptions
    @Option(name: .customLong("batch-size"), help: "Samples per step (tune: per micro-batch); each: 3 images, 3 captions, 1 expression; 6 U-Net passes (tune: + 1 full pass).")
    var batchSize: Int?
    @Option(name: .long, help: "Total optimisation steps.")
    var steps: Int?
    @Option(name: .customLong("learning-rate"), help: "AdamW learning rate.")
    var learningRate: Double?
    @Option(name: .customLong("weight-decay"), help: "AdamW decoupled weight decay.")
    var weightDecay: Double?
    @Option(name: .customLong("grad-clip"), help: "Global gradient-norm clip.")
    var gradClip: Double?
    @Option(name: .customLong("lr-schedule"), help: "constant or cosine.")
    var lrSchedule: String?
    @Option(name: .customLong("warmup-steps"), help: "Linear warm-up steps.")
    var warmupSteps: Int?
    @Option(name: .customLong("timestep-min"), help: "Training timesteps are uniform in [min, max).")
    var timestepMin: Int?
    @Option(name: .customLong("timestep-max"), help: "Upper bound (exclusive; default T).")
    var timestepMax: Int?
    @Option(name: .long, help: "Seed of the adapter's (probe) or LoRA's (tune) initial weights and every per-step draw.")
    var seed: UInt64?
    @Option(name: .customLong("world-seed"), help: "ShapesWorld generator seed.")
    var worldSeed: UInt64?
    @Option(name: .customLong("train-split"), help: "ShapesWorld split to train on (train, val, test-id, test-ood).")
    var trainSplit: String?
    @Option(name: .customLong("checkpoint-every"), help: "Steps between checkpoints.")
    var checkpointEvery: Int?
    @Option(name: .customLong("keep-checkpoints"), help: "Checkpoints kept.")
    var keepCheckpoints: Int?
    @Option(name: .customLong("log-every"), help: "Steps between progress lines / metric records.")
    var logEvery: Int?

    /// Every number is checked before a file is read (config keys again in the stage config's `validate`).
    func validate() throws {
        try OptionCheck.integer("--batch-size", batchSize, .within(1...OptionCheck.maxCount))
        try OptionCheck.integer("--steps", steps, .atLeast(1))
        try OptionCheck.number("--learning-rate", learningRate, .above(0))
        try OptionCheck.number("--weight-decay", weightDecay, .atLeast(0))
        try OptionCheck.number("--grad-clip", gradClip, .above(0))
        try OptionCheck.integer("--warmup-steps", warmupSteps, .atLeast(0))
        try OptionCheck.integer("--timestep-min", timestepMin, .atLeast(0))
        try OptionCheck.integer("--timestep-max", timestepMax, .atLeast(min(timestepMin ?? 0, Int.max - 1) + 1))
        try OptionCheck.configSeed("--seed", seed)
        try OptionCheck.configSeed("--world-seed", worldSeed)
        try OptionCheck.integer("--checkpoint-every", checkpointEvery, .atLeast(1))
        try OptionCheck.integer("--keep-checkpoints", keepCheckpoints, .atLeast(1))
        try OptionCheck.integer("--log-every", logEvery, .atLeast(1))
    }

    /// Overrides shared by both stages (same keys in ProbeConfig and TuneConfig), then --set.
    func commonOverrides() throws -> [String: JSONValue] {
        var over: [String: JSONValue] = [:]
        if let batchSize { over["batch_size"] = .int(batchSize) }
        if let steps { over["steps"] = .int(steps) }
        if let learningRate { over["learning_rate"] = .double(learningRate) }
        if let weightDecay { over["weight_decay"] = .double(weightDecay) }
        if let gradClip { over["grad_clip_norm"] = .double(gradClip) }
        if let lrSchedule { over["lr_schedule"] = .string(lrSchedule) }
        if let warmupSteps { over["warmup_steps"] = .int(warmupSteps) }
        if let timestepMin { over["timestep_min"] = .int(timestepMin) }
        if let timestepMax { over["timestep_max"] = .int(timestepMax) }
        if let seed { over["seed"] = .int(Int(seed)) }
        if let worldSeed { over["world_seed"] = .int(Int(worldSeed)) }
        if let trainSplit { over["train_split"] = .string(trainSplit) }
        if let checkpointEvery { over["checkpoint_every"] = .int(checkpointEvery) }
        if let keepCheckpoints { over["keep_checkpoints"] = .int(keepCheckpoints) }
        if let logEvery { over["log_every"] = .int(logEvery) }
        return over
    }

    /// The common overrides, `stage` (the stage's own flags) on top, then --set.
    func overrides(adding stage: [String: JSONValue]) throws -> [String: JSONValue] {
        try run.overrides(try commonOverrides().merging(stage) { _, own in own })
    }
}

struct Probe: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "DPT stage 1: the discriminative adapter on the frozen model.",
        discussion: """
            U-Net and text encoder frozen, adapter trained with L_i2t + L_t2i + L_rec on ShapesWorld's train split. \
            Run folder: probe_config.json, checkpoints/, metrics.jsonl, loss.png, adapter/ at the end; the finished \
            adapter is also written to <model>/adapter/ (not for --random-unet-seed control runs; see --adapter-out). \
            Keys: \(ProbeConfig.keys.joined(separator: ", ")).
            """)

    @OptionGroup var common: CommonOptions
    @Option(name: .customLong("adapter-out"), help: "Where the finished adapter goes besides <out>/adapter (default <model>/adapter; 'none' to skip).")
    var adapterOut: String?
    @Option(name: .long, help: "Adapter size preset: bundled (d 128) or release (d 256).")
    var preset: String?
    @Option(name: .long, help: "U-Net feature taps, e.g. up1 or mid+up1 (down0.., mid, up0..).")
    var taps: String?
    @Option(name: .long, help: "Adapter dropout (default: the preset's 0.1).")
    var dropout: Float?
    @Flag(name: .customLong("contrastive-align"), help: "Also train the contrastive token-alignment head and loss.")
    var contrastiveAlign = false
    @Option(name: .customLong("random-unet-seed"), help: "Control run: a U-Net of the same architecture with random weights from this seed.")
    var randomUNetSeed: UInt64?
    @Option(name: .customLong("image-size"), help: "Render size in pixels (default: the model's).")
    var imageSize: Int?
    @Option(name: .customLong("rec-head"), help: "REC head: detr (the release's) or heatmap (per-cell centre scores and boxes).")
    var recHead: String?
    @Option(name: .customLong("heatmap-sigma"), help: "Heatmap head: standard deviation in feature cells of the centre target (default 1).")
    var heatmapSigma: Double?

    func validate() throws {
        try OptionCheck.number("--dropout", dropout, .within(0..<1))
        try OptionCheck.number("--heatmap-sigma", heatmapSigma, .within(0.05..<100))
        try OptionCheck.configSeed("--random-unet-seed", randomUNetSeed)
        try OptionCheck.integer("--image-size", imageSize, .within(16...1024))  // ShapesWorld renders 16...1024
    }

    func run() throws {
        var cfg = ProbeConfig()
        if common.run.resume, let out = common.out {
            let saved = URL(fileURLWithPath: out).appendingPathComponent("probe_config.json")
            if FileManager.default.fileExists(atPath: saved.path) { cfg = try ProbeConfig.load(contentsOf: saved) }
        }
        if let config = common.run.config { cfg = try ProbeConfig.load(contentsOf: URL(fileURLWithPath: config), base: cfg) }
        var over: [String: JSONValue] = [:]
        if let preset { over["preset"] = .string(preset) }
        if let taps { over["feature_taps"] = .array(try FeatureTaps.parse(taps).map { .string($0) }) }
        if let dropout { over["dropout"] = .double(Double(dropout)) }
        if contrastiveAlign { over["contrastive_align"] = .bool(true) }
        if let randomUNetSeed { over["random_unet_seed"] = .int(Int(randomUNetSeed)) }
        if let imageSize { over["image_size"] = .int(imageSize) }
        if let recHead { over["rec_head"] = .string(recHead) }
        if let heatmapSigma { over["heatmap_sigma"] = .double(heatmapSigma) }
        cfg = try ProbeConfig.decode(overrides: .object(try common.overrides(adding: over)), base: cfg)
        try cfg.validate()
        if common.run.printConfig {
            print(try cfg.json().serialized())
            return
        }
        let tapName = cfg.featureTaps.joined(separator: "+")
        let runURL = URL(fileURLWithPath: common.out ?? (cfg.randomUNetSeed == nil ? "runs/probe-\(tapName)" : "runs/probe-control-\(tapName)"))
        let modelURL = URL(fileURLWithPath: common.model)
        let probeModel = try ProbeModel(folder: modelURL, randomUNetSeed: cfg.randomUNetSeed)
        let trainer = try ProbeTrainer(config: cfg, model: probeModel, runDirectory: runURL, resume: common.run.resume)
        try trainer.run(stopAfter: common.run.stopAfter)
        guard trainer.step == cfg.steps else { return }
        let target: String? = adapterOut == "none" ? nil
            : adapterOut ?? (cfg.randomUNetSeed == nil ? modelURL.appendingPathComponent(DiscriminativeAdapter.componentName).path : nil)
        if let target {
            try trainer.saveAdapter(to: ComponentFolder(URL(fileURLWithPath: target)))
            trainer.output("adapter installed in \(target)")
        }
    }
}

struct Tune: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "DPT stage 2: U-Net LoRA and the stage-1 adapter with the discriminative and denoising losses.",
        discussion: """
            LoRA on the U-Net's attention projections (base frozen) and the stage-1 adapter (--adapter, default \
            <model>/adapter; its taps and size are kept) trained with itm_weight * (L_i2t + L_t2i) + rec_weight * L_rec \
            + mse_weight * L_mse. Run folder: tune_config.json, checkpoints/, metrics.jsonl, loss.png, and at the end \
            adapter/ (the tuned adapter) and unet_lora/ (the LoRA). Ablations: --set itm_weight=0, --set rec_weight=0, \
            --set lora_rank=8, --set train_adapter=false. Keys: \(TuneConfig.keys.joined(separator: ", ")).
            """)

    @OptionGroup var common: CommonOptions
    @Option(name: .long, help: "The stage-1 adapter folder to tune (default <model>/adapter).")
    var adapter: String?
    @Option(name: .customLong("gradient-accumulation"), help: "Micro-batches per step (effective batch = batch size x this).")
    var gradientAccumulation: Int?
    @Option(name: .customLong("lora-rank"), help: "LoRA rank (alpha defaults to the rank).")
    var loraRank: Int?
    @Option(name: .customLong("itm-weight"), help: "Weight of L_i2t + L_t2i (0 removes ITM).")
    var itmWeight: Double?
    @Option(name: .customLong("rec-weight"), help: "Weight of L_rec (0 removes REC).")
    var recWeight: Double?
    @Option(name: .customLong("mse-weight"), help: "Weight of the denoising loss (0 removes it).")
    var mseWeight: Double?

    func validate() throws {
        try OptionCheck.integer("--gradient-accumulation", gradientAccumulation, .within(1...OptionCheck.maxCount))
        try OptionCheck.integer("--lora-rank", loraRank, .atLeast(1))
        try OptionCheck.number("--itm-weight", itmWeight, .atLeast(0))
        try OptionCheck.number("--rec-weight", recWeight, .atLeast(0))
        try OptionCheck.number("--mse-weight", mseWeight, .atLeast(0))
    }

    func run() throws {
        let runURL = URL(fileURLWithPath: common.out ?? "runs/tune")
        var cfg = TuneConfig()
        if common.run.resume {
            let saved = runURL.appendingPathComponent("tune_config.json")
            if FileManager.default.fileExists(atPath: saved.path) { cfg = try TuneConfig.load(contentsOf: saved) }
        }
        if let config = common.run.config { cfg = try TuneConfig.load(contentsOf: URL(fileURLWithPath: config), base: cfg) }
        var over: [String: JSONValue] = [:]
        if let gradientAccumulation { over["gradient_accumulation"] = .int(gradientAccumulation) }
        if let loraRank { over["lora_rank"] = .int(loraRank) }
        if let itmWeight { over["itm_weight"] = .double(itmWeight) }
        if let recWeight { over["rec_weight"] = .double(recWeight) }
        if let mseWeight { over["mse_weight"] = .double(mseWeight) }
        cfg = try TuneConfig.decode(overrides: .object(try common.overrides(adding: over)), base: cfg)
        try cfg.validate()
        if common.run.printConfig {
            print(try cfg.json().serialized())
            return
        }
        let modelURL = URL(fileURLWithPath: common.model)
        let adapterURL = adapter.map { URL(fileURLWithPath: $0) } ?? modelURL.appendingPathComponent(DiscriminativeAdapter.componentName)
        let trainer = try TuneTrainer(config: cfg, modelFolder: modelURL, adapterFolder: adapterURL, runDirectory: runURL, resume: common.run.resume)
        trainer.output("stage-1 adapter \(adapterURL.path) (fingerprint \(trainer.stage1Fingerprint)); run folder \(runURL.path)")
        try trainer.run(stopAfter: common.run.stopAfter)
    }
}

TrainAdapter.main()

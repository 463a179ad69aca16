// train-adapter: DPT stage 1 (probing): trains the discriminative adapter on a frozen text-to-image model folder
// (the bundled model or any diffusers SD folder). The logic lives in Packages/AdapterTraining; this file only
// parses flags.
import AdapterTraining
import ArgumentParser
import DataIO
import DiscriminativeAdapter
import Foundation

struct TrainAdapter: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train-adapter",
        abstract: "Train DPT's discriminative adapter (ITM + REC) on a frozen text-to-image model (resumable).",
        discussion: """
            --stage probe (DPT stage 1): U-Net and text encoder frozen, adapter trained with L_i2t + L_t2i + L_rec on \
            ShapesWorld's train split. --stage tune (stage 2, LoRA + adapter) is not implemented yet (issue 9).
            Settings: flags below, any config key with --set KEY=VALUE (JSON value), or a JSON file (--config); \
            precedence: defaults < --config < flags. Known keys: \(ProbeConfig.keys.joined(separator: ", ")).
            Run folder: probe_config.json, checkpoints/, metrics.jsonl, loss.png, adapter/ at the end. The finished \
            adapter is also written to <model>/adapter/ (not for --random-unet-seed control runs; see --adapter-out).
            """)

    @Option(name: .long, help: "Training stage: probe (stage 1). 'tune' (stage 2) is not implemented yet.")
    var stage: String = "probe"
    @Option(name: .long, help: "Text-to-image model folder (diffusers layout).")
    var model: String = "Models/shapes-t2i"
    @Option(name: .long, help: "Run folder (default runs/probe-<taps>, or runs/probe-control-<taps> with --random-unet-seed).")
    var out: String?
    @Flag(name: .long, help: "Continue from the newest complete checkpoint in --out.")
    var resume = false
    @Option(name: .long, help: "JSON file with any subset of the config keys.")
    var config: String?
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
    @Option(name: .customLong("batch-size"), help: "Samples per step (each: 3 images, 3 captions, 1 expression; 6 U-Net passes).")
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
    @Option(name: .long, help: "Seed of the adapter's initial weights and every per-step draw.")
    var seed: UInt64?
    @Option(name: .customLong("world-seed"), help: "ShapesWorld generator seed.")
    var worldSeed: UInt64?
    @Option(name: .customLong("train-split"), help: "ShapesWorld split to train on (train, val, test-id, test-ood).")
    var trainSplit: String?
    @Option(name: .customLong("image-size"), help: "Render size in pixels (default: the model's).")
    var imageSize: Int?
    @Option(name: .customLong("checkpoint-every"), help: "Steps between checkpoints.")
    var checkpointEvery: Int?
    @Option(name: .customLong("keep-checkpoints"), help: "Checkpoints kept.")
    var keepCheckpoints: Int?
    @Option(name: .customLong("log-every"), help: "Steps between progress lines / metric records.")
    var logEvery: Int?
    @Option(name: .customLong("set"), parsing: .singleValue, help: "KEY=VALUE config override (repeatable; JSON value).")
    var sets: [String] = []
    @Option(name: .customLong("stop-after"), help: "Stop after this many steps in total (checkpointing there), as if interrupted.")
    var stopAfter: Int?
    @Flag(name: .customLong("print-config"), help: "Print the resolved config as JSON and exit.")
    var printConfig = false

    func run() throws {
        switch stage {
        case "probe": break
        case "tune":
            throw ValidationError("--stage tune (DPT stage 2: LoRA + adapter with the denoising loss) is not implemented yet; it is issue 9. Use --stage probe.")
        default:
            throw ValidationError("--stage \(stage): expected probe (stage 1); tune (stage 2) is not implemented yet (issue 9)")
        }
        var cfg = ProbeConfig()
        if resume, let out {
            let saved = URL(fileURLWithPath: out).appendingPathComponent("probe_config.json")
            if FileManager.default.fileExists(atPath: saved.path) { cfg = try ProbeConfig.load(contentsOf: saved) }
        }
        if let config { cfg = try ProbeConfig.load(contentsOf: URL(fileURLWithPath: config), base: cfg) }
        var over: [String: JSONValue] = [:]
        if let preset { over["preset"] = .string(preset) }
        if let taps { over["feature_taps"] = .array(try FeatureTaps.parse(taps).map { .string($0) }) }
        if let dropout { over["dropout"] = .double(Double(dropout)) }
        if contrastiveAlign { over["contrastive_align"] = .bool(true) }
        if let randomUNetSeed { over["random_unet_seed"] = .int(Int(randomUNetSeed)) }
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
        if let imageSize { over["image_size"] = .int(imageSize) }
        if let checkpointEvery { over["checkpoint_every"] = .int(checkpointEvery) }
        if let keepCheckpoints { over["keep_checkpoints"] = .int(keepCheckpoints) }
        if let logEvery { over["log_every"] = .int(logEvery) }
        for s in sets {
            guard let eq = s.firstIndex(of: "=") else { throw ValidationError("--set \(s): expected KEY=VALUE") }
            let key = String(s[..<eq]), raw = String(s[s.index(after: eq)...])
            over[key] = (try? JSONValue.parse(raw)) ?? .string(raw)
        }
        cfg = try ProbeConfig.decode(overrides: .object(over), base: cfg)
        try cfg.validate()
        if printConfig {
            print(try cfg.json().serialized())
            return
        }
        let tapName = cfg.featureTaps.joined(separator: "+")
        let runURL = URL(fileURLWithPath: out ?? (cfg.randomUNetSeed == nil ? "runs/probe-\(tapName)" : "runs/probe-control-\(tapName)"))
        let modelURL = URL(fileURLWithPath: model)
        let probeModel = try ProbeModel(folder: modelURL, randomUNetSeed: cfg.randomUNetSeed)
        let trainer = try ProbeTrainer(config: cfg, model: probeModel, runDirectory: runURL, resume: resume)
        try trainer.run(stopAfter: stopAfter)
        guard trainer.step == cfg.steps else { return }
        let target: String? = adapterOut == "none" ? nil
            : adapterOut ?? (cfg.randomUNetSeed == nil ? modelURL.appendingPathComponent(DiscriminativeAdapter.componentName).path : nil)
        if let target {
            try trainer.saveAdapter(to: ComponentFolder(URL(fileURLWithPath: target)))
            trainer.output("adapter installed in \(target)")
        }
    }
}

TrainAdapter.main()

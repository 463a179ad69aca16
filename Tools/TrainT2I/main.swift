// train-t2i: trains the bundled text-to-image model (BPE tokenizer, CLIP text encoder, SD U-Net in pixel space) on
// ShapesWorld's train split. The logic lives in Packages/T2ITraining; this file only parses flags.
import ArgumentParser
import DataIO
import Foundation
import T2ITraining
import ToolSupport

struct TrainT2I: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train-t2i",
        abstract: "Train a small Stable-Diffusion-style text-to-image model on ShapesWorld (resumable).",
        discussion: """
            Defaults are the bundled model's (Models/shapes-t2i). Any config key can be set with --set KEY=VALUE \
            (JSON values: --set block_out_channels=[32,64,64]) or a JSON file (--config); known keys: \
            \(T2IConfig.keys.joined(separator: ", ")).
            Run folder: train_config.json, tokenizer/, checkpoints/, metrics.jsonl, loss.png, samples/, text-separation.png (the text encoder separation of colour, shape, size and relation words at every sample grid), and model/ at the end.
            """)

    @Option(name: .long, help: "Run folder (checkpoints, logs, samples, final model).")
    var out: String = "runs/shapes-t2i"
    @OptionGroup var runOptions: RunOptions
    @Option(name: .long, help: "Total optimisation steps.")
    var steps: Int?
    @Option(name: .customLong("batch-size"), help: "Images per step.")
    var batchSize: Int?
    @Option(name: .customLong("learning-rate"), help: "Peak AdamW learning rate.")
    var learningRate: Double?
    @Option(name: .long, help: "Seed of the world, the initial weights and every random draw.")
    var seed: UInt64?
    @Option(name: .customLong("checkpoint-every"), help: "Steps between checkpoints.")
    var checkpointEvery: Int?
    @Option(name: .customLong("sample-every"), help: "Steps between sample grids (0: only at the end).")
    var sampleEvery: Int?

    /// Every number is checked before a file is read (config keys again in `T2IConfig.validate`).
    func validate() throws {
        try OptionCheck.integer("--steps", steps, .atLeast(1))
        try OptionCheck.integer("--batch-size", batchSize, .within(1...OptionCheck.maxCount))
        try OptionCheck.number("--learning-rate", learningRate, .above(0))
        try OptionCheck.configSeed("--seed", seed)
        try OptionCheck.integer("--checkpoint-every", checkpointEvery, .atLeast(1))
        try OptionCheck.integer("--sample-every", sampleEvery, .atLeast(0))
    }

    func run() throws {
        let (resume, config) = (runOptions.resume, runOptions.config)
        let runURL = URL(fileURLWithPath: out)
        var cfg = T2IConfig()
        let saved = runURL.appendingPathComponent("train_config.json")
        if resume, FileManager.default.fileExists(atPath: saved.path) { cfg = try T2IConfig.load(contentsOf: saved) }
        if let config { cfg = try T2IConfig.load(contentsOf: URL(fileURLWithPath: config), base: cfg) }
        var over: [String: JSONValue] = [:]
        if let steps { over["steps"] = .int(steps) }
        if let batchSize { over["batch_size"] = .int(batchSize) }
        if let learningRate { over["learning_rate"] = .double(learningRate) }
        if let seed { over["seed"] = .int(Int(seed)) }
        if let checkpointEvery { over["checkpoint_every"] = .int(checkpointEvery) }
        if let sampleEvery { over["sample_every"] = .int(sampleEvery) }
        cfg = try T2IConfig.decode(overrides: .object(try runOptions.overrides(over)), base: cfg)
        try cfg.validate()
        if runOptions.printConfig {
            print(try cfg.json().serialized())
            return
        }
        let trainer = try T2ITrainer(config: cfg, runDirectory: runURL, resume: resume)
        try trainer.run(stopAfter: runOptions.stopAfter)
    }
}

TrainT2I.main()

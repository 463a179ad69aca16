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
    @Flag(name: .long, help: "Continue from the newest complete checkpoint in --out (same data order and optimiser state).")
    var resume = false
    @Option(name: .long, help: "JSON file with any subset of the config keys.")
    var config: String?
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
    @Option(name: .customLong("set"), parsing: .singleValue, help: "KEY=VALUE config override (repeatable; JSON value).")
    var sets: [String] = []
    @Option(name: .customLong("stop-after"), help: "Stop after this many steps in total (checkpointing there), as if interrupted.")
    var stopAfter: Int?
    @Flag(name: .customLong("print-config"), help: "Print the resolved config as JSON and exit.")
    var printConfig = false

    /// Every number is checked before a file is read (config keys again in `T2IConfig.validate`).
    func validate() throws {
        try OptionCheck.integer("--steps", steps, .atLeast(1))
        try OptionCheck.integer("--batch-size", batchSize, .within(1...OptionCheck.maxCount))
        try OptionCheck.number("--learning-rate", learningRate, .above(0))
        try OptionCheck.configSeed("--seed", seed)
        try OptionCheck.integer("--checkpoint-every", checkpointEvery, .atLeast(1))
        try OptionCheck.integer("--sample-every", sampleEvery, .atLeast(0))
        try OptionCheck.integer("--stop-after", stopAfter, .atLeast(1))
        _ = try ConfigOverrides.parse(sets)
        if let config { try ConfigOverrides.checkFile(config) }
    }

    func run() throws {
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
        over.merge(try ConfigOverrides.parse(sets)) { _, set in set }
        cfg = try T2IConfig.decode(overrides: .object(over), base: cfg)
        try cfg.validate()
        if printConfig {
            print(try cfg.json().serialized())
            return
        }
        let trainer = try T2ITrainer(config: cfg, runDirectory: runURL, resume: resume)
        try trainer.run(stopAfter: stopAfter)
    }
}

TrainT2I.main()

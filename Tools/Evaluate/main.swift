// evaluate: discriminative evaluation of trained DPT adapters (ITM text/image accuracy, REC precision@1 with 95%
// intervals, per split and category), the probing sweep over U-Net taps x timesteps, and the generation evaluation
// (ShapesWorld prompt suites judged image by image, per variant: base, LoRA, self-correction) with its merged
// report. The logic lives in Packages/Evaluation; this file only parses flags.
import AdapterTraining
import ArgumentParser
import DataIO
import DiscriminativeAdapter
import Evaluation
import Foundation
import Pipeline
import SelfCorrection
import ShapesWorld
import ToolSupport

struct Evaluate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "evaluate",
        abstract: "Evaluate text-to-image models and their DPT adapters.",
        subcommands: [Discriminative.self, Sweep.self, SweepCompare.self, Generation.self, GenerationReportCommand.self])
}

func parseSplits(_ list: String) throws -> [Split] {
    try list.split(separator: ",").map { name in
        guard let s = Split(rawValue: String(name)) else {
            throw ValidationError("unknown split '\(name)'; splits: \(Split.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return s
    }
}

func stderrLine(_ s: String) { FileHandle.standardError.write(Data((s + "\n").utf8)) }

struct Discriminative: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "ITM text/image accuracy (2-way vs hard negative) and REC P@1 (IoU >= 0.5), with 95% Wilson intervals.",
        discussion: """
            Each --adapter is loaded with the U-Net it was trained on: the model's, or for a control adapter (trained \
            with --random-unet-seed) the same random U-Net rebuilt from the seed in its weights file. Prints markdown \
            tables (overall with the chance line, per category, per hard-negative kind); --out also writes them and a JSON file.
            """)

    @Option(name: .long, help: "Text-to-image model folder (diffusers layout).")
    var model: String = "Models/shapes-t2i"
    @Option(name: .long, parsing: .singleValue, help: "Adapter folder (repeatable; default <model>/adapter).")
    var adapter: [String] = []
    @Option(name: .long, parsing: .singleValue, help: "U-Net LoRA folder per --adapter, in order ('none' for no LoRA); stage-2 adapters are evaluated with their LoRA merged.")
    var lora: [String] = []
    @Option(name: .long, help: "Comma-separated splits.")
    var split: String = "test-id,test-ood"
    @Option(name: .customLong("t"), parsing: .singleValue, help: "Timestep of the noisy latents (repeatable: one row per timestep, the same samples and noise; default T/2).")
    var timestep: [Int] = []
    @Option(name: .long, help: "Samples per split.")
    var count: Int = 1000
    @Option(name: .long, help: "Seed of the negatives, expressions and noise of the evaluation set.")
    var seed: UInt64 = 0
    @Option(name: .customLong("world-seed"), help: "ShapesWorld generator seed.")
    var worldSeed: UInt64 = 0
    @Option(name: .customLong("batch-size"), help: "Samples per forward batch (4 U-Net passes each).")
    var batchSize: Int = 16
    @Option(name: .long, help: "Write the tables to this markdown file (and <name>.json next to it).")
    var out: String?
    @Option(name: .customLong("baseline-samples"), help: "Training samples whose referents fit REC's constant-box baselines.")
    var baselineSamples: Int = 2000

    /// Numbers are checked before any model is loaded; `--t` again against the model's T once it is.
    func validate() throws {
        try OptionCheck.integer("--baseline-samples", baselineSamples, .within(1...OptionCheck.maxCount))
        for t in timestep { try OptionCheck.integer("--t", t, .atLeast(0)) }
        try OptionCheck.integer("--count", count, .within(1...OptionCheck.maxCount))
        try OptionCheck.integer("--batch-size", batchSize, .within(1...OptionCheck.maxCount))
    }

    func run() throws {
        let splits = try parseSplits(split)
        // The folder of --out exists before the evaluation runs, not only when its tables are written.
        if let out { try FileManager.default.createDirectory(at: URL(fileURLWithPath: out).deletingLastPathComponent(), withIntermediateDirectories: true) }
        let modelURL = URL(fileURLWithPath: model)
        let adapters = adapter.isEmpty ? [modelURL.appendingPathComponent(DiscriminativeAdapter.componentName)] : adapter.map { URL(fileURLWithPath: $0) }
        var rows: [(label: String, evaluation: SplitEvaluation)] = []
        var json: [JSONValue] = []
        guard lora.isEmpty || lora.count == adapters.count else {
            throw ValidationError("--lora: give one per --adapter (\(adapters.count)), 'none' where there is none; got \(lora.count)")
        }
        var baselines: RECBaselines?
        for (i, dir) in adapters.enumerated() {
            let loraURL = lora.isEmpty || lora[i] == "none" ? nil : URL(fileURLWithPath: lora[i])
            let (pm, dm) = try TrainedAdapter.load(model: modelURL, adapterFolder: dir, lora: loraURL)
            let taps = dm.adapter.config.featureTaps.joined(separator: "+")
            var label = pm.randomUNetSeed.map { "random-U-Net control (seed \($0)), \(taps)" }
                ?? (loraURL != nil ? "stage-2 (DPT) adapter + LoRA, \(taps)" : "stage-1 adapter, \(taps)")
            if adapters.count > 1 { label += " (`\(dir.relativePath)`)" }   // several adapters: tell the rows apart
            let ts = timestep.isEmpty ? [pm.numTrainTimesteps / 2] : timestep
            for t in ts { try OptionCheck.integer("--t", t, .within(0..<pm.numTrainTimesteps)) }
            if baselines == nil { baselines = RECBaselines.fit(world: pm.world(seed: worldSeed), count: baselineSamples) }
            for s in splits {
                let start = Date()
                stderrLine("\(label): preparing \(count) \(s.rawValue) samples")
                let set = try EvaluationSet.make(model: pm, world: pm.world(seed: worldSeed), split: s, count: count, seed: seed, batchSize: batchSize)
                for t in ts {
                    let e = try DiscriminativeEvaluator.evaluate(model: dm, set: set, timestep: t, schedule: pm.schedule,
                                                                 baselines: baselines) { done, total in
                        stderrLine("  \(s.rawValue) t \(t) \(done)/\(total) (\(Int(Date().timeIntervalSince(start))) s)")
                    }
                    rows.append((label, e))
                    json.append(.object(["label": .string(label), "adapter": .string(dir.lastPathComponent), "evaluation": e.json]))
                }
            }
        }
        var md = "## Discriminative evaluation: \(modelURL.lastPathComponent)\n\n"
        md += "Command: `swift run -c release evaluate discriminative --model \(model)\(adapter.map { " --adapter \($0)" }.joined())\(lora.map { " --lora \($0)" }.joined()) --split \(split)\(timestep.map { " --t \($0)" }.joined()) --count \(count)`\n\n"
        md += EvaluationReport.overallTable(rows) + "\n"
        for (label, e) in rows { md += EvaluationReport.categoryTable(label: label, e) + "\n" }
        for (label, e) in rows { md += EvaluationReport.negativeKindTable(label: label, e) + "\n" }
        print(md)
        if let out {
            let url = URL(fileURLWithPath: out)
            try AtomicFile.write(Data(md.utf8), to: url)
            try AtomicFile.write(Data((JSONValue.array(json).serialized() + "\n").utf8), to: url.deletingPathExtension().appendingPathExtension("json"))
            stderrLine("wrote \(url.path) and its .json")
        }
    }
}

struct Sweep: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Probing sweep: one short adapter per U-Net tap, evaluated at several timesteps; table + heatmap PNG.",
        discussion: """
            Output folder: tap-<name>/ (a resumable train-adapter run per tap; finished taps are reused), sweep.json, \
            sweep.md, heatmap.png. --random-unet-seed runs the same sweep on a random U-Net (the control).
            """)

    @Option(name: .long, help: "Text-to-image model folder (diffusers layout).")
    var model: String = "Models/shapes-t2i"
    @Option(name: .long, help: "Output folder (default runs/sweep, or runs/sweep-control with --random-unet-seed).")
    var out: String?
    @Option(name: .long, help: "Comma-separated taps (default: every tap of the U-Net, down0 .. mid .. upN).")
    var taps: String?
    @Option(name: .long, help: "Comma-separated evaluation timesteps (default: 5 spread over 0..T: 100,300,500,700,900).")
    var timesteps: String?
    @Option(name: .long, help: "Training steps per tap.")
    var steps: Int = 100
    @Option(name: .customLong("batch-size"), help: "Training samples per step.")
    var batchSize: Int = 4
    @Option(name: .long, help: "Evaluation samples.")
    var count: Int = 200
    @Option(name: .long, help: "Evaluation split.")
    var split: String = "test-id"
    @Option(name: .customLong("random-unet-seed"), help: "Sweep a random U-Net of the same architecture (control).")
    var randomUNetSeed: UInt64?
    @Option(name: .long, help: "JSON file with training config keys for every tap (feature_taps is replaced).")
    var config: String?

    /// Numbers are checked before any model is loaded; `--timesteps` again against the model's T once it is.
    func validate() throws {
        try OptionCheck.integer("--steps", steps, .atLeast(1))
        try OptionCheck.integer("--batch-size", batchSize, .within(1...OptionCheck.maxCount))
        try OptionCheck.integer("--count", count, .within(1...OptionCheck.maxCount))
        try OptionCheck.configSeed("--random-unet-seed", randomUNetSeed)
        _ = try parseTimesteps(numTrainTimesteps: nil)
        if let config { try ConfigOverrides.checkFile(config) }
    }

    /// `--timesteps` as integers in 0..<T (T unknown before the model is loaded: only >= 0).
    func parseTimesteps(numTrainTimesteps: Int?) throws -> [Int]? {
        let bounds: Bounds<Int> = numTrainTimesteps.map { .within(0..<$0) } ?? .atLeast(0)
        return try timesteps.map { list in
            try list.split(separator: ",").map { try OptionCheck.parseInteger("--timesteps", String($0), bounds) }
        }
    }

    func run() throws {
        var base = ProbeConfig()
        if let config { base = try ProbeConfig.load(contentsOf: URL(fileURLWithPath: config)) }
        base.steps = steps
        base.batchSize = batchSize
        base.randomUNetSeed = randomUNetSeed
        base.checkpointEvery = max(1, min(base.checkpointEvery, steps / 2))
        let splits = try parseSplits(split)
        guard splits.count == 1 else { throw ValidationError("--split: the sweep evaluates one split") }
        let pm = try ProbeModel(folder: URL(fileURLWithPath: model), randomUNetSeed: randomUNetSeed)
        let ts = try parseTimesteps(numTrainTimesteps: pm.numTrainTimesteps)
            ?? ProbingSweep.evenTimesteps(5, numTrainTimesteps: pm.numTrainTimesteps)
        let tapList = try taps.map { try $0.split(separator: ",").map(String.init).flatMap { try FeatureTaps.parse($0) } }
        let sweep = ProbingSweep(base: base, taps: tapList, timesteps: ts, split: splits[0], count: count)
        let outURL = URL(fileURLWithPath: out ?? (randomUNetSeed == nil ? "runs/sweep" : "runs/sweep-control"))
        let r = try sweep.run(model: pm, output: outURL, log: stderrLine)
        print(r.markdown)
        stderrLine("wrote \(outURL.path)/sweep.md, sweep.json, heatmap.png")
    }
}

struct SweepCompare: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sweep-compare",
        abstract: "Trained minus control, cell by cell, of two finished sweeps (table + heatmap PNG).",
        discussion: "Reads <trained>/sweep.json and <control>/sweep.json (the same taps and timesteps); writes <out>.md and <out>.png.")

    @Option(name: .long, help: "Folder of the trained-U-Net sweep.")
    var trained: String
    @Option(name: .long, help: "Folder of the random-U-Net (control) sweep.")
    var control: String
    @Option(name: .long, help: "Output path without extension (writes .md and .png).")
    var out: String

    func run() throws {
        let a = URL(fileURLWithPath: trained).appendingPathComponent("sweep.json")
        let b = URL(fileURLWithPath: control).appendingPathComponent("sweep.json")
        let cmp = try SweepComparison(trained: try SweepComparison.load(a), control: try SweepComparison.load(b))
        let md = "# Probing map: trained U-Net minus random-U-Net control\n\nCommand: `swift run -c release evaluate sweep-compare "
            + "--trained \(trained) --control \(control) --out \(out)`\n\nIntervals treat the two sweeps as independent (they score "
            + "the same samples, so a paired interval would be narrower).\n\n" + cmp.markdown
        let outURL = URL(fileURLWithPath: out)
        try FileManager.default.createDirectory(at: outURL.deletingLastPathComponent(), withIntermediateDirectories: true)
        try AtomicFile.write(Data(md.utf8), to: outURL.appendingPathExtension("md"))
        try cmp.figure(title: "PROBING MAP: TRAINED - RANDOM U-NET (POINTS)",
                       notes: ["ROWS: U-NET TAP, COLUMNS: TIMESTEP T", "COLOUR RANGE -10 .. +50 POINTS"])
            .write(to: outURL.appendingPathExtension("png"))
        print(cmp.markdown)
        stderrLine("wrote \(outURL.path).md and .png")
    }
}

struct Generation: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Sample a ShapesWorld prompt suite with one variant and judge every image (all-pass per category, 95% CI).",
        discussion: """
            Prompts: the first --prompts-per-category of each category of the suite (default all 60); image j of every \
            prompt starts from seed j, so variants are compared on the same initial noise. Writes <out>/<variant>-<suite>.json \
            (every verdict, per-category summaries, seconds per image) and <out>/<variant>-<suite>-<category>.png, and prints \
            the table. A LoRA in <model>/unet_lora is merged unless --no-lora or --lora DIR. Steps and guidance default to \
            sample_steps / guidance_scale of <model>/train_config.json (else 20 and 3). Merge several runs with \
            `evaluate generation-report`.
            """)

    @Option(name: .long, help: "Text-to-image model folder (diffusers layout).")
    var model: String = "Models/shapes-t2i"
    @Option(name: .long, help: "Variant name: labels the results (e.g. base, lora, sc-eta0.5); letters, digits, . _ -.")
    var variant: String
    @OptionGroup var variantOptions: VariantOptions
    @Option(name: .long, help: "Prompt suite: id or ood.")
    var suite: String
    @Option(name: .customLong("prompts-per-category"), help: "First N prompts of each category (default: all 60).")
    var promptsPerCategory: Int?
    @Option(name: .customLong("images-per-prompt"), help: "Images (seeds 0..<n) per prompt.")
    var imagesPerPrompt: Int = 4
    @OptionGroup var sampling: SamplingOptions
    @Option(name: .long, help: "Images per pipeline call.")
    var batch: Int = 16
    @Option(name: .long, help: "Output folder.")
    var out: String

    func validate() throws {
        try OptionCheck.integer("--prompts-per-category", promptsPerCategory, .within(1...OptionCheck.maxCount))
        try OptionCheck.integer("--images-per-prompt", imagesPerPrompt, .within(1...OptionCheck.maxCount))
        try OptionCheck.integer("--batch", batch, .within(1...OptionCheck.maxCount))
        try GenerationSubject.validate(name: variant)
        guard PromptSuite.Name(rawValue: suite) != nil else {
            throw ValidationError("--suite '\(suite)' is unknown; suites: \(PromptSuite.Name.allCases.map(\.rawValue).joined(separator: ", "))")
        }
    }

    func run() throws {
        let modelURL = URL(fileURLWithPath: model)
        let v = try variantOptions.variant(name: variant)
        let (steps, guidance) = try sampling.resolve(model: modelURL, fallback: (20, 3))
        let settings = GenerationEvaluation.Settings(promptsPerCategory: promptsPerCategory, imagesPerPrompt: imagesPerPrompt,
                                                     steps: steps, guidanceScale: guidance, guidanceRescale: sampling.guidanceRescale,
                                                     batch: batch)
        try settings.validate()
        let promptSuite = try PromptSuite.load(PromptSuite.Name(rawValue: suite)!)
        let loaded = try v.load(model: modelURL)
        stderrLine("\(variant): \(modelURL.lastPathComponent), LoRA \(loaded.loraFolder?.path ?? "none"), "
            + (loaded.corrector.map { "self-correction \($0.settings.eta) \($0.settings.mode.rawValue) with \(loaded.adapterFolder!.path)" } ?? "no self-correction")
            + "; suite \(suite), \(settings.steps) steps, guidance \(settings.guidanceScale)")
        let start = Date()
        let subject = GenerationSubject(name: variant, pipeline: loaded.pipeline, corrector: loaded.corrector, loraFolder: loaded.loraFolder,
                                        adapterFolder: loaded.adapterFolder, randomUNetSeed: loaded.scorer?.randomUNetSeed)
        let output = try GenerationEvaluation.run(subject, model: modelURL, suite: promptSuite, settings: settings) { done, total in
            let elapsed = Date().timeIntervalSince(start)
            stderrLine(String(format: "  %@ %d/%d images (%.0f s, %.2f s/image)", suite, done, total, elapsed, elapsed / Double(max(done, 1))))
        }
        let json = try GenerationEvaluation.write(output, to: URL(fileURLWithPath: out))
        print(GenerationEvaluation.markdownTable(output.result))
        stderrLine("wrote \(json.path) and \(output.grids.count) grid PNGs")
    }
}

struct GenerationReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generation-report",
        abstract: "Merge every generation result JSON in a folder into one markdown report.",
        discussion: """
            Per suite: variants x categories (all-pass % with 95% intervals), and for each variant that shares prompts \
            and seeds with the base variant, the paired all-pass difference with a 95% paired-bootstrap interval over \
            prompts; plus seconds per image per variant.
            """)

    @Option(name: .long, help: "Folder of <variant>-<suite>.json results.")
    var results: String
    @Option(name: .long, help: "Markdown file to write.")
    var out: String
    @Option(name: .long, help: "The variant the others are compared with.")
    var base: String = "base"
    @Option(name: .long, help: "Bootstrap resamples of the paired difference.")
    var resamples: Int = 2000
    @Option(name: .long, help: "Bootstrap seed.")
    var seed: UInt64 = 0

    func validate() throws {
        try OptionCheck.integer("--resamples", resamples, .within(1...OptionCheck.maxCount))
    }

    func run() throws {
        let all = try GenerationReport.loadResults(in: URL(fileURLWithPath: results))
        let md = GenerationReport.markdown(all, base: base, resamples: resamples, seed: seed)
        print(md)
        let outURL = URL(fileURLWithPath: out)
        try FileManager.default.createDirectory(at: outURL.deletingLastPathComponent(), withIntermediateDirectories: true)
        try AtomicFile.write(Data(md.utf8), to: outURL)
        stderrLine("wrote \(out) from \(all.count) result(s)")
    }
}

Evaluate.main()

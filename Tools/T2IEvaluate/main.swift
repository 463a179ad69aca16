// t2i-evaluate: samples a ShapesWorld prompt suite with a model folder and judges every image (the base-model tables
// of Docs/RESULTS.md), through the same generation evaluation as every DPT variant (Packages/Evaluation), plus the
// text encoder's separation (Packages/T2ITraining). This file only parses flags and writes the files.
import ArgumentParser
import DataIO
import Evaluation
import Foundation
import Pipeline
import ShapesWorld
import T2ITraining
import ToolSupport

struct T2IEvaluate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "t2i-evaluate",
        abstract: "Sample a prompt suite with a text-to-image model folder and judge every image.",
        discussion: """
            Writes <out>/<suite>.json (every verdict), <out>/<suite>.md (the table, and the failed images by what \
            they got wrong: count, size, relation, unparseable), <out>/<suite>-<category>.png \
            grids (first --grid-prompts prompts of each category, one row per prompt) and <out>/text-separation.md \
            (how far the text encoder puts prompts that differ in one attribute; 0 = the encoder ignores the word).
            """)

    @Option(help: "Model folder (diffusers layout).")
    var model: String
    @Option(help: "Prompt suite: id or ood.")
    var suite: String = "id"
    @Option(name: .customLong("prompts-per-category"), help: "The first N prompts of each category (default: all).")
    var promptsPerCategory: Int?
    @Option(name: .customLong("images-per-prompt"), help: "Images per prompt (seeds 0..<N).")
    var imagesPerPrompt: Int = 4
    @OptionGroup var sampling: SamplingOptions
    @Option(help: "Images per U-Net call.")
    var batch: Int = 32
    @Option(name: .customLong("grid-prompts"), help: "Prompts per category in the grid PNGs.")
    var gridPrompts: Int = 6
    @Option(help: "Comma-separated categories to keep (default: all), e.g. single,spatial.")
    var categories: String?
    @Option(help: "Output folder.")
    var out: String = "runs/eval"

    /// Every number is checked before the model is loaded.
    func validate() throws {
        guard PromptSuite.Name(rawValue: suite) != nil else { throw ValidationError("--suite must be id or ood, not \(suite)") }
        try OptionCheck.integer("--prompts-per-category", promptsPerCategory, .within(1...OptionCheck.maxCount))
        try OptionCheck.integer("--images-per-prompt", imagesPerPrompt, .within(1...OptionCheck.maxCount))
        try OptionCheck.integer("--batch", batch, .within(1...OptionCheck.maxCount))
        try OptionCheck.integer("--grid-prompts", gridPrompts, .within(0...OptionCheck.maxCount))
    }

    func run() throws {
        let suiteName = PromptSuite.Name(rawValue: suite)!
        let modelURL = URL(fileURLWithPath: model)
        let t2i = try T2IModel.load(from: modelURL)
        let (steps, guidance) = try sampling.resolve(model: modelURL, fallback: (20, 3))
        let guidanceRescale = sampling.guidanceRescale
        let outURL = URL(fileURLWithPath: out)
        try FileManager.default.createDirectory(at: outURL, withIntermediateDirectories: true)
        var prompts = try PromptSuite.load(suiteName)
        if let categories {
            var wanted: [Category] = []
            for name in categories.split(separator: ",").map({ String($0).trimmingCharacters(in: .whitespaces) }) {
                guard let c = Category(rawValue: name) else {
                    throw ValidationError("--categories: unknown category \(name); known: \(Category.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                wanted.append(c)
            }
            prompts.prompts = prompts.prompts.filter { wanted.contains($0.category) }
        }

        let separation = TextEncoderSeparation.markdownTable(try TextEncoderSeparation.measure(model: t2i))
        try AtomicFile.write(Data(separation.utf8), to: outURL.appendingPathComponent("text-separation.md"))
        print("text encoder separation (0 = the encoder ignores the word):")
        print(separation)

        let t0 = Date()
        let settings = GenerationEvaluation.Settings(promptsPerCategory: promptsPerCategory, imagesPerPrompt: imagesPerPrompt,
                                                     steps: steps, guidanceScale: guidance, guidanceRescale: guidanceRescale,
                                                     batch: batch, gridPrompts: gridPrompts)
        let subject = GenerationSubject(name: "base", pipeline: try StableDiffusionPipeline(components: t2i.components))
        let output = try GenerationEvaluation.run(subject, model: modelURL, suite: prompts, settings: settings) { done, total in
            let dt = Date().timeIntervalSince(t0)
            FileHandle.standardError.write(Data(String(format: "%d/%d images  %.1f img/s  ETA %.0f s\n", done, total,
                                                       Double(done) / dt, dt / Double(done) * Double(total - done)).utf8))
        }
        let result = output.result
        try AtomicFile.write(try GenerationEvaluation.encode(result), to: outURL.appendingPathComponent("\(suiteName.rawValue).json"))
        let table = GenerationEvaluation.markdownTable(result) + "\nFailed images by what they got wrong:\n\n"
            + GenerationEvaluation.failureTable(result)
        try AtomicFile.write(Data((table + "\n").utf8), to: outURL.appendingPathComponent("\(suiteName.rawValue).md"))
        for g in output.grids { try PNG.write(g.image, to: outURL.appendingPathComponent("\(suiteName.rawValue)-\(g.category).png")) }
        print("suite \(suiteName.rawValue): \(result.images.count) images, \(steps) steps, guidance \(guidance)"
              + (guidanceRescale > 0 ? " rescaled \(guidanceRescale)" : "")
              + ", \(result.scheduler), \(String(format: "%.0f", Date().timeIntervalSince(t0))) s")
        print(table)
    }
}

T2IEvaluate.main()

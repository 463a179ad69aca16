// demo (`make demo`): samples two prompts of every ShapesWorld category with the bundled text-to-image model
// (Models/shapes-t2i), writes a grid PNG and prints the exact judge's verdict for each image.
import ArgumentParser
import DataIO
import Foundation
import ShapesWorld
import T2ITraining
import Tensor
import ToolSupport

struct Demo: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Sample the first prompts of every ShapesWorld category with a model folder and judge each image.",
        discussion: """
            Seed 0 for every image; steps and guidance default to the model's train_config.json (else 20 and 3). \
            Writes <out>/grid.png (row-major, prompts in the printed order).
            """)

    @Option(help: "Model folder (diffusers layout). Default: the bundled model \(ModelOptions.bundledModel).") var model: String?
    @Option(help: "Output folder.") var out: String = "out/demo"
    @OptionGroup var sampling: SamplingOptions
    @Option(name: .customLong("per-category"), help: "Prompts per category (the first N of the id suite).") var perCategory: Int = 2

    func validate() throws {
        try OptionCheck.integer("--per-category", perCategory, .within(1...OptionCheck.maxCount))
    }

    func run() throws {
        let modelURL = try ModelOptions.modelFolder(model)
        guard FileManager.default.fileExists(atPath: modelURL.appendingPathComponent("model_index.json").path) else {
            throw ValidationError("no model folder at \(modelURL.path) (model_index.json missing); train one with `swift run -c release train-t2i` or pass --model DIR")
        }
        let (steps, guidance) = try sampling.resolve(model: modelURL, fallback: (20, 3))
        let t0 = Date()
        let model = try T2IModel.load(from: modelURL)
        let side = model.components.imageSide
        let suite = try PromptSuite.load(.id)
        let prompts = suite.firstPrompts(perCategory: perCategory)
        print("model \(modelURL.lastPathComponent): \(model.parameterCount) parameters; \(prompts.count) prompts of the id suite, seed 0, \(model.scheduler.className) \(steps) steps, guidance \(guidance)")
        let images = try model.sample(prompts: prompts.map(\.text), seeds: Array(repeating: 0, count: prompts.count),
                                      steps: steps, guidanceScale: guidance, guidanceRescale: sampling.guidanceRescale, imageSize: side)
        let judge = Judge(config: .square(side))
        var passed = 0
        for (i, p) in prompts.enumerated() {
            let v = judge.judge(try RGBImage(tensor: images.selecting(axis: 0, index: i).contiguous()), p.meaning)
            if v.allPassed { passed += 1 }
            let detail: String
            if !v.parseable {
                detail = "unparseable: " + v.problems.prefix(3).joined(separator: "; ") + (v.problems.count > 3 ? "; ..." : "")
            } else {
                detail = v.constraints.map { "\($0.passed ? "ok" : "FAIL") \($0.description) (seen \($0.observed))" }.joined(separator: ", ")
            }
            let category = p.category.rawValue.padding(toLength: 14, withPad: " ", startingAt: 0)
            print("\(String(format: "%2d", i + 1)) \(v.allPassed ? "PASS" : "fail") \(category) \(p.text)\n      \(detail)")
        }
        let outURL = URL(fileURLWithPath: out)
        try FileManager.default.createDirectory(at: outURL, withIntermediateDirectories: true)
        let gridURL = outURL.appendingPathComponent("grid.png")
        try PNG.write(try ImageGrid.make(batch: Tensor.upsampleNearest(images, scale: 4), columns: perCategory * 2, margin: 4), to: gridURL)
        print("\(passed)/\(prompts.count) images pass every constraint; grid (row-major, prompts in the order above): \(gridURL.path)")
        print(String(format: "%.1f s", Date().timeIntervalSince(t0)))
    }
}

Demo.main()

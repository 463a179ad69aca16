// demo (`make demo`): samples two prompts of every ShapesWorld category with the bundled text-to-image model
// (Models/shapes-t2i), writes a grid PNG and prints the exact judge's verdict for each image.
// Usage: swift run -c release demo [--model DIR] [--out DIR] [--steps S >= 1] [--guidance G >= 0] (default: the model's
// train_config.json, else 20 and 3) [--per-category N >= 1, default 2]
import DataIO
import Foundation
import ShapesWorld
import T2ITraining
import Tensor
import ToolSupport

func fail(_ m: String) -> Never {
    FileHandle.standardError.write(Data("demo: \(m)\n".utf8))
    exit(2)
}

/// The repository root: three levels above this file (Tools/Demo/main.swift), so the demo finds the bundled model
/// from any working directory.
let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
var opts: [String: String] = [:]
var args = Array(CommandLine.arguments.dropFirst())
while !args.isEmpty {
    let a = args.removeFirst()
    guard a.hasPrefix("--"), let v = args.first else { fail("expected --option value, got '\(a)'") }
    args.removeFirst()
    opts[String(a.dropFirst(2))] = v
}
let known: Set = ["model", "out", "steps", "guidance", "per-category"]
if let bad = opts.keys.first(where: { !known.contains($0) }) { fail("unknown option --\(bad); options: \(known.sorted().map { "--" + $0 }.joined(separator: ", "))") }
// The numbers given are checked before any file is read (steps <= T is the scheduler's check).
let givenSteps: Int?, givenGuidance: Float?, perCategory: Int
do {
    givenSteps = try opts["steps"].map { try OptionCheck.parseInteger("--steps", $0, .atLeast(1)) }
    givenGuidance = try opts["guidance"].map { try OptionCheck.parseNumber("--guidance", $0, .atLeast(0)) }
    perCategory = try OptionCheck.parseInteger("--per-category", opts["per-category"] ?? "2", .within(1...OptionCheck.maxCount))
} catch { fail("\(error)") }
let modelURL = opts["model"].map { URL(fileURLWithPath: $0) } ?? repoRoot.appendingPathComponent("Models/shapes-t2i")
let outURL = URL(fileURLWithPath: opts["out"] ?? "out/demo")
// Sampling settings: the model's train_config.json (what train-t2i sampled with), else 20 steps and guidance 3.
let defaults: (steps: Int, guidanceScale: Float)
do { defaults = try T2IConfig.samplingDefaults(modelFolder: modelURL) ?? (20, 3) } catch { fail("\(error)") }
let steps = givenSteps ?? defaults.steps
let guidance = givenGuidance ?? defaults.guidanceScale
do {
    try OptionCheck.integer("sample_steps of \(modelURL.path)/train_config.json", steps, .atLeast(1))
    try OptionCheck.number("guidance_scale of \(modelURL.path)/train_config.json", guidance, .atLeast(0))
} catch { fail("\(error)") }
guard FileManager.default.fileExists(atPath: modelURL.appendingPathComponent("model_index.json").path) else {
    fail("no model folder at \(modelURL.path) (model_index.json missing); train one with `swift run -c release train-t2i` or pass --model DIR")
}

let t0 = Date()
let model = try T2IModel.load(from: modelURL)
let side = model.unet.config.sampleSize?.perBlock(1).first ?? 32
let suite = try PromptSuite.load(.id)
var prompts: [PromptSuite.Prompt] = []
var taken: [String: Int] = [:]
for p in suite.prompts where taken[p.category.rawValue, default: 0] < perCategory {
    taken[p.category.rawValue, default: 0] += 1
    prompts.append(p)
}
print("model \(modelURL.lastPathComponent): \(model.parameterCount) parameters; \(prompts.count) prompts of the id suite, seed 0, \(model.scheduler.className) \(steps) steps, guidance \(guidance)")
let images = try T2ISampler.sample(model: model, prompts: prompts.map(\.text), seeds: Array(repeating: 0, count: prompts.count),
                                   steps: steps, guidanceScale: guidance, imageSize: side, batchSize: 16)
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
try FileManager.default.createDirectory(at: outURL, withIntermediateDirectories: true)
let gridURL = outURL.appendingPathComponent("grid.png")
try PNG.write(try ImageGrid.make(batch: Tensor.upsampleNearest(images, scale: 4), columns: perCategory * 2, margin: 4), to: gridURL)
print("\(passed)/\(prompts.count) images pass every constraint; grid (row-major, prompts in the order above): \(gridURL.path)")
print(String(format: "%.1f s", Date().timeIntervalSince(t0)))

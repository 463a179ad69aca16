// Samples a ShapesWorld prompt suite with a model folder and judges every image (the baseline of Docs/RESULTS.md).
// Usage: t2i-evaluate --model DIR --suite id|ood [--prompts-per-category N] [--images-per-prompt 4] [--steps S]
//                     [--guidance G (default: the model's train_config.json, else 3)] [--guidance-rescale R (0...1, default 0)] [--batch B] [--categories single,spatial,...] [--out DIR]
// Writes <out>/<suite>.json (every verdict), <out>/<suite>.md (the table), <out>/<suite>-<category>.png grids and
// <out>/text-separation.md (how far the text encoder puts prompts differing in one attribute; TextEncoderSeparation).
import DataIO
import Foundation
import ShapesWorld
import T2ITraining
import Tensor

func fail(_ m: String) -> Never {
    FileHandle.standardError.write(Data("t2i-evaluate: \(m)\n".utf8))
    exit(2)
}

var opts: [String: String] = [:]
var args = Array(CommandLine.arguments.dropFirst())
while !args.isEmpty {
    let a = args.removeFirst()
    guard a.hasPrefix("--"), let v = args.first else { fail("expected --option value, got \(a)") }
    args.removeFirst()
    opts[String(a.dropFirst(2))] = v
}
let known: Set = ["model", "suite", "prompts-per-category", "images-per-prompt", "steps", "guidance", "guidance-rescale", "batch", "out", "grid-prompts", "categories"]
if let bad = opts.keys.first(where: { !known.contains($0) }) { fail("unknown option --\(bad); known: \(known.sorted().joined(separator: ", "))") }
guard let modelPath = opts["model"] else { fail("--model DIR is required") }
guard let suiteName = PromptSuite.Name(rawValue: opts["suite"] ?? "id") else { fail("--suite must be id or ood") }
func int(_ k: String) -> Int? {
    guard let v = opts[k] else { return nil }
    guard let n = Int(v) else { fail("--\(k) \(v) is not an integer") }
    return n
}
let model = try T2IModel.load(from: URL(fileURLWithPath: modelPath))
let side = model.unet.config.sampleSize?.perBlock(1).first ?? 32
let defaults: (steps: Int, guidanceScale: Float)
do { defaults = try T2IConfig.samplingDefaults(modelFolder: URL(fileURLWithPath: modelPath)) ?? (20, 3) } catch { fail("\(error)") }
let steps = int("steps") ?? defaults.steps
var guidance = defaults.guidanceScale
if let g = opts["guidance"] {
    guard let v = Float(g) else { fail("--guidance \(g) is not a number") }
    guidance = v
}
var rescale: Float = 0
if let r = opts["guidance-rescale"] {
    guard let v = Float(r), (0...1).contains(v) else { fail("--guidance-rescale \(r) is not a number in 0...1") }
    rescale = v
}
let out = URL(fileURLWithPath: opts["out"] ?? "runs/eval")
try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
var suite = try PromptSuite.load(suiteName)
if let list = opts["categories"] {
    var wanted: [Category] = []
    for name in list.split(separator: ",").map({ String($0).trimmingCharacters(in: .whitespaces) }) {
        guard let c = Category(rawValue: name) else {
            fail("--categories: unknown category \(name); known: \(Category.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        wanted.append(c)
    }
    suite.prompts = suite.prompts.filter { wanted.contains($0.category) }
}
let separation = try TextEncoderSeparation.measure(model: model)
let separationTable = TextEncoderSeparation.markdownTable(separation)
try separationTable.write(to: out.appendingPathComponent("text-separation.md"), atomically: true, encoding: .utf8)
print("text encoder separation (0 = the encoder ignores the word):")
print(separationTable)
let t0 = Date()
let (result, grids) = try SuiteEvaluation.run(
    model: model, suite: suite, promptsPerCategory: int("prompts-per-category"), imagesPerPrompt: int("images-per-prompt") ?? 4,
    steps: steps, guidanceScale: guidance, guidanceRescale: rescale, imageSize: side, batchSize: int("batch") ?? 32, gridPrompts: int("grid-prompts") ?? 6,
    progress: { done, total in
        let dt = Date().timeIntervalSince(t0)
        FileHandle.standardError.write(Data(String(format: "%d/%d images  %.1f img/s  ETA %.0f s\n", done, total,
                                                   Double(done) / dt, dt / Double(done) * Double(total - done)).utf8))
    })
let enc = JSONEncoder()
enc.outputFormatting = [.prettyPrinted, .sortedKeys]
try enc.encode(result).write(to: out.appendingPathComponent("\(suiteName.rawValue).json"))
let table = SuiteEvaluation.markdownTable(result)
try (table + "\n").write(to: out.appendingPathComponent("\(suiteName.rawValue).md"), atomically: true, encoding: .utf8)
for g in grids { try PNG.write(g.image, to: out.appendingPathComponent("\(suiteName.rawValue)-\(g.category).png")) }
print("suite \(suiteName.rawValue): \(result.images.count) images, \(steps) steps, guidance \(guidance)\(rescale > 0 ? " rescaled \(rescale)" : ""), \(result.scheduler), \(String(format: "%.0f", Date().timeIntervalSince(t0))) s")
print(table)

// shapesworld: render captions, export datasets, judge images, print statistics, draw sample grids and write the
// prompt suites of the ShapesWorld package. `swift run -c release shapesworld --help`.
import ArgumentParser
import DataIO
import Foundation
import ShapesWorld
import ToolSupport

@main
struct ShapesWorldTool: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "shapesworld",
        abstract: "The ShapesWorld synthetic world: render, export, judge, stats, grid, suites.",
        subcommands: [Render.self, Export.self, JudgeCommand.self, Stats.self, Grid.self, Suites.self, JudgeAccuracy.self])
}

struct WorldOptions: ParsableArguments {
    @Option(help: "Image side in pixels.") var size: Int = 32
    @Option(help: "World seed (generation is a pure function of seed, split and index).") var seed: UInt64 = 0
    /// The world renders 16...1024 pixels (`WorldConfig.validate`).
    func validate() throws { try OptionCheck.integer("--size", size, .within(16...1024)) }
    func generator() throws -> SampleGenerator {
        let cfg = WorldConfig.square(size)
        try cfg.validate()
        return SampleGenerator(seed: seed, config: cfg)
    }
}

func writePNG(_ img: RGBImage, _ path: String) throws {
    try PNG.write(try RasterImage(width: img.width, height: img.height, channels: 3, pixels: img.pixels), to: URL(fileURLWithPath: path))
}

func readPNG(_ path: String) throws -> RGBImage {
    let r = try PNG.read(URL(fileURLWithPath: path)).withChannels(3)
    return try RGBImage(width: r.width, height: r.height, pixels: r.pixels)
}

func parseSplit(_ s: String) throws -> Split {
    guard let v = Split(rawValue: s) else { throw ValidationError("unknown split \"\(s)\"; use one of \(Split.allCases.map(\.rawValue).joined(separator: ", "))") }
    return v
}

/// --scale: at least 1, and the upscaled PNG side (`side` pixels before upscaling) at most `maxImageSide`.
func checkScale(_ scale: Int, side: Int) throws {
    try OptionCheck.integer("--scale", scale, .within(1...max(1, OptionCheck.maxImageSide / max(1, side))))
}

func jsonLine<T: Encodable>(_ v: T) throws -> String {
    let e = JSONEncoder()
    e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    e.keyEncodingStrategy = .convertToSnakeCase
    return String(decoding: try e.encode(v), as: UTF8.self)
}

struct Render: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Render any caption of the grammar.")
    @Argument(help: "A caption, e.g. \"a red circle left of a blue square\".") var caption: String
    @Option(name: .customLong("layout-seed"), help: "Layout seed.") var layoutSeed: UInt64 = 0
    @OptionGroup var world: WorldOptions
    @Option(name: .shortAndLong, help: "Output PNG.") var output: String = "out.png"
    @Option(help: "Nearest-neighbour upscaling factor of the written PNG.") var scale: Int = 1

    func validate() throws { try checkScale(scale, side: world.size) }

    func run() throws {
        let meaning = try CaptionParser.parse(caption)
        let gen = try world.generator()
        let scene = try gen.scene(for: meaning, seed: world.seed &+ layoutSeed)
        try writePNG(Renderer.render(scene).upscaled(max(1, scale)), output)
        print("\(meaning.category.rawValue): \(try jsonLine(meaning))")
        print("wrote \(output)")
    }
}

struct ExportObject: Encodable { var shape: ShapeKind; var color: ColorName; var size: SizeClass; var box: Box }
struct ExportNegative: Encodable {
    var kind: NegativeKind; var caption: String; var meaning: Meaning; var image: String?; var sameLayout: Bool
}
struct ExportRandom: Encodable { var index: Int; var caption: String; var meaning: Meaning }
struct ExportRecord: Encodable {
    var split: Split; var index: Int; var category: Category; var caption: String; var template: String; var meaning: Meaning
    var image: String; var width: Int; var height: Int; var objects: [ExportObject]; var expressions: [ReferringExpression]
    var negatives: [ExportNegative]; var randomNegative: ExportRandom
}

struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Write PNGs and samples.jsonl (captions, meanings, boxes, expressions, negatives).")
    @Option(help: "train, val, test-id or test-ood.") var split: String = "train"
    @Option(help: "Number of samples.") var count: Int = 100
    @Option(help: "First sample index.") var start: Int = 0
    @Option(help: "Output folder.") var out: String
    @Flag(help: "Skip the hard-negative images (captions are still written).") var noNegativeImages = false
    @Flag(help: "Degrade every image like a generated one (1-pixel blur, colour jitter 20, noise sigma 0.1; seeded by the index).")
    var degrade = false
    @OptionGroup var world: WorldOptions

    func validate() throws {
        try OptionCheck.integer("--count", count, .within(0...OptionCheck.maxCount))
        try OptionCheck.integer("--start", start, .within(0...(Int.max - max(0, count))))
    }

    func run() throws {
        let split = try parseSplit(self.split)
        let gen = try world.generator()
        let fm = FileManager.default
        try fm.createDirectory(atPath: out + "/images", withIntermediateDirectories: true)
        var lines = ""
        for i in start..<(start + count) {
            let s = gen.sample(split: split, index: i)
            var noise = WorldRandom(seed: world.seed, stream: 0xDE6 &+ split.stream, index: UInt64(i))
            func look(_ scene: Scene) -> RGBImage {
                let img = Renderer.render(scene)
                return degrade ? ImageDegradation.generatedLike.apply(img, rng: &noise) : img
            }
            let name = String(format: "images/%06d.png", i)
            try writePNG(look(s.scene), out + "/" + name)
            var negs: [ExportNegative] = []
            for (k, n) in s.negatives.enumerated() {
                var img: String? = nil
                if !noNegativeImages {
                    img = String(format: "images/%06d_neg%d.png", i, k)
                    try writePNG(look(n.scene), out + "/" + img!)
                }
                negs.append(ExportNegative(kind: n.kind, caption: n.caption, meaning: n.meaning, image: img, sameLayout: n.sameLayout))
            }
            let other = gen.positive(split: split, index: s.randomNegativeIndex)
            let objects = s.scene.objects.indices.map { k in
                ExportObject(shape: s.scene.objects[k].shape, color: s.scene.objects[k].color, size: s.scene.objects[k].size, box: s.scene.box(k))
            }
            let rec = ExportRecord(split: split, index: i, category: s.category, caption: s.caption, template: s.template, meaning: s.meaning,
                                   image: name, width: s.scene.config.width, height: s.scene.config.height, objects: objects,
                                   expressions: s.expressions, negatives: negs,
                                   randomNegative: ExportRandom(index: s.randomNegativeIndex, caption: other.caption, meaning: other.meaning))
            lines += try jsonLine(rec) + "\n"
        }
        try lines.write(toFile: out + "/samples.jsonl", atomically: true, encoding: .utf8)
        print("wrote \(count) samples of \(split.rawValue) to \(out) (images/, samples.jsonl)")
    }
}

struct JudgeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "judge",
        abstract: "Judge PNGs against a caption, their samples.jsonl captions, or a prompt suite (files named <prompt id>*.png).")
    @Argument(help: "A PNG or a folder of PNGs.") var path: String
    @Option(help: "Judge every image against this caption.") var prompt: String?
    @Option(help: "Match images to the prompts of suite id or ood by file name prefix.") var suite: String?
    @Flag(help: "Print one JSON verdict per image.") var json = false
    @Option(help: "Bootstrap resamples for the confidence intervals.") var resamples: Int = 1000

    func validate() throws { try OptionCheck.integer("--resamples", resamples, .within(1...OptionCheck.maxCount)) }

    func run() throws {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else { throw ValidationError("no such file or folder: \(path)") }
        var jobs: [(file: String, caption: String, group: String)] = []
        if !isDir.boolValue {
            guard let p = prompt else { throw ValidationError("judging one PNG needs --prompt") }
            jobs = [(path, p, "prompt")]
        } else {
            let files = try FileManager.default.contentsOfDirectory(atPath: path).filter { $0.hasSuffix(".png") }.sorted()
            if let p = prompt {
                jobs = files.map { (path + "/" + $0, p, "prompt") }
            } else if let sname = suite {
                guard let name = PromptSuite.Name(rawValue: sname) else { throw ValidationError("unknown suite \(sname); use id or ood") }
                let prompts = try PromptSuite.load(name).prompts.sorted { $0.id.count > $1.id.count }
                for f in files {
                    guard let p = prompts.first(where: { f.hasPrefix($0.id) }) else { throw ValidationError("\(f): no prompt id of suite \(sname) prefixes the name") }
                    jobs.append((path + "/" + f, p.text, p.category.rawValue))
                }
            } else {
                let jsonl = path + "/samples.jsonl"
                guard let text = try? String(contentsOfFile: jsonl, encoding: .utf8) else {
                    throw ValidationError("\(path) has no samples.jsonl: give --prompt or --suite")
                }
                for (n, line) in text.split(separator: "\n").enumerated() {
                    guard let obj = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                          let img = obj["image"] as? String, let cap = obj["caption"] as? String, let cat = obj["category"] as? String else {
                        throw ValidationError("\(jsonl) line \(n + 1): needs image, caption and category")
                    }
                    jobs.append((path + "/" + img, cap, cat))
                }
            }
        }
        var records: [(group: String, verdict: Verdict)] = []
        var judges: [Int: Judge] = [:]
        for job in jobs {
            let meaning = try CaptionParser.parse(job.caption)
            let img = try readPNG(job.file)
            let judge = judges[img.width] ?? Judge(config: .square(img.width))
            judges[img.width] = judge
            let v = judge.judge(img, meaning)
            records.append((job.group, v))
            if json {
                struct Line: Encodable { var file: String; var caption: String; var verdict: Verdict }
                print(try jsonLine(Line(file: job.file, caption: job.caption, verdict: v)))
            } else {
                let status = !v.parseable ? "UNPARSEABLE" : (v.allPassed ? "PASS" : "FAIL")
                let detail = v.parseable ? v.constraints.map { "\($0.passed ? "ok" : "x") \($0.description) [\($0.observed)]" }.joined(separator: "; ")
                                         : v.problems.joined(separator: "; ")
                print("\(status)  \(job.file)  \"\(job.caption)\"  \(detail)")
            }
        }
        if !json {
            print("\ngroup            n     all-pass [95% CI]          fraction [95% CI]        unparseable")
            for s in JudgeSummary.aggregate(records, resamples: resamples) {
                print(s.group.padding(toLength: 14, withPad: " ", startingAt: 0) + String(format: " %5d   %.3f [%.3f, %.3f]   %.3f [%.3f, %.3f]   %d", s.count,
                             s.allPass.mean, s.allPass.low, s.allPass.high, s.fraction.mean, s.fraction.low, s.fraction.high, s.unparseable))
            }
        }
    }
}

struct Stats: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Distributions per split, and a check that held-out pairs and templates stay in test-ood.")
    @Option(help: "Samples per split.") var count: Int = 5000
    @OptionGroup var world: WorldOptions

    func validate() throws { try OptionCheck.integer("--count", count, .within(1...OptionCheck.maxCount)) }

    func run() throws {
        let gen = try world.generator()
        print("held-out colour-shape pairs: \(ColorShape.heldOut.map(\.description).joined(separator: ", "))")
        print("held-out templates: \(Grammar.allTemplates.filter(\.heldOut).map(\.id).joined(separator: ", "))\n")
        for split in Split.allCases {
            var cats: [String: Int] = [:], colors: [String: Int] = [:], shapes: [String: Int] = [:], sizes: [String: Int] = [:]
            var negKinds: [String: Int] = [:], objects: [Int: Int] = [:]
            var heldPairs = 0, heldTemplates = 0, expressions = 0
            for i in 0..<count {
                let s = gen.sample(split: split, index: i)
                cats[s.category.rawValue, default: 0] += 1
                objects[s.scene.objects.count, default: 0] += 1
                for o in s.scene.objects { colors[o.color.word, default: 0] += 1; shapes[o.shape.word, default: 0] += 1; sizes[o.size.word, default: 0] += 1 }
                var pairs = s.scene.objects.map(\.pair) + s.meaning.pairs
                for n in s.negatives { negKinds[n.kind.rawValue, default: 0] += 1; pairs += n.meaning.pairs + n.scene.objects.map(\.pair) }
                if pairs.contains(where: \.isHeldOut) { heldPairs += 1 }
                if Grammar.template(id: s.template)?.heldOut ?? false { heldTemplates += 1 }
                expressions += s.expressions.count
            }
            func show(_ d: [String: Int]) -> String { d.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ") }
            print("[\(split.rawValue)] \(count) samples")
            print("  categories: \(show(cats))")
            print("  objects per image: \(objects.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: ", "))")
            print("  colours: \(show(colors))")
            print("  shapes: \(show(shapes))")
            print("  sizes: \(show(sizes))")
            print("  hard negatives: \(show(negKinds))")
            print("  referring expressions: \(expressions) (\(String(format: "%.2f", Double(expressions) / Double(max(1, count)))) per image)")
            print("  samples touching a held-out pair (image, caption or negative): \(heldPairs); with a held-out template: \(heldTemplates)")
            if !split.isOOD && (heldPairs > 0 || heldTemplates > 0) { throw ValidationError("held-out material leaked into \(split.rawValue)") }
        }
        print("\nOK: no held-out pair or template outside test-ood")
    }
}

struct Grid: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "A PNG grid of samples: one row per category, with the captions listed.")
    @Option(help: "Split to draw from.") var split: String = "train"
    @Option(help: "Samples per category (columns).") var columns: Int = 8
    @Option(help: "Nearest-neighbour upscaling.") var scale: Int = 4
    @Option(name: .shortAndLong, help: "Output PNG.") var output: String = "grid.png"
    @OptionGroup var world: WorldOptions

    /// The grid is `columns` tiles of `size` + 2 pixels wide before upscaling.
    func validate() throws {
        try world.validate()  // world.size bounds the products below
        try OptionCheck.integer("--columns", columns, .within(1...max(1, OptionCheck.maxImageSide / (world.size + 2))))
        try checkScale(scale, side: columns * (world.size + 2) + 2)
    }

    func run() throws {
        let split = try parseSplit(self.split)
        let gen = try world.generator()
        let side = gen.config.width, pad = 2
        let cats = Category.allCases
        var grid = RGBImage(width: columns * (side + pad) + pad, height: cats.count * (side + pad) + pad, fill: RGB(90, 90, 90))
        for (row, cat) in cats.enumerated() {
            var captions: [String] = []
            for col in 0..<columns {
                let s = gen.sample(split: split, index: col, category: cat)
                grid.paste(Renderer.render(s.scene), x0: pad + col * (side + pad), y0: pad + row * (side + pad))
                captions.append(s.caption)
            }
            print("row \(row + 1) \(cat.rawValue): " + captions.map { "\"\($0)\"" }.joined(separator: " | "))
        }
        try writePNG(grid.upscaled(max(1, scale)), output)
        print("wrote \(output)")
    }
}

struct Suites: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Write the id and ood prompt suites (prompts-id.json, prompts-ood.json).")
    @Option(help: "Output folder (run from the repository root for the default).")
    var out: String = "Packages/ShapesWorld/Sources/ShapesWorld/Resources"

    func run() throws {
        for name in PromptSuite.Name.allCases {
            let suite = PromptSuite.generate(name)
            let path = "\(out)/prompts-\(name.rawValue).json"
            try suite.encoded().write(to: URL(fileURLWithPath: path))
            print("wrote \(path): \(suite.prompts.count) prompts")
        }
    }
}

struct JudgeAccuracy: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "judge-accuracy",
        abstract: "Judge vs ground truth per category on clean and degraded renders (noise 0.1, 1-px blur, jitter 20).")
    @Option(help: "Samples per category.") var perCategory: Int = 1000
    @OptionGroup var world: WorldOptions

    func validate() throws { try OptionCheck.integer("--per-category", perCategory, .within(1...OptionCheck.maxCount)) }

    func run() throws {
        let cfg = WorldConfig.square(world.size)
        try cfg.validate()
        for (label, d) in [("clean", nil), ("degraded", ImageDegradation.generatedLike)] as [(String, ImageDegradation?)] {
            print("[\(label)] \(world.size)x\(world.size), \(perCategory) samples per category (half test-id, half test-ood)")
            print("category        agreement                positives passed   exact parses   neg. images passed   unparseable  max colour dist  max shape err")
            var a = 0, p = 0
            for f in JudgeValidation.measure(perCategory: perCategory, degradation: d, seed: world.seed, config: cfg) {
                a += f.agreements; p += f.pairs
                let name = f.category.rawValue.padding(toLength: 15, withPad: " ", startingAt: 0)
                print(name + String(format: " %6.2f%% (%d/%d)   %6.2f%%            %6.2f%%        %5.2f%% (%d/%d)      %4d         %6.1f          %.3f",
                             100 * f.agreement, f.agreements, f.pairs, 100 * Double(f.positivesPassed) / Double(f.images),
                             100 * Double(f.exactParses) / Double(f.images),
                             100 * Double(f.negativeImagesPassed) / Double(max(1, f.negativeImages)), f.negativeImagesPassed, f.negativeImages, f.unparseable,
                             f.maxColorDistance, f.maxShapeError))
            }
            print(String(format: "all             %6.2f%% (%d/%d)\n", 100 * Double(a) / Double(p), a, p))
        }
    }
}

import DataIO
import Diffusion
import Foundation
import Pipeline
import SelfCorrection
import ShapesWorld
import Tensor

/// What one generation evaluation samples with: a loaded pipeline (any LoRA already merged) and, for a
/// self-corrected variant, its corrector, with the folders they came from for the result file. The base model,
/// a LoRA-tuned model and every self-correction setting are evaluated through this one path.
public struct GenerationSubject {
    /// The label of the variant in result files and tables (letters, digits, `.`, `_`, `-`).
    public var name: String
    public var pipeline: StableDiffusionPipeline
    public var corrector: SelfCorrector?
    public var loraFolder: URL?
    public var adapterFolder: URL?
    /// The seed of the random U-Net a control adapter was trained on, or nil.
    public var randomUNetSeed: UInt64?

    public init(name: String, pipeline: StableDiffusionPipeline, corrector: SelfCorrector? = nil, loraFolder: URL? = nil,
                adapterFolder: URL? = nil, randomUNetSeed: UInt64? = nil) {
        self.name = name
        self.pipeline = pipeline
        self.corrector = corrector
        self.loraFolder = loraFolder
        self.adapterFolder = adapterFolder
        self.randomUNetSeed = randomUNetSeed
    }

    /// Throws unless `name` can be a file-name stem.
    public static func validate(name: String) throws {
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")
        guard !name.isEmpty, !name.hasPrefix("."), name.allSatisfy(allowed.contains) else {
            throw EvaluationError("variant name '\(name)' must be non-empty and use only letters, digits, '.', '_' and '-' (it names the result files)")
        }
    }
}

/// One judged image of a generation evaluation.
public struct GeneratedImageVerdict: Codable, Equatable, Sendable {
    public var promptID: String
    public var category: String
    public var prompt: String
    public var seed: UInt64
    public var verdict: Verdict
    /// Wall seconds of the image: its chunk's time (prompt encoding, denoising with any self-correction,
    /// decoding) over the chunk's image count. Judging is not included.
    public var seconds: Double

    public init(promptID: String, category: String, prompt: String, seed: UInt64, verdict: Verdict, seconds: Double) {
        self.promptID = promptID
        self.category = category
        self.prompt = prompt
        self.seed = seed
        self.verdict = verdict
        self.seconds = seconds
    }
}

/// The self-correction a result was sampled with.
public struct SelfCorrectionDescription: Codable, Equatable, Sendable {
    /// The adapter folder (relative to the working directory when inside it).
    public var adapter: String
    /// Set for a control adapter trained on a random U-Net.
    public var randomUNetSeed: UInt64?
    /// "constant 0.5", "first 10 steps at 0.5", ...
    public var schedule: String
    /// eta of every step.
    public var etaByStep: [Double]
    /// `release` or `paper`.
    public var mode: String
    public var normalization: String
    /// The adapter's mean score s(z_t, y) over all images at each step (nil where eta was 0: no gradient pass).
    public var meanScoreByStep: [Double?]
}

/// The result of sampling a ShapesWorld prompt suite with one variant and judging every image.
public struct GenerationEvaluationResult: Codable, Equatable, Sendable {
    public var variant: String
    /// `id` or `ood`.
    public var suite: String
    /// The model folder's name.
    public var model: String
    /// The merged LoRA folder (relative to the working directory when inside it), or nil.
    public var lora: String?
    public var selfCorrection: SelfCorrectionDescription?
    public var promptsPerCategory: Int
    public var imagesPerPrompt: Int
    public var steps: Int
    public var guidanceScale: Double
    /// diffusers' `guidance_rescale` when it was on (nil: off).
    public var guidanceRescale: Double?
    public var scheduler: String
    public var batch: Int
    /// Every image, prompt-major in suite order, seeds 0 ..< imagesPerPrompt.
    public var images: [GeneratedImageVerdict]
    /// Per category (first-seen order) and "all": all-pass rate and mean constraint fraction with 95% bootstrap
    /// intervals over images (`JudgeSummary.aggregate`, seed 0).
    public var summaries: [JudgeSummary]
    /// Mean wall seconds per image.
    public var secondsPerImage: Double

    public init(variant: String, suite: String, model: String, lora: String?, selfCorrection: SelfCorrectionDescription?,
                promptsPerCategory: Int, imagesPerPrompt: Int, steps: Int, guidanceScale: Double, guidanceRescale: Double? = nil,
                scheduler: String, batch: Int, images: [GeneratedImageVerdict], summaries: [JudgeSummary], secondsPerImage: Double) {
        self.variant = variant
        self.suite = suite
        self.model = model
        self.lora = lora
        self.selfCorrection = selfCorrection
        self.promptsPerCategory = promptsPerCategory
        self.imagesPerPrompt = imagesPerPrompt
        self.steps = steps
        self.guidanceScale = guidanceScale
        self.guidanceRescale = guidanceRescale
        self.scheduler = scheduler
        self.batch = batch
        self.images = images
        self.summaries = summaries
        self.secondsPerImage = secondsPerImage
    }

    /// The summary of `group` ("all" for every image; a suite with one category has no "all" row, its category is it).
    public func summary(_ group: String) -> JudgeSummary? {
        summaries.first { $0.group == group } ?? (group == "all" && summaries.count == 1 ? summaries.first : nil)
    }
}

/// DPT's generation evaluation on ShapesWorld: sample a prompt suite (the first N prompts of each category) with a
/// variant, seeds 0 ..< imagesPerPrompt for every prompt (so variants see the same initial noise), judge every
/// image with the exact ShapesWorld judge, summarise per category with 95% intervals, write the JSON and a grid per
/// category.
public enum GenerationEvaluation {
    /// Sampling settings.
    public struct Settings: Equatable, Sendable {
        /// nil: every prompt of the suite (60 per category).
        public var promptsPerCategory: Int?
        public var imagesPerPrompt: Int
        public var steps: Int
        public var guidanceScale: Float
        /// diffusers' `guidance_rescale` (0 = off).
        public var guidanceRescale: Float
        /// Images per pipeline call (CFG doubles the U-Net batch).
        public var batch: Int
        /// Prompts per category shown in its grid (one row each).
        public var gridPrompts: Int

        public init(promptsPerCategory: Int? = nil, imagesPerPrompt: Int = 4, steps: Int = 20, guidanceScale: Float = 3,
                    guidanceRescale: Float = 0, batch: Int = 16, gridPrompts: Int = 6) {
            self.promptsPerCategory = promptsPerCategory
            self.imagesPerPrompt = imagesPerPrompt
            self.steps = steps
            self.guidanceScale = guidanceScale
            self.guidanceRescale = guidanceRescale
            self.batch = batch
            self.gridPrompts = gridPrompts
        }

        public func validate() throws {
            if let n = promptsPerCategory, n < 1 { throw EvaluationError("prompts per category must be at least 1, got \(n)") }
            guard imagesPerPrompt >= 1 else { throw EvaluationError("images per prompt must be at least 1, got \(imagesPerPrompt)") }
            guard steps >= 1 else { throw EvaluationError("steps must be at least 1, got \(steps)") }
            guard guidanceScale.isFinite else { throw EvaluationError("guidance scale must be finite, got \(guidanceScale)") }
            guard (0...1).contains(guidanceRescale) else { throw EvaluationError("guidance rescale must be in 0...1, got \(guidanceRescale)") }
            guard batch >= 1 else { throw EvaluationError("batch must be at least 1, got \(batch)") }
            guard gridPrompts >= 0 else { throw EvaluationError("grid prompts must be at least 0, got \(gridPrompts)") }
        }
    }

    /// What one run returns: the result and the grid of each category (its first `gridPrompts` prompts, one row
    /// each, images upscaled 2x when the side is at most 64 pixels).
    public struct Output {
        public var result: GenerationEvaluationResult
        public var grids: [(category: String, image: RasterImage)]

        public init(result: GenerationEvaluationResult, grids: [(category: String, image: RasterImage)]) {
            self.result = result
            self.grids = grids
        }
    }

    /// Samples and judges `suite` with `subject` (the model folder `model` names the result). `progress(done,
    /// total)` after each chunk of `settings.batch` images.
    public static func run(_ subject: GenerationSubject, model: URL, suite: PromptSuite,
                           settings: Settings, progress: (Int, Int) -> Void = { _, _ in }) throws -> Output {
        try settings.validate()
        try GenerationSubject.validate(name: subject.name)
        let pipeline = subject.pipeline
        let selected = suite.firstPrompts(perCategory: settings.promptsPerCategory)
        var jobs: [(prompt: PromptSuite.Prompt, seed: UInt64)] = []
        for p in selected { for s in 0..<settings.imagesPerPrompt { jobs.append((p, UInt64(s))) } }
        let size = pipeline.sampler.imageSize(GenerationOptions())
        let judge = Judge(config: WorldConfig(width: size.width, height: size.height))
        var images: [GeneratedImageVerdict] = []
        var gridImages: [String: [Tensor]] = [:]
        var gridPrompts: [String: Set<String>] = [:]
        var scoreSums: [Double] = Array(repeating: 0, count: settings.steps)
        var scoreCounts: [Int] = Array(repeating: 0, count: settings.steps)
        var start = 0
        while start < jobs.count {
            let end = Swift.min(jobs.count, start + settings.batch)
            let chunk = Array(jobs[start..<end])
            let options = GenerationOptions(steps: settings.steps, guidanceScale: settings.guidanceScale,
                                            guidanceRescale: settings.guidanceRescale, imagesPerPrompt: 1,
                                            seeding: .perImage(chunk.map(\.seed)))
            let t0 = Date()
            let hook = subject.corrector.map { SelfCorrectionHook(corrector: $0, scheduler: pipeline.scheduler) }
            if let c = subject.corrector { try c.settings.validate(steps: settings.steps) }
            let generated = try pipeline.generate(prompts: chunk.map(\.prompt.text), options: options, hooks: hook.map { [$0] } ?? [])
            let records = hook?.records ?? []
            let seconds = Date().timeIntervalSince(t0) / Double(chunk.count)
            for r in records where !r.scores.isEmpty && r.stepIndex < settings.steps {
                scoreSums[r.stepIndex] += r.scores.reduce(0.0) { $0 + Double($1) }
                scoreCounts[r.stepIndex] += r.scores.count
            }
            guard let x = generated.images else { throw EvaluationError("the pipeline returned no decoded images") }
            for (i, job) in chunk.enumerated() {
                let t = x.selecting(axis: 0, index: i).contiguous()
                let c = job.prompt.category.rawValue
                images.append(GeneratedImageVerdict(promptID: job.prompt.id, category: c, prompt: job.prompt.text, seed: job.seed,
                                                    verdict: judge.judge(try RGBImage(tensor: t), job.prompt.meaning), seconds: seconds))
                var ids = gridPrompts[c, default: []]
                if ids.contains(job.prompt.id) || ids.count < settings.gridPrompts {
                    ids.insert(job.prompt.id)
                    gridPrompts[c] = ids
                    gridImages[c, default: []].append(t.unsqueezed(0))
                }
            }
            start = end
            progress(start, jobs.count)
        }
        var grids: [(String, RasterImage)] = []
        let scale = Swift.max(size.height, size.width) <= 64 ? 2 : 1
        for c in Category.allCases.map(\.rawValue) where gridImages[c] != nil {
            let batch = Tensor.concat(gridImages[c]!, axis: 0)
            grids.append((c, try ImageGrid.make(batch: scale > 1 ? Tensor.upsampleNearest(batch, scale: scale) : batch,
                                                columns: settings.imagesPerPrompt)))
        }
        var correction: SelfCorrectionDescription?
        if let corrector = subject.corrector, let adapterURL = subject.adapterFolder {
            let s = corrector.settings
            correction = SelfCorrectionDescription(
                adapter: displayPath(adapterURL), randomUNetSeed: subject.randomUNetSeed, schedule: s.eta.description,
                etaByStep: s.eta.values(steps: settings.steps).map(Double.init), mode: s.mode.rawValue,
                normalization: s.normalization.rawValue,
                meanScoreByStep: zip(scoreSums, scoreCounts).map { (sum, n) -> Double? in n > 0 ? sum / Double(n) : nil })
        }
        let total = images.reduce(0) { $0 + $1.seconds }
        let result = GenerationEvaluationResult(
            variant: subject.name, suite: suite.suite.rawValue, model: model.standardizedFileURL.lastPathComponent,
            lora: subject.loraFolder.map(displayPath), selfCorrection: correction,
            promptsPerCategory: settings.promptsPerCategory ?? PromptSuite.promptsPerCategory, imagesPerPrompt: settings.imagesPerPrompt,
            steps: settings.steps, guidanceScale: Double(settings.guidanceScale),
            guidanceRescale: settings.guidanceRescale > 0 ? Double(settings.guidanceRescale) : nil, scheduler: pipeline.scheduler.className,
            batch: settings.batch, images: images,
            summaries: JudgeSummary.aggregate(images.map { (group: $0.category, verdict: $0.verdict) }),
            secondsPerImage: images.isEmpty ? 0 : total / Double(images.count))
        return Output(result: result, grids: grids)
    }

    /// The file stem of a result: `<variant>-<suite>`.
    public static func fileStem(variant: String, suite: String) -> String { "\(variant)-\(suite)" }

    /// Writes `<folder>/<variant>-<suite>.json` and `<folder>/<variant>-<suite>-<category>.png` (created if needed).
    /// Returns the JSON file.
    @discardableResult
    public static func write(_ output: Output, to folder: URL) throws -> URL {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let stem = fileStem(variant: output.result.variant, suite: output.result.suite)
        let url = folder.appendingPathComponent(stem + ".json")
        try AtomicFile.write(try encode(output.result), to: url)
        for (c, image) in output.grids {
            try PNG.write(image, to: folder.appendingPathComponent("\(stem)-\(c).png"))
        }
        return url
    }

    /// Pretty, key-sorted JSON of a result.
    public static func encode(_ result: GenerationEvaluationResult) throws -> Data {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys]
        var d = try e.encode(result)
        d.append(0x0A)
        return d
    }

    /// A result read back from its JSON file; errors name the file.
    public static func read(_ url: URL) throws -> GenerationEvaluationResult {
        do { return try JSONDecoder().decode(GenerationEvaluationResult.self, from: Data(contentsOf: url)) } catch {
            throw EvaluationError("\(url.path) is not a generation evaluation result: \(error)")
        }
    }

    /// A markdown table of one result: category, images, all-pass [95% CI], constraints passed [95% CI],
    /// unparseable; then the seconds per image.
    public static func markdownTable(_ r: GenerationEvaluationResult) -> String {
        var lines = ["**\(r.variant), suite \(r.suite)** (\(r.promptsPerCategory) prompts per category x \(r.imagesPerPrompt) seeds, "
                     + "\(r.scheduler) \(r.steps) steps, guidance \(GenerationReport.number(r.guidanceScale))"
                     + (r.lora.map { ", LoRA \($0)" } ?? "")
                     + (r.selfCorrection.map { ", self-correction \($0.schedule) \($0.mode) with \($0.adapter)" } ?? "") + ")",
                     "",
                     "| category | images | all-pass % [95% CI] | constraints passed % [95% CI] | unparseable |",
                     "|---|---|---|---|---|"]
        for s in r.summaries {
            lines.append("| \(s.group) | \(s.count) | \(GenerationReport.cell(s.allPass)) | \(GenerationReport.cell(s.fraction)) | \(s.unparseable) |")
        }
        lines.append("")
        lines.append(String(format: "%.3f s/image (wall, batch %d)", r.secondsPerImage, r.batch))
        return lines.joined(separator: "\n") + "\n"
    }

    /// `url`'s path relative to the working directory when it lies inside it (result files must not carry the
    /// paths of one machine), else as given.
    public static func displayPath(_ url: URL) -> String {
        let path = url.standardizedFileURL.path
        let cwd = URL(fileURLWithPath: FileManager.default.currentDirectoryPath).standardizedFileURL.path
        if path.hasPrefix(cwd + "/") { return String(path.dropFirst(cwd.count + 1)) }
        return url.relativePath
    }

    /// What the failed images got wrong, per category: how many fail a count constraint (the asked colour-shape
    /// pair missing, doubled, or miscounted), a size constraint, a relation, or cannot be parsed. An image failing
    /// several kinds counts in each column.
    public static func failureTable(_ r: GenerationEvaluationResult) -> String {
        var lines = ["| category | failed images | count wrong | size wrong | relation wrong | unparseable |",
                     "|---|---|---|---|---|---|"]
        var order: [String] = []
        var rows: [String: [Int]] = [:]
        for im in r.images {
            if rows[im.category] == nil { order.append(im.category); rows[im.category] = [0, 0, 0, 0, 0] }
            guard !im.verdict.allPassed else { continue }
            var row = rows[im.category]!
            row[0] += 1
            if !im.verdict.parseable {
                row[4] += 1
            } else {
                let failed = Set(im.verdict.constraints.filter { !$0.passed }.map(\.kind))
                if failed.contains(.count) { row[1] += 1 }
                if failed.contains(.size) { row[2] += 1 }
                if failed.contains(.relation) { row[3] += 1 }
            }
            rows[im.category] = row
        }
        let total = order.reduce(into: [0, 0, 0, 0, 0]) { acc, c in for i in 0..<5 { acc[i] += rows[c]![i] } }
        for c in order + ["all"] {
            let v = c == "all" ? total : rows[c]!
            lines.append("| \(c) | \(v[0]) | \(v[1]) | \(v[2]) | \(v[3]) | \(v[4]) |")
        }
        return lines.joined(separator: "\n")
    }
}

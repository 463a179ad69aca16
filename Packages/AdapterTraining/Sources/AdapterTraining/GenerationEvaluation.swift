import DataIO
import Diffusion
import DiscriminativeAdapter
import Foundation
import Pipeline
import SelfCorrection
import ShapesWorld
import Tensor

/// How one evaluated variant samples: which U-Net LoRA it merges and whether it self-corrects with which adapter.
/// The `sample` tool and `evaluate generation` both load their pipeline through it.
public struct GenerationVariant {
    public enum LoRAChoice: Equatable, Sendable {
        /// `<model>/unet_lora` when that folder exists, else none.
        case automatic
        case folder(URL)
        case none
    }

    /// The label of the variant in result files and tables (letters, digits, `.`, `_`, `-`).
    public var name: String
    public var lora: LoRAChoice
    /// DPT's self-correction settings, or nil for plain sampling.
    public var selfCorrection: SelfCorrectionSettings?
    /// The adapter folder self-correction scores with (nil: `<model>/adapter`).
    public var adapter: URL?

    public init(name: String, lora: LoRAChoice = .automatic, selfCorrection: SelfCorrectionSettings? = nil, adapter: URL? = nil) {
        self.name = name
        self.lora = lora
        self.selfCorrection = selfCorrection
        self.adapter = adapter
    }

    /// The settings of the command-line flags `--eta E [--eta-steps K] [--correction-mode release|paper]`: eta at
    /// every step, or for the first K steps only.
    public static func selfCorrectionSettings(eta: Float, etaSteps: Int?, mode: String) throws -> SelfCorrectionSettings {
        guard eta.isFinite else { throw AdapterTrainingError("--eta must be a finite number, got \(eta)") }
        if let k = etaSteps, k < 0 { throw AdapterTrainingError("--eta-steps must be at least 0, got \(k)") }
        guard let m = CorrectionMode(rawValue: mode) else {
            throw AdapterTrainingError("--correction-mode '\(mode)' is unknown; modes: \(CorrectionMode.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return SelfCorrectionSettings(eta: etaSteps.map { .firstSteps(eta, count: $0) } ?? .constant(eta), mode: m)
    }

    /// Throws unless `name` can be a file-name stem.
    public static func validate(name: String) throws {
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")
        guard !name.isEmpty, !name.hasPrefix("."), name.allSatisfy(allowed.contains) else {
            throw AdapterTrainingError("variant name '\(name)' must be non-empty and use only letters, digits, '.', '_' and '-' (it names the result files)")
        }
    }

    /// The LoRA folder this variant merges for `model`, or nil. An explicit folder must exist.
    public func loraFolder(model: URL) throws -> URL? {
        switch lora {
        case .none: return nil
        case let .folder(url):
            guard FileManager.default.fileExists(atPath: url.appendingPathComponent(UNetLoRA.configFileName).path) else {
                throw AdapterTrainingError("no U-Net LoRA in \(url.path) (\(UNetLoRA.configFileName) missing): pass the unet_lora folder of a tuning run, or --no-lora")
            }
            return url
        case .automatic:
            let url = model.appendingPathComponent(UNetLoRA.componentName)
            var isDir: ObjCBool = false
            return FileManager.default.fileExists(atPath: url.path, isDirectory: &isDir) && isDir.boolValue ? url : nil
        }
    }

    /// The adapter folder self-correction uses for `model`.
    public func adapterFolder(model: URL) -> URL {
        adapter ?? model.appendingPathComponent(DiscriminativeAdapter.componentName)
    }

    /// A loaded variant: the pipeline (LoRA merged) and, with self-correction, the corrector on an `AdapterScorer`
    /// that reads the pipeline's own U-Net.
    public struct Loaded {
        public let pipeline: StableDiffusionPipeline
        public let corrector: SelfCorrector?
        public let scorer: AdapterScorer?
        public let loraFolder: URL?
        public let adapterFolder: URL?
    }

    /// Loads `model` (with `scheduler` and weight file `weightsVariant` as `StableDiffusionPipeline` takes them),
    /// merges the LoRA and loads the adapter. Errors name the folder at fault.
    public func load(model: URL, scheduler: String? = nil, weightsVariant: String? = nil) throws -> Loaded {
        try Self.validate(name: name)
        let lora = try loraFolder(model: model)
        let adapterURL = selfCorrection == nil ? nil : adapterFolder(model: model)
        if let adapterURL { try AdapterScorer.requireAdapter(in: adapterURL) }   // before the slower model load
        let pipeline = try StableDiffusionPipeline(folder: model, scheduler: scheduler, variant: weightsVariant)
        if let lora { try pipeline.loadLoRA(from: lora) }
        guard let settings = selfCorrection, let adapterURL else {
            return Loaded(pipeline: pipeline, corrector: nil, scorer: nil, loraFolder: lora, adapterFolder: nil)
        }
        let scorer = try AdapterScorer.load(adapter: adapterURL, for: pipeline)
        return Loaded(pipeline: pipeline, corrector: SelfCorrector(scorer: scorer, settings: settings), scorer: scorer,
                      loraFolder: lora, adapterFolder: adapterURL)
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
                promptsPerCategory: Int, imagesPerPrompt: Int, steps: Int, guidanceScale: Double, scheduler: String, batch: Int,
                images: [GeneratedImageVerdict], summaries: [JudgeSummary], secondsPerImage: Double) {
        self.variant = variant
        self.suite = suite
        self.model = model
        self.lora = lora
        self.selfCorrection = selfCorrection
        self.promptsPerCategory = promptsPerCategory
        self.imagesPerPrompt = imagesPerPrompt
        self.steps = steps
        self.guidanceScale = guidanceScale
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
        /// Images per pipeline call (CFG doubles the U-Net batch).
        public var batch: Int
        /// Prompts per category shown in its grid (one row each).
        public var gridPrompts: Int

        public init(promptsPerCategory: Int? = nil, imagesPerPrompt: Int = 4, steps: Int = 20, guidanceScale: Float = 3,
                    batch: Int = 16, gridPrompts: Int = 6) {
            self.promptsPerCategory = promptsPerCategory
            self.imagesPerPrompt = imagesPerPrompt
            self.steps = steps
            self.guidanceScale = guidanceScale
            self.batch = batch
            self.gridPrompts = gridPrompts
        }

        public func validate() throws {
            if let n = promptsPerCategory, n < 1 { throw AdapterTrainingError("prompts per category must be at least 1, got \(n)") }
            guard imagesPerPrompt >= 1 else { throw AdapterTrainingError("images per prompt must be at least 1, got \(imagesPerPrompt)") }
            guard steps >= 1 else { throw AdapterTrainingError("steps must be at least 1, got \(steps)") }
            guard guidanceScale.isFinite else { throw AdapterTrainingError("guidance scale must be finite, got \(guidanceScale)") }
            guard batch >= 1 else { throw AdapterTrainingError("batch must be at least 1, got \(batch)") }
            guard gridPrompts >= 0 else { throw AdapterTrainingError("grid prompts must be at least 0, got \(gridPrompts)") }
        }
    }

    /// The sampling defaults of a model folder: `sample_steps` and `guidance_scale` of its `train_config.json`
    /// (what train-t2i sampled with) when present, else 20 steps and guidance 3. A present but malformed file or
    /// key throws, naming it.
    public static func samplingDefaults(model: URL) throws -> (steps: Int, guidanceScale: Float) {
        try ModelFolder.samplingDefaults(in: model, fallback: (20, 3)) ?? (20, 3)
    }

    /// The first `perCategory` prompts of each category of `suite`, in suite order (nil: all).
    public static func prompts(of suite: PromptSuite, perCategory: Int?) -> [PromptSuite.Prompt] {
        var taken: [Category: Int] = [:]
        return suite.prompts.filter { p in
            if let n = perCategory, taken[p.category, default: 0] >= n { return false }
            taken[p.category, default: 0] += 1
            return true
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

    /// Samples and judges `suite` with `loaded` (see `GenerationVariant.load`). `progress(done, total)` after each
    /// chunk of `settings.batch` images.
    public static func run(variant: GenerationVariant, loaded: GenerationVariant.Loaded, model: URL, suite: PromptSuite,
                           settings: Settings, progress: (Int, Int) -> Void = { _, _ in }) throws -> Output {
        try settings.validate()
        try GenerationVariant.validate(name: variant.name)
        let pipeline = loaded.pipeline
        let selected = prompts(of: suite, perCategory: settings.promptsPerCategory)
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
            let options = GenerationOptions(steps: settings.steps, guidanceScale: settings.guidanceScale, imagesPerPrompt: 1,
                                            seeding: .perImage(chunk.map(\.seed)))
            let t0 = Date()
            let (generated, records) = try pipeline.generate(prompts: chunk.map(\.prompt.text), options: options,
                                                             selfCorrection: loaded.corrector)
            let seconds = Date().timeIntervalSince(t0) / Double(chunk.count)
            for r in records where !r.scores.isEmpty && r.stepIndex < settings.steps {
                scoreSums[r.stepIndex] += r.scores.reduce(0.0) { $0 + Double($1) }
                scoreCounts[r.stepIndex] += r.scores.count
            }
            guard let x = generated.images else { throw AdapterTrainingError("the pipeline returned no decoded images") }
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
        if let corrector = loaded.corrector, let adapterURL = loaded.adapterFolder {
            let s = corrector.settings
            correction = SelfCorrectionDescription(
                adapter: displayPath(adapterURL), randomUNetSeed: loaded.scorer?.randomUNetSeed, schedule: describe(s.eta),
                etaByStep: s.eta.values(steps: settings.steps).map(Double.init), mode: s.mode.rawValue,
                normalization: s.normalization.rawValue,
                meanScoreByStep: zip(scoreSums, scoreCounts).map { (sum, n) -> Double? in n > 0 ? sum / Double(n) : nil })
        }
        let total = images.reduce(0) { $0 + $1.seconds }
        let result = GenerationEvaluationResult(
            variant: variant.name, suite: suite.suite.rawValue, model: model.standardizedFileURL.lastPathComponent,
            lora: loaded.loraFolder.map(displayPath), selfCorrection: correction,
            promptsPerCategory: settings.promptsPerCategory ?? PromptSuite.promptsPerCategory, imagesPerPrompt: settings.imagesPerPrompt,
            steps: settings.steps, guidanceScale: Double(settings.guidanceScale), scheduler: pipeline.scheduler.className,
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
            throw AdapterTrainingError("\(url.path) is not a generation evaluation result: \(error)")
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

    /// A short description of an eta schedule.
    public static func describe(_ eta: EtaSchedule) -> String {
        switch eta {
        case let .constant(e): return "constant \(GenerationReport.number(Double(e)))"
        case let .firstSteps(e, k): return "first \(k) steps at \(GenerationReport.number(Double(e)))"
        case let .linear(a, b): return "linear \(GenerationReport.number(Double(a))) to \(GenerationReport.number(Double(b)))"
        case let .perStep(v): return "per step [\(v.map { GenerationReport.number(Double($0)) }.joined(separator: ", "))]"
        }
    }
}

/// Merging generation evaluation results: variants x categories per suite, seconds per image, and the paired
/// difference of each variant against a base variant.
public enum GenerationReport {
    /// The difference in all-pass rate (variant minus base) over the images both share (same prompt id and seed),
    /// with a 95% paired-bootstrap interval over prompts.
    public struct PairedDifference: Equatable, Sendable {
        public var variant: String
        public var base: String
        public var suite: String
        public var group: String
        /// Prompts and images paired.
        public var prompts: Int
        public var images: Int
        /// Mean over paired prompts of (mean over their shared seeds of variant pass - base pass), as a fraction.
        public var mean: Double
        public var low: Double
        public var high: Double
    }

    /// Every `*.json` in `folder` as a result, sorted by suite then variant (`base` first). A JSON file that is not
    /// a result, or two files with the same variant and suite, throw naming the file.
    public static func loadResults(in folder: URL) throws -> [GenerationEvaluationResult] {
        let names: [String]
        do { names = try FileManager.default.contentsOfDirectory(atPath: folder.path) } catch {
            throw AdapterTrainingError("cannot list the results folder \(folder.path): \(error.localizedDescription)")
        }
        var results: [GenerationEvaluationResult] = []
        var seen: [String: String] = [:]
        for name in names.sorted() where name.hasSuffix(".json") {
            let r = try GenerationEvaluation.read(folder.appendingPathComponent(name))
            let key = "\(r.variant) / \(r.suite)"
            if let other = seen[key] { throw AdapterTrainingError("\(folder.path): \(other) and \(name) both hold variant \(r.variant) on suite \(r.suite)") }
            seen[key] = name
            results.append(r)
        }
        guard !results.isEmpty else { throw AdapterTrainingError("no result JSON in \(folder.path)") }
        return sort(results, base: "base")
    }

    static func sort(_ results: [GenerationEvaluationResult], base: String) -> [GenerationEvaluationResult] {
        results.sorted { a, b in
            if a.suite != b.suite { return a.suite < b.suite }
            if (a.variant == base) != (b.variant == base) { return a.variant == base }
            return a.variant < b.variant
        }
    }

    /// The paired difference of `variant` minus `base` in `group` (a category, or "all"): images are paired by
    /// (prompt id, seed); per prompt, the mean pass difference over its shared seeds; the estimate is the mean over
    /// prompts and the interval the 2.5 / 97.5 percentiles of `resamples` bootstrap means (prompts drawn with
    /// replacement from `TorchGenerator(seed:)`). nil when the two share no image in the group.
    public static func pairedDifference(_ variant: GenerationEvaluationResult, minus base: GenerationEvaluationResult,
                                        group: String = "all", resamples: Int = 2000, seed: UInt64 = 0) -> PairedDifference? {
        func passes(_ r: GenerationEvaluationResult) -> [String: Bool] {
            var out: [String: Bool] = [:]
            for i in r.images where group == "all" || i.category == group { out["\(i.promptID)\u{1F}\(i.seed)"] = i.verdict.allPassed }
            return out
        }
        let a = passes(variant), b = passes(base)
        var byPrompt: [String: (sum: Double, count: Int)] = [:]
        var order: [String] = []
        for i in variant.images where group == "all" || i.category == group {
            let key = "\(i.promptID)\u{1F}\(i.seed)"
            guard let pa = a[key], let pb = b[key] else { continue }
            if byPrompt[i.promptID] == nil { order.append(i.promptID) }
            byPrompt[i.promptID, default: (0, 0)].sum += (pa ? 1 : 0) - (pb ? 1 : 0)
            byPrompt[i.promptID, default: (0, 0)].count += 1
        }
        guard !order.isEmpty else { return nil }
        let d = order.map { byPrompt[$0]!.sum / Double(byPrompt[$0]!.count) }
        let (mean, low, high) = bootstrapMean(d, resamples: resamples, seed: seed)
        return PairedDifference(variant: variant.variant, base: base.variant, suite: variant.suite, group: group, prompts: d.count,
                                images: byPrompt.values.reduce(0) { $0 + $1.count }, mean: mean, low: low, high: high)
    }

    /// Mean of `xs` and the 2.5 / 97.5 percentiles (nearest rank) of the means of `resamples` resamples drawn with
    /// replacement by `TorchGenerator(seed:)`.
    public static func bootstrapMean(_ xs: [Double], resamples: Int, seed: UInt64) -> (mean: Double, low: Double, high: Double) {
        guard !xs.isEmpty else { return (0, 0, 0) }
        let mean = xs.reduce(0, +) / Double(xs.count)
        var g = TorchGenerator(seed: seed)
        var means = [Double](repeating: 0, count: max(1, resamples))
        for k in means.indices {
            means[k] = g.randint(low: 0, high: xs.count, count: xs.count).reduce(0.0) { $0 + xs[$1] } / Double(xs.count)
        }
        means.sort()
        let lo = means[Int((0.025 * Double(means.count - 1)).rounded())], hi = means[Int((0.975 * Double(means.count - 1)).rounded())]
        return (mean, lo, hi)
    }

    /// "12.5 [8.0, 17.5]" (percent).
    public static func cell(_ i: JudgeSummary.Interval) -> String {
        String(format: "%.1f [%.1f, %.1f]", 100 * i.mean, 100 * i.low, 100 * i.high)
    }

    /// "+3.1 [-1.2, 7.5]" (percentage points).
    public static func cell(_ d: PairedDifference) -> String {
        String(format: "%+.1f [%+.1f, %+.1f]", 100 * d.mean, 100 * d.low, 100 * d.high)
    }

    /// A number without trailing zeros ("3", "0.5").
    static func number(_ x: Double) -> String {
        x == x.rounded() && abs(x) < 1e9 ? String(Int(x)) : String(format: "%g", x)
    }

    /// The merged markdown report of `results`: per suite, a table of variants x categories (all-pass % [95% CI],
    /// images), a table of seconds per image (variants x suites), and per suite the paired difference of each
    /// variant sharing prompts and seeds with `base` (percentage points [95% CI], prompts paired).
    public static func markdown(_ results: [GenerationEvaluationResult], base: String = "base", resamples: Int = 2000,
                                seed: UInt64 = 0) -> String {
        let results = sort(results, base: base)
        let suites = results.map(\.suite).reduce(into: [String]()) { if !$0.contains($1) { $0.append($1) } }
        let variants = results.map(\.variant).reduce(into: [String]()) { if !$0.contains($1) { $0.append($1) } }
            .sorted { a, b in (a == base) != (b == base) ? a == base : a < b }
        var md = "## Generation evaluation (ShapesWorld judge)\n\n"
        md += "All-pass: the share of images whose every prompt constraint the exact judge confirms, % with a 95% bootstrap "
            + "interval over images. Seeds 0 ..< images-per-prompt for every prompt, identical across variants.\n\n"
        for suite in suites {
            let rows = results.filter { $0.suite == suite }
            // Categories in ShapesWorld's order, then any other group the results hold.
            let groups = Set(rows.flatMap { $0.summaries.map(\.group) }).subtracting(["all"])
            let known = Category.allCases.map(\.rawValue)
            let categories = known.filter(groups.contains) + groups.subtracting(known).sorted()
            let columns = categories + ["all"]
            md += "### Suite `\(suite)`: all-pass % [95% CI]\n\n"
            md += "| variant | settings | images | " + columns.joined(separator: " | ") + " |\n"
            md += "|---|---|---|" + String(repeating: "---|", count: columns.count) + "\n"
            for r in rows {
                let cells = columns.map { c in r.summary(c).map { cell($0.allPass) } ?? "-" }
                md += "| \(r.variant) | \(settings(r)) | \(r.images.count) | " + cells.joined(separator: " | ") + " |\n"
            }
            md += "\n"
            let others = rows.filter { $0.variant != base }
            if let b = rows.first(where: { $0.variant == base }) {
                var lines: [String] = []
                for r in others {
                    let diffs = columns.map { pairedDifference(r, minus: b, group: $0, resamples: resamples, seed: seed) }
                    guard let all = diffs.last!, all.prompts > 0 else { continue }
                    lines.append("| \(r.variant) | \(all.prompts) | \(all.images) | " + diffs.map { $0.map(cell) ?? "-" }.joined(separator: " | ") + " |")
                }
                if !lines.isEmpty {
                    md += "Paired difference vs `\(base)` (all-pass, percentage points, 95% paired bootstrap over prompts, \(resamples) resamples, seed \(seed)):\n\n"
                    md += "| variant | prompts | images | " + columns.joined(separator: " | ") + " |\n"
                    md += "|---|---|---|" + String(repeating: "---|", count: columns.count) + "\n"
                    md += lines.joined(separator: "\n") + "\n\n"
                }
            }
        }
        md += "### Seconds per image (wall)\n\n| variant | " + suites.joined(separator: " | ") + " |\n|---|" + String(repeating: "---|", count: suites.count) + "\n"
        for v in variants {
            let cells = suites.map { s in results.first { $0.variant == v && $0.suite == s }.map { String(format: "%.3f (batch %d)", $0.secondsPerImage, $0.batch) } ?? "-" }
            md += "| \(v) | " + cells.joined(separator: " | ") + " |\n"
        }
        return md
    }

    /// "DDIMScheduler 20 steps, cfg 3, LoRA x, SC first 10 steps at 0.5 release".
    static func settings(_ r: GenerationEvaluationResult) -> String {
        var s = "\(r.steps) steps, cfg \(number(r.guidanceScale))"
        if let l = r.lora { s += ", LoRA `\(l)`" }
        if let c = r.selfCorrection { s += ", self-correction \(c.schedule) (\(c.mode)), adapter `\(c.adapter)`" }
        return s
    }
}

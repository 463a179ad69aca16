// sample: text-to-image with a diffusers-layout model folder (the bundled model by default, or any Stable
// Diffusion 1.x/2.x folder). Writes one PNG per image and a grid. `swift run -c release sample --help`.
// Optional: a U-Net LoRA (DPT stage 2) and DPT's self-correction with a trained discriminative adapter.
import AdapterTraining
import ArgumentParser
import Diffusion
import Foundation
import Pipeline
import SelfCorrection
import ToolSupport

@main
struct Sample: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sample",
        abstract: "Generate images from prompts with a diffusers-layout text-to-image model folder.",
        discussion: """
        Image j of every prompt starts from seed + j, so a file does not depend on --batch or on the other prompts \
        (with a deterministic scheduler). Output names: <prompt index>-<prompt>-s<seed>.png, plus grid.png \
        (one row per prompt). A U-Net LoRA in <model>/unet_lora is merged when present (--lora DIR for another, \
        --no-lora for none). --self-correct moves each latent along the gradient of the adapter's matching score \
        before every noise prediction (DPT; eta 0.5 at every step by default, as the authors' release).
        """)

    static let bundledModel = "Models/shapes-t2i"

    @Option(help: "A prompt (repeatable).") var prompt: [String] = []
    @Option(name: .customLong("prompts"), help: "A file with one prompt per line (# comments and blank lines skipped).")
    var promptsFile: String?
    @Option(help: "Images per prompt.") var n: Int = 4
    @Option(help: "Seed of the first image of each prompt (image j uses seed + j).") var seed: UInt64 = 0
    @Option(help: "Output folder.") var out: String = "samples"
    @Option(help: "Model folder (diffusers layout). Default: the bundled model \(Sample.bundledModel).") var model: String?
    @Option(help: "Scheduler: \(SchedulerChoice.names.joined(separator: ", ")) (default: the folder's).") var scheduler: String?
    @Option(help: "Denoising steps (default: the model's train_config.json sample_steps when it has one, else \(SampleJob.defaultSteps)).") var steps: Int?
    @Option(help: "Classifier-free guidance scale, >= 0; <= 1 turns guidance off (default: the model's train_config.json guidance_scale when it has one, else \(SampleJob.defaultGuidance)).")
    var guidance: Float?
    @Option(name: .customLong("guidance-rescale"),
            help: "diffusers' guidance_rescale in 0...1 (Lin et al. 2023; 0 = off). On the bundled model it did not help (Docs/RESULTS.md).")
    var guidanceRescale: Float = 0
    @Option(name: .customLong("negative-prompt"), help: "Negative prompt for every prompt.") var negativePrompt: String?
    @Option(help: "Images per U-Net call.") var batch: Int = 4
    @Option(help: "Image height in pixels (default: the model's).") var height: Int?
    @Option(help: "Image width in pixels (default: the model's).") var width: Int?
    @Option(help: "Weight file variant, e.g. fp16 for diffusion_pytorch_model.fp16.safetensors.") var variant: String?
    @Flag(help: "No progress bar.") var quiet = false
    @Option(help: "U-Net LoRA folder to merge (default: <model>/unet_lora when it exists).") var lora: String?
    @Flag(name: .customLong("no-lora"), help: "Do not merge any LoRA, not even <model>/unet_lora.") var noLoRA = false
    @Flag(name: .customLong("self-correct"), help: "DPT self-correction with the adapter's matching score.") var selfCorrect = false
    @Option(help: "Self-correction strength eta (default 0.5).") var eta: Float?
    @Option(name: .customLong("eta-steps"), help: "Self-correct only the first K denoising steps (default: every step).")
    var etaSteps: Int?
    @Option(name: .customLong("correction-mode"),
            help: "release (the scheduler steps from the uncorrected latent, as the authors' code) or paper (from the corrected one). Default release.")
    var correctionMode: String?
    @Option(help: "Adapter folder for self-correction (default: <model>/adapter).") var adapter: String?

    func validate() throws {
        if prompt.isEmpty && promptsFile == nil { throw ValidationError("give --prompt TEXT (repeatable) or --prompts FILE") }
        // Numbers first, before any file is read: NaN and infinities parse as Float and would reach the sampler.
        try OptionCheck.integer("--n", n, .within(1...OptionCheck.maxCount))
        try OptionCheck.integer("--batch", batch, .within(1...OptionCheck.maxCount))
        try OptionCheck.sampling(steps: steps, guidance: guidance, guidanceRescale: guidanceRescale)
        try OptionCheck.integer("--height", height, .within(1...OptionCheck.maxImageSide))
        try OptionCheck.integer("--width", width, .within(1...OptionCheck.maxImageSide))
        try OptionCheck.number("--eta", eta, .atLeast(0))
        try OptionCheck.integer("--eta-steps", etaSteps, .atLeast(0))
        if let scheduler { _ = try SchedulerChoice(name: scheduler) }
        if lora != nil && noLoRA { throw ValidationError("--lora and --no-lora exclude each other") }
        if !selfCorrect {
            let given = [eta.map { _ in "--eta" }, etaSteps.map { _ in "--eta-steps" }, correctionMode.map { _ in "--correction-mode" },
                         adapter.map { _ in "--adapter" }].compactMap { $0 }
            if !given.isEmpty { throw ValidationError("\(given.joined(separator: ", ")) only take effect with --self-correct") }
        } else {
            do { _ = try samplingVariant().selfCorrection } catch { throw ValidationError("\(error)") }
        }
    }

    /// The LoRA and self-correction choices as a `GenerationVariant`.
    func samplingVariant() throws -> GenerationVariant {
        let choice: GenerationVariant.LoRAChoice = noLoRA ? .none : lora.map { .folder(URL(fileURLWithPath: $0)) } ?? .automatic
        let settings = selfCorrect
            ? try GenerationVariant.selfCorrectionSettings(eta: eta ?? 0.5, etaSteps: etaSteps, mode: correctionMode ?? "release") : nil
        return GenerationVariant(name: "sample", lora: choice, selfCorrection: settings, adapter: adapter.map { URL(fileURLWithPath: $0) })
    }

    /// --model, or the bundled model found from the working directory or above the executable.
    func modelFolder() throws -> URL {
        if let model { return URL(fileURLWithPath: model) }
        var candidates = [URL(fileURLWithPath: FileManager.default.currentDirectoryPath)]
        var dir = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        for _ in 0..<6 {
            candidates.append(dir)
            dir = dir.deletingLastPathComponent()
        }
        for c in candidates {
            let url = c.appendingPathComponent(Sample.bundledModel)
            if FileManager.default.fileExists(atPath: url.appendingPathComponent("model_index.json").path) { return url }
        }
        throw ValidationError("the bundled model \(Sample.bundledModel) does not exist yet (it is trained with train-t2i and committed under Models/); pass --model DIR with a diffusers model folder")
    }

    func run() throws {
        var prompts = prompt
        if let promptsFile { prompts += try SampleJob.readPrompts(URL(fileURLWithPath: promptsFile)) }
        let folder = try modelFolder()
        let loadStart = Date()
        let loaded = try samplingVariant().load(model: folder, scheduler: scheduler, weightsVariant: variant)
        let pipeline = loaded.pipeline
        var job = SampleJob(prompts: prompts, output: URL(fileURLWithPath: out))
        job.selfCorrection = loaded.corrector
        job.imagesPerPrompt = n
        job.seed = seed
        job.negativePrompt = negativePrompt
        // A model trained by train-t2i records the sampler settings it was evaluated with; diffusers' 50 / 7.5 otherwise.
        let trained = FileManager.default.fileExists(atPath: folder.appendingPathComponent("train_config.json").path)
            ? try GenerationEvaluation.samplingDefaults(model: folder) : nil
        job.steps = steps ?? trained?.steps
        job.guidanceScale = guidance ?? trained?.guidanceScale
        job.guidanceRescale = guidanceRescale
        job.batch = batch
        job.height = height
        job.width = width
        let steps = job.steps ?? SampleJob.defaultSteps
        let size = pipeline.sampler.imageSize(GenerationOptions(height: height, width: width))
        log("model \(folder.path) loaded in \(String(format: "%.1f", Date().timeIntervalSince(loadStart))) s; "
            + "\(prompts.count) prompt(s) x \(n) image(s), \(size.height)x\(size.width), \(pipeline.scheduler.className) "
            + "\(steps) steps, guidance \(job.guidanceScale ?? SampleJob.defaultGuidance), batch \(batch)")
        log("LoRA: \(loaded.loraFolder.map { "\($0.path) (rank \(pipeline.loraConfig?.r ?? 0), merged)" } ?? "none")")
        if let c = loaded.corrector, let a = loaded.adapterFolder {
            log("self-correction: eta \(GenerationEvaluation.describe(c.settings.eta)), \(c.settings.mode.rawValue) mode, adapter \(a.path) "
                + "(taps \(loaded.scorer?.model.adapter.config.featureTaps.joined(separator: "+") ?? "?")"
                + "\(loaded.scorer?.randomUNetSeed.map { ", random-U-Net control seed \($0)" } ?? ""))")
        }
        let report = try job.run(on: pipeline, progress: quiet ? nil : ProgressBar(label: "sample"))
        log("wrote \(report.images.count) images and \(report.grid.path) "
            + "(\(String(format: "%.2f", Double(report.imageCount) / max(report.seconds, 1e-9))) images/s denoising + decoding; "
            + "\(String(format: "%.3f", report.secondsPerImage)) s/image wall)")
        if !report.corrections.isEmpty {
            // Mean adapter score over the images at the first and last corrected step.
            let steps = report.corrections.flatMap { $0 }.filter { !$0.scores.isEmpty }
            if let first = steps.map(\.stepIndex).min(), let last = steps.map(\.stepIndex).max() {
                func mean(_ i: Int) -> Double {
                    let s = steps.filter { $0.stepIndex == i }.flatMap(\.scores)
                    return s.reduce(0.0) { $0 + Double($1) } / Double(max(1, s.count))
                }
                log(String(format: "self-correction: mean adapter score %.4f at step %d, %.4f at step %d", mean(first), first, mean(last), last))
            }
        }
    }

    func log(_ s: String) { FileHandle.standardError.write(Data((s + "\n").utf8)) }
}

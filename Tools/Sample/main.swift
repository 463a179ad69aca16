// sample: text-to-image with a diffusers-layout model folder (the bundled model by default, or any Stable
// Diffusion 1.x/2.x folder). Writes one PNG per image and a grid. `swift run -c release sample --help`.
// Optional: a U-Net LoRA (DPT stage 2) and DPT's self-correction with a trained discriminative adapter.
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

    @Option(help: "A prompt (repeatable).") var prompt: [String] = []
    @Option(name: .customLong("prompts"), help: "A file with one prompt per line (# comments and blank lines skipped).")
    var promptsFile: String?
    @Option(help: "Images per prompt.") var n: Int = 4
    @Option(help: "Seed of the first image of each prompt (image j uses seed + j).") var seed: UInt64 = 0
    @Option(help: "Output folder.") var out: String = "samples"
    @Option(help: "Model folder (diffusers layout). Default: the bundled model \(ModelOptions.bundledModel).") var model: String?
    @Option(help: "Scheduler: \(SchedulerChoice.names.joined(separator: ", ")) (default: the folder's).") var scheduler: String?
    @OptionGroup var sampling: SamplingOptions
    @Option(name: .customLong("negative-prompt"), help: "Negative prompt for every prompt.") var negativePrompt: String?
    @Option(help: "Images per U-Net call.") var batch: Int = 4
    @Option(help: "Image height in pixels (default: the model's).") var height: Int?
    @Option(help: "Image width in pixels (default: the model's).") var width: Int?
    @Option(help: "Weight file variant, e.g. fp16 for diffusion_pytorch_model.fp16.safetensors.") var variant: String?
    @Flag(help: "No progress bar.") var quiet = false
    @OptionGroup var variantOptions: VariantOptions

    func validate() throws {
        if prompt.isEmpty && promptsFile == nil { throw ValidationError("give --prompt TEXT (repeatable) or --prompts FILE") }
        // Numbers first, before any file is read: NaN and infinities parse as Float and would reach the sampler.
        try OptionCheck.integer("--n", n, .within(1...OptionCheck.maxCount))
        try OptionCheck.integer("--batch", batch, .within(1...OptionCheck.maxCount))
        try OptionCheck.integer("--height", height, .within(1...OptionCheck.maxImageSide))
        try OptionCheck.integer("--width", width, .within(1...OptionCheck.maxImageSide))
        if let scheduler { _ = try SchedulerChoice(name: scheduler) }
    }

    func run() throws {
        var prompts = prompt
        if let promptsFile { prompts += try SampleJob.readPrompts(URL(fileURLWithPath: promptsFile)) }
        let folder = try ModelOptions.modelFolder(model)
        let loadStart = Date()
        let loaded = try variantOptions.variant(name: "sample").load(model: folder, scheduler: scheduler, weightsVariant: variant)
        let pipeline = loaded.pipeline
        var job = SampleJob(prompts: prompts, output: URL(fileURLWithPath: out))
        job.imagesPerPrompt = n
        job.seed = seed
        job.negativePrompt = negativePrompt
        // A model trained by train-t2i records the sampler settings it was evaluated with; diffusers' 50 / 7.5 otherwise.
        let (steps, guidance) = try sampling.resolve(model: folder, fallback: (SampleJob.defaultSteps, SampleJob.defaultGuidance))
        job.steps = steps
        job.guidanceScale = guidance
        job.guidanceRescale = sampling.guidanceRescale
        job.batch = batch
        job.height = height
        job.width = width
        if let c = loaded.corrector {
            try c.settings.validate(steps: steps)
            job.makeHooks = { [SelfCorrectionHook(corrector: c, scheduler: pipeline.scheduler)] }
        }
        let size = pipeline.sampler.imageSize(GenerationOptions(height: height, width: width))
        log("model \(folder.path) loaded in \(String(format: "%.1f", Date().timeIntervalSince(loadStart))) s; "
            + "\(prompts.count) prompt(s) x \(n) image(s), \(size.height)x\(size.width), \(pipeline.scheduler.className) "
            + "\(steps) steps, guidance \(guidance), batch \(batch)")
        log("LoRA: \(loaded.loraFolder.map { "\($0.path) (rank \(pipeline.loraConfig?.r ?? 0), merged)" } ?? "none")")
        if let c = loaded.corrector, let a = loaded.adapterFolder {
            log("self-correction: eta \(c.settings.eta), \(c.settings.mode.rawValue) mode, adapter \(a.path) "
                + "(taps \(loaded.scorer?.model.adapter.config.featureTaps.joined(separator: "+") ?? "?")"
                + "\(loaded.scorer?.randomUNetSeed.map { ", random-U-Net control seed \($0)" } ?? ""))")
        }
        let report = try job.run(on: pipeline, progress: quiet ? nil : ProgressBar(label: "sample"))
        log("wrote \(report.images.count) images and \(report.grid.path) "
            + "(\(String(format: "%.2f", Double(report.imageCount) / max(report.seconds, 1e-9))) images/s denoising + decoding; "
            + "\(String(format: "%.3f", report.secondsPerImage)) s/image wall)")
        let corrections = report.chunkHooks.flatMap { $0.compactMap { ($0 as? SelfCorrectionHook)?.records } }
        if !corrections.isEmpty {
            // Mean adapter score over the images at the first and last corrected step.
            let steps = corrections.flatMap { $0 }.filter { !$0.scores.isEmpty }
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

import DataIO
import Diffusion
import Foundation
import Tensor

/// The `sample` tool's work, as a library call: prompts -> PNGs and a grid in an output folder.
///
/// Images of a prompt are generated in chunks of `batch` (one U-Net call per step per chunk, CFG doubling it);
/// image j of every prompt uses seed `seed + j` for its initial latent (`Seeding.perImage`), so a file does not
/// depend on `batch` or on the other prompts (with a deterministic scheduler). With `makeHooks` every chunk runs
/// with fresh step hooks (e.g. DPT's self-correction, which reads each chunk's own prompt states and pooled
/// embedding e_y from the conditioning); hooked images depend on `batch` only through float rounding, as the plain
/// ones.
public struct SampleJob {
    public var prompts: [String]
    public var imagesPerPrompt: Int = 4
    public var seed: UInt64 = 0
    public var output: URL
    public var negativePrompt: String?
    public var steps: Int?
    public var guidanceScale: Float?
    /// diffusers' `guidance_rescale` (0...1, 0 = off).
    public var guidanceRescale: Float = 0
    public var batch: Int = 4
    public var height: Int?
    public var width: Int?
    public var gridColumns: Int?
    /// Step hooks for each chunk, made fresh per chunk (nil: plain sampling). A self-correction scorer must read
    /// `pipeline.unet`.
    public var makeHooks: (() -> [any StepHook])?

    public init(prompts: [String], output: URL) {
        self.prompts = prompts
        self.output = output
    }

    /// What a run wrote.
    public struct Report {
        /// PNG files, prompt-major.
        public var images: [URL]
        public var grid: URL
        /// Seconds of denoising + decoding over all chunks, and the image count.
        public var seconds: Double
        public var imageCount: Int
        /// Wall seconds per image, in `images` order: its chunk's wall time (prompt encoding, denoising with any
        /// self-correction, decoding; not the PNG writing) divided by the chunk's image count.
        public var imageSeconds: [Double]
        /// The hooks each chunk ran with, in generation order (their records, e.g. self-correction's); empty
        /// without `makeHooks`.
        public var chunkHooks: [[any StepHook]]

        /// Mean wall seconds per image.
        public var secondsPerImage: Double { imageSeconds.isEmpty ? 0 : imageSeconds.reduce(0, +) / Double(imageSeconds.count) }
    }

    /// Default steps and guidance: 50 and 7.5 (diffusers' defaults).
    public static let defaultSteps = 50
    public static let defaultGuidance: Float = 7.5

    /// Reads a prompt file: one prompt per line; blank lines and lines starting with `#` are skipped.
    public static func readPrompts(_ url: URL) throws -> [String] {
        let text: String
        do { text = try String(contentsOf: url, encoding: .utf8) } catch {
            throw PipelineError("prompts file", "cannot read \(url.path): \(error.localizedDescription)")
        }
        let prompts = text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty && !$0.hasPrefix("#") }
        guard !prompts.isEmpty else { throw PipelineError("prompts file", "\(url.path) holds no prompt") }
        return prompts
    }

    /// Runs the job on `pipeline`. `progress` receives (images done, images total, images/s, ETA, elapsed).
    public func run(on pipeline: StableDiffusionPipeline, progress: ProgressBar? = nil) throws -> Report {
        guard !prompts.isEmpty else { throw PipelineError("prompts", "no prompt given") }
        guard imagesPerPrompt > 0 else { throw PipelineError("n", "images per prompt must be at least 1, got \(imagesPerPrompt)") }
        guard batch > 0 else { throw PipelineError("batch", "batch size must be at least 1, got \(batch)") }
        guard (0...1).contains(guidanceRescale) else {
            throw PipelineError("guidance-rescale", "guidance rescale must be in 0...1, got \(guidanceRescale)")
        }
        let steps = self.steps ?? Self.defaultSteps
        let guidance = guidanceScale ?? Self.defaultGuidance
        // NaN would pass the pipeline's `guidance > 1` test as "no guidance" and sample silently.
        guard guidance.isFinite, guidance >= 0 else {
            throw PipelineError("guidance", "guidance scale must be a finite number >= 0, got \(guidance)")
        }
        guard steps >= 1 else { throw PipelineError("steps", "denoising steps must be at least 1, got \(steps)") }
        try FileManager.default.createDirectory(at: output, withIntermediateDirectories: true)
        let total = prompts.count * imagesPerPrompt
        var files: [URL] = []
        var all: [Tensor] = []
        var seconds = 0.0
        var imageSeconds: [Double] = []
        var chunkHooks: [[any StepHook]] = []
        var done = 0
        let start = Date()
        for (p, prompt) in prompts.enumerated() {
            var j = 0
            while j < imagesPerPrompt {
                let k = min(batch, imagesPerPrompt - j)
                let options = GenerationOptions(steps: steps, guidanceScale: guidance, guidanceRescale: guidanceRescale,
                                                height: height, width: width,
                                                imagesPerPrompt: k,
                                                seeding: .perImage((j..<(j + k)).map { seed &+ UInt64($0) }))
                let chunkStart = Date()
                let hooks = makeHooks?() ?? []
                let result = try pipeline.generate(prompts: [prompt], negativePrompt: negativePrompt, options: options,
                    hooks: hooks, progress: { step in
                        guard let progress, step.phase == .denoising else { return }
                        let elapsed = Date().timeIntervalSince(start)
                        let fraction = Double(done) + Double(k) * Double(step.step) / Double(step.stepCount)
                        let rate = fraction / max(elapsed, 1e-9)
                        progress.update(done: done, total: total, rate: rate,
                                        eta: rate > 0 ? (Double(total) - fraction) / rate : nil, elapsed: elapsed)
                    })
                let chunkSeconds = Date().timeIntervalSince(chunkStart)
                imageSeconds += Array(repeating: chunkSeconds / Double(k), count: k)
                if makeHooks != nil { chunkHooks.append(hooks) }
                seconds += result.denoisingSeconds + result.decodingSeconds
                let images = result.images!
                let names = (j..<(j + k)).map { String(format: "%03d-%@-s%llu", p, ImageOutput.slug(prompt), seed &+ UInt64($0)) }
                files += try ImageOutput.writePNGs(images, names: names, to: output)
                all.append(images)
                j += k
                done += k
                let elapsed = Date().timeIntervalSince(start)
                progress?.update(done: done, total: total, rate: Double(done) / max(elapsed, 1e-9),
                                 eta: Double(total - done) / max(Double(done) / max(elapsed, 1e-9), 1e-9),
                                 elapsed: elapsed, final: done == total)
            }
        }
        let grid = output.appendingPathComponent("grid.png")
        try ImageOutput.writeGrid(Tensor.concat(all, axis: 0), columns: gridColumns ?? imagesPerPrompt, to: grid)
        return Report(images: files, grid: grid, seconds: seconds, imageCount: total, imageSeconds: imageSeconds,
                      chunkHooks: chunkHooks)
    }
}

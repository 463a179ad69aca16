import Autodiff
import Foundation
import Tensor

/// What a text-to-image run returns.
public struct GenerationResult {
    /// Images [N, C, H, W] in [-1, 1] (clamped), N = prompts × images per prompt, prompt-major
    /// (p0 i0, p0 i1, p1 i0, ...). nil when decoding was not asked for.
    public var images: Tensor?
    /// The final denoiser-space latents [N, c, h, w] (before unscaling and decoding).
    public var latents: Tensor
    /// Denoising steps run (fewer than requested when a hook stopped the run).
    public var stepsRun: Int
    /// Whether a hook stopped the run early.
    public var stoppedEarly: Bool
    /// Seconds spent denoising and decoding.
    public var denoisingSeconds: Double
    public var decodingSeconds: Double
}

/// Text-to-image sampling with diffusers' `StableDiffusionPipeline` semantics, on already-encoded text.
///
/// Per step: the U-Net runs once on the batch [uncond; cond] (when guidance is on), the output is guided
/// (uncond + s · (cond − uncond)), and the scheduler steps. Initial latents are `randn` from a `TorchGenerator`
/// times the scheduler's `initNoiseSigma`, with diffusers' shape [N, latent channels, H / f, W / f], so a shared
/// seed reproduces `generator=torch.manual_seed(seed)`. The latents are decoded by the autoencoder
/// (`IdentityAutoencoder` for pixel-space models) one image at a time (bounded memory; the same numbers as a
/// batched decode).
public final class TextToImagePipeline {
    public let unet: any Denoiser
    public let autoencoder: any Autoencoder
    public var scheduler: any Scheduler
    /// The U-Net's native sample size (latent pixels [height, width]), which sets the default image size.
    public let sampleSize: (height: Int, width: Int)

    public init(unet: any Denoiser, autoencoder: any Autoencoder, scheduler: any Scheduler,
                sampleSize: (height: Int, width: Int)) throws {
        guard unet.inChannels == autoencoder.latentChannels else {
            throw PipelineError("unet", "in_channels \(unet.inChannels) does not match the autoencoder's \(autoencoder.latentChannels) latent channels")
        }
        guard unet.outChannels == autoencoder.latentChannels else {
            throw PipelineError("unet", "out_channels \(unet.outChannels) does not match the autoencoder's \(autoencoder.latentChannels) latent channels")
        }
        self.unet = unet
        self.autoencoder = autoencoder
        self.scheduler = scheduler
        self.sampleSize = sampleSize
    }

    /// A pipeline around a `UNet2DConditionModel` (its `sample_size` sets the default size; 64 when absent).
    public convenience init(unet: UNet2DConditionModel, autoencoder: any Autoencoder, scheduler: any Scheduler) throws {
        let size = unet.config.sampleSize?.perBlock(2) ?? [64, 64]
        try self.init(unet: unet as any Denoiser, autoencoder: autoencoder, scheduler: scheduler,
                      sampleSize: (size[0], size.count > 1 ? size[1] : size[0]))
    }

    /// The image size a run uses: the requested one or sample size × downscale factor.
    public func imageSize(_ options: GenerationOptions) -> (height: Int, width: Int) {
        (options.height ?? sampleSize.height * autoencoder.downscaleFactor,
         options.width ?? sampleSize.width * autoencoder.downscaleFactor)
    }

    /// The latent shape [N, c, h, w] of `count` images.
    public func latentShape(count: Int, options: GenerationOptions) throws -> [Int] {
        let (h, w) = imageSize(options)
        let f = autoencoder.downscaleFactor
        guard h > 0, w > 0, h % f == 0, w % f == 0 else {
            throw PipelineError("height/width", "image size \(h)x\(w) must be positive multiples of the autoencoder's downscale factor \(f)")
        }
        return [count, autoencoder.latentChannels, h / f, w / f]
    }

    /// The initial latents for `count` images: N(0, 1) draws times `initNoiseSigma`, per `options.seeding`.
    /// Returns the generator the scheduler draws its step noise from.
    public func initialLatents(count: Int, options: GenerationOptions) throws -> (Tensor, TorchGenerator) {
        let shape = try latentShape(count: count, options: options)
        var generator: TorchGenerator
        var noise: Tensor
        switch options.seeding {
        case let .shared(seed):
            generator = TorchGenerator(seed: seed)
            noise = generator.randn(shape)
        case let .perImage(seeds):
            guard seeds.count == count else {
                throw PipelineError("seeding", "\(seeds.count) per-image seeds for \(count) images")
            }
            var one = shape
            one[0] = 1
            var first: TorchGenerator?
            var parts: [Tensor] = []
            for s in seeds {
                var g = TorchGenerator(seed: s)
                parts.append(g.randn(one))
                if first == nil { first = g }
            }
            generator = first!
            noise = Tensor.concat(parts, axis: 0)
        }
        let sigma = scheduler.initNoiseSigma
        return (sigma == 1 ? noise : noise * sigma, generator)
    }

    /// Generates `conditioning.promptCount × options.imagesPerPrompt` images.
    ///
    /// - Parameters:
    ///   - latents: initial latents [N, c, h, w] to start from instead of drawing them (not scaled by
    ///     `initNoiseSigma`, as diffusers' `latents=` argument); the generator still follows `options.seeding`.
    ///   - hooks: called at every step in order (see `StepHook`).
    ///   - decode: false returns only the latents (`output_type="latent"`).
    ///   - progress: called after each step and after decoding.
    public func generate(_ conditioning: TextConditioning, options: GenerationOptions = GenerationOptions(),
                         latents initial: Tensor? = nil, hooks: [any StepHook] = [], decode: Bool = true,
                         progress: ((GenerationProgress) -> Void)? = nil) throws -> GenerationResult {
        try conditioning.validate(contextDim: unet.contextDim)
        guard options.steps > 0 else { throw PipelineError("steps", "need at least one denoising step, got \(options.steps)") }
        guard options.imagesPerPrompt > 0 else {
            throw PipelineError("imagesPerPrompt", "must be at least 1, got \(options.imagesPerPrompt)")
        }
        guard options.guidanceRescale >= 0, options.guidanceRescale <= 1 else {
            throw PipelineError("guidanceRescale", "guidance rescale \(options.guidanceRescale) is outside 0...1")
        }
        let cfg = options.usesGuidance
        if cfg && conditioning.uncond == nil {
            throw PipelineError("conditioning", "guidance scale \(options.guidanceScale) > 1 needs the unconditional (negative prompt) embeddings")
        }
        let count = conditioning.promptCount * options.imagesPerPrompt
        let cond = conditioning.repeatedPerPrompt(options.imagesPerPrompt)
        let context = cfg ? Tensor.concat([cond.uncond!, cond.cond], axis: 0) : cond.cond

        try scheduler.setTimesteps(options.steps)
        if let ddim = scheduler as? DDIMScheduler { ddim.eta = options.eta }
        var (x, generator) = try initialLatents(count: count, options: options)
        if let initial {
            let expected = try latentShape(count: count, options: options)
            guard initial.shape == expected else {
                throw PipelineError("latents", "initial latents of shape \(initial.shape), expected \(expected)")
            }
            x = initial
        }

        let timesteps = scheduler.timesteps
        let start = Date()
        var stepsRun = 0
        var stopped = false
        let contextVariable = Variable(context)
        for (i, t) in timesteps.enumerated() {
            let before = StepState(stepIndex: i, stepCount: timesteps.count, timestep: t, latents: x,
                                   conditioning: cond, guidanceScale: options.guidanceScale,
                                   modelOutput: nil, predictedOriginal: nil)
            var modelInput = x
            for hook in hooks {
                guard let replaced = hook.beforeNoisePrediction(before) else { continue }
                guard replaced.shape == x.shape else {
                    throw PipelineError("hook", "beforeNoisePrediction returned shape \(replaced.shape) for latents \(x.shape)")
                }
                modelInput = replaced
                if hook.stepsFromModifiedLatents { x = replaced }
            }
            let batched = cfg ? Tensor.concat([modelInput, modelInput], axis: 0) : modelInput
            let scaled = scheduler.scaleModelInput(batched, timestep: t)
            let raw = GradMode.noGrad {
                unet.predict(Variable(scaled), timestep: t, context: contextVariable).value
            }
            var eps = raw
            if cfg {
                eps = ClassifierFreeGuidance.combine(raw, scale: options.guidanceScale)
                if options.guidanceRescale > 0 {
                    let condOut = raw.sliced(axis: 0, start: count, end: 2 * count)
                    eps = ClassifierFreeGuidance.rescale(eps, cond: condOut, factor: options.guidanceRescale)
                }
            }
            let out = scheduler.step(modelOutput: eps, timestep: t, sample: x, generator: &generator)
            x = out.prevSample
            stepsRun = i + 1
            let after = StepState(stepIndex: i, stepCount: timesteps.count, timestep: t, latents: x,
                                  conditioning: cond, guidanceScale: options.guidanceScale,
                                  modelOutput: eps, predictedOriginal: out.predOriginalSample)
            for hook in hooks {
                switch hook.afterStep(after) {
                case .proceed: break
                case let .replaceLatents(z):
                    guard z.shape == x.shape else {
                        throw PipelineError("hook", "afterStep replaced latents of shape \(x.shape) by \(z.shape)")
                    }
                    x = z
                case .stop: stopped = true
                }
            }
            progress?(GenerationProgress(phase: .denoising, step: stepsRun, stepCount: timesteps.count,
                                         elapsed: Date().timeIntervalSince(start)))
            if stopped { break }
        }
        let denoised = Date().timeIntervalSince(start)

        var images: Tensor?
        if decode {
            images = decodeImages(x)
            progress?(GenerationProgress(phase: .done, step: stepsRun, stepCount: timesteps.count,
                                         elapsed: Date().timeIntervalSince(start)))
        }
        return GenerationResult(images: images, latents: x, stepsRun: stepsRun, stoppedEarly: stopped,
                                denoisingSeconds: denoised,
                                decodingSeconds: Date().timeIntervalSince(start) - denoised)
    }

    /// Images [N, C, H, W] in [-1, 1] from denoiser-space latents, decoded one image at a time.
    public func decodeImages(_ latents: Tensor) -> Tensor {
        tensorCheck(latents.rank == 4 && latents.shape[1] == autoencoder.latentChannels, "TextToImagePipeline.decodeImages",
                    "latents of shape \(latents.shape) are not [N, \(autoencoder.latentChannels), h, w]")
        let parts = GradMode.noGrad {
            (0..<latents.shape[0]).map { k in
                autoencoder.images(fromLatents: Variable(latents.sliced(axis: 0, start: k, end: k + 1))).value
            }
        }
        return (parts.count == 1 ? parts[0] : Tensor.concat(parts, axis: 0)).clamped(min: -1, max: 1)
    }
}

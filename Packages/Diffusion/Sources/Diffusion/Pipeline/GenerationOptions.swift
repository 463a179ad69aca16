/// Where the randomness of a generation comes from.
public enum Seeding: Equatable, Sendable {
    /// One generator for the whole batch, diffusers' `generator=torch.manual_seed(seed)`: the initial latents are one
    /// `randn` of the batch shape and stochastic schedulers draw their step noise from the same generator.
    case shared(UInt64)
    /// One seed per image, diffusers' `generator=[torch.manual_seed(s) for s in seeds]` for the initial latents:
    /// each image's latent is drawn alone, so an image does not depend on the batch it was generated in (with a
    /// deterministic scheduler). Stochastic schedulers draw their step noise from the first image's generator,
    /// after its latent.
    case perImage([UInt64])
}

/// Settings of one text-to-image run (diffusers' `StableDiffusionPipeline.__call__` arguments).
public struct GenerationOptions: Equatable, Sendable {
    /// Denoising steps (`num_inference_steps`).
    public var steps: Int
    /// Classifier-free guidance scale; at most 1 disables guidance (the unconditional half is not computed).
    public var guidanceScale: Float
    /// diffusers' `guidance_rescale` (Lin et al. 2023, eq. 16); 0 = off.
    public var guidanceRescale: Float
    /// Image size in pixels; nil = the U-Net's `sample_size` times the autoencoder's downscale factor.
    public var height: Int?
    public var width: Int?
    /// Images per prompt (`num_images_per_prompt`).
    public var imagesPerPrompt: Int
    public var seeding: Seeding
    /// DDIM's `eta` (used only by `DDIMScheduler`, like diffusers' `extra_step_kwargs`).
    public var eta: Float

    public init(steps: Int = 50, guidanceScale: Float = 7.5, guidanceRescale: Float = 0, height: Int? = nil,
                width: Int? = nil, imagesPerPrompt: Int = 1, seeding: Seeding = .shared(0), eta: Float = 0) {
        self.steps = steps
        self.guidanceScale = guidanceScale
        self.guidanceRescale = guidanceRescale
        self.height = height
        self.width = width
        self.imagesPerPrompt = imagesPerPrompt
        self.seeding = seeding
        self.eta = eta
    }

    /// Whether the U-Net also runs on the unconditional embeddings (diffusers: `guidance_scale > 1`).
    public var usesGuidance: Bool { guidanceScale > 1 }
}

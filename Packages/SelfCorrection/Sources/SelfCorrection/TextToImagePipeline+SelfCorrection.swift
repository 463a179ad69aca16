import Diffusion
import Tensor

extension TextToImagePipeline {
    /// `generate` with DPT's self-correction: a `SelfCorrectionHook` on this pipeline's scheduler runs first,
    /// then `hooks`. The scorer reads the prompts' pooled embeddings from `conditioning.pooled`, or from `pooled`
    /// when given ([P, D] or one row per image). Returns the result and the per-step records.
    public func generate(_ conditioning: TextConditioning, pooled: Tensor? = nil, selfCorrection corrector: SelfCorrector,
                         options: GenerationOptions = GenerationOptions(), latents: Tensor? = nil,
                         hooks: [any StepHook] = [], decode: Bool = true,
                         progress: ((GenerationProgress) -> Void)? = nil) throws -> (GenerationResult, [CorrectionRecord]) {
        try corrector.settings.validate(steps: options.steps)
        if let pooled {
            let p = conditioning.promptCount, n = p * options.imagesPerPrompt
            guard pooled.rank == 2, pooled.shape[0] == p || pooled.shape[0] == n else {
                throw SelfCorrectionError("pooled", "pooled text embeddings of shape \(pooled.shape) are not [\(p) prompts or \(n) images, D]")
            }
        }
        let hook = SelfCorrectionHook(corrector: corrector, scheduler: scheduler, pooled: pooled)
        let result = try generate(conditioning, options: options, latents: latents, hooks: [hook] + hooks,
                                  decode: decode, progress: progress)
        return (result, hook.records)
    }
}

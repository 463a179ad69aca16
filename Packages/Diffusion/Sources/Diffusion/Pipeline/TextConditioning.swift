import Tensor

/// The text conditioning of a generation, already encoded: one row per prompt.
///
/// `cond` holds the prompts' token states [P, L, D] (the text encoder's last hidden states, `cross_attention_dim`
/// wide); `uncond` the negative prompts' (or the empty prompt's) states of the same shape, used for
/// classifier-free guidance. The Diffusion package takes text only in this form, so that it does not depend on a
/// particular text encoder. `pooled` holds the prompts' pooled text embeddings [P, D_text] (CLIP's pooled output,
/// DPT's e_y) when the conditioner provides them; they travel with the token states so that step hooks such as
/// self-correction read them from the `StepState`, not from a side parameter.
public struct TextConditioning {
    public var cond: Tensor
    public var uncond: Tensor?
    public var pooled: Tensor?

    public init(cond: Tensor, uncond: Tensor? = nil, pooled: Tensor? = nil) {
        self.cond = cond
        self.uncond = uncond
        self.pooled = pooled
    }

    /// Number of prompts.
    public var promptCount: Int { cond.rank == 3 ? cond.shape[0] : 0 }

    /// Throws unless `cond` is [P, L, contextDim] with P > 0 and `uncond` (if any) has the same shape.
    public func validate(contextDim: Int) throws {
        guard cond.rank == 3, cond.shape[0] > 0, cond.shape[1] > 0, cond.shape[2] == contextDim else {
            throw PipelineError("conditioning", "prompt embeddings of shape \(cond.shape) are not [prompts, tokens, \(contextDim)] (the U-Net's cross_attention_dim is \(contextDim))")
        }
        if let pooled, pooled.rank != 2 || pooled.shape[0] != cond.shape[0] {
            throw PipelineError("conditioning", "pooled text embeddings of shape \(pooled.shape) are not [\(cond.shape[0]) prompts, D]")
        }
        if let uncond, uncond.shape != cond.shape {
            throw PipelineError("conditioning", "negative prompt embeddings of shape \(uncond.shape) do not match the prompt embeddings \(cond.shape) (one negative prompt per prompt, same token length)")
        }
    }

    /// Each prompt's row repeated `n` times in place ([p0, p0, p1, p1] for n = 2), as diffusers'
    /// `num_images_per_prompt` expands `prompt_embeds`.
    public func repeatedPerPrompt(_ n: Int) -> TextConditioning {
        guard n > 1 else { return self }
        let index = (0..<promptCount).flatMap { Array(repeating: $0, count: n) }
        return TextConditioning(cond: cond.indexSelect(axis: 0, indices: index),
                                uncond: uncond?.indexSelect(axis: 0, indices: index),
                                pooled: pooled?.indexSelect(axis: 0, indices: index))
    }

    /// Rows `range` of both halves.
    public func rows(_ range: Range<Int>) -> TextConditioning {
        TextConditioning(cond: cond.sliced(axis: 0, start: range.lowerBound, end: range.upperBound),
                         uncond: uncond?.sliced(axis: 0, start: range.lowerBound, end: range.upperBound),
                         pooled: pooled?.sliced(axis: 0, start: range.lowerBound, end: range.upperBound))
    }
}

/// The text-conditioner seam: prompts in, `TextConditioning` out (token states, the negative prompts' states when
/// guidance needs them, and pooled embeddings where the encoder has them). CLIP behind a tokenizer is one
/// conformer (`PromptEncoder` in the Pipeline package); a researcher's own text encoder is another, and the
/// sampling loop, the trainers and the evaluation code do not change.
public protocol TextConditioner: AnyObject {
    /// The width of the token states (the denoiser's `contextDim` must equal it).
    var contextDim: Int { get }
    /// The width of the pooled embeddings, or nil when the conditioner gives none.
    var pooledDim: Int? { get }
    /// The conditioning of `prompts`; `negativePrompts` one for all or one per prompt (nil: the empty prompt);
    /// `withUncond` false leaves `uncond` nil (guidance off). Returns warnings (e.g. truncated prompts) beside it.
    func conditioning(prompts: [String], negativePrompts: [String]?, withUncond: Bool) throws
        -> (TextConditioning, warnings: [String])
}

extension TextConditioner {
    /// The conditioning of `prompts` with the empty negative prompt.
    public func conditioning(prompts: [String], withUncond: Bool = true) throws -> (TextConditioning, warnings: [String]) {
        try conditioning(prompts: prompts, negativePrompts: nil, withUncond: withUncond)
    }
}

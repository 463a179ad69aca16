import Autodiff
import Diffusion
import Foundation
import Tensor
import TextEncoder
import Tokenizer

/// Prompts -> SD conditioning [P, L, D] with a CLIP tokenizer and text encoder, as diffusers'
/// `StableDiffusionPipeline.encode_prompt` does: fixed-length ids (padded to the tokenizer's context), no attention
/// mask, the encoder's last hidden state (or a `clipSkip` layer). Prompts longer than the context are truncated
/// (start token, the first L − 2 tokens, end token) and reported in `warnings`, with the words that were dropped.
/// `encode` and `conditioning` also return the pooled embedding e_y per prompt (CLIP's pooled output), the
/// text side of DPT's matching score.
public final class PromptEncoder: TextConditioner {
    public let tokenizer: CLIPTokenizer
    public let textEncoder: CLIPTextModel
    /// diffusers' `clip_skip` (nil: last layer).
    public var clipSkip: Int?

    public init(tokenizer: CLIPTokenizer, textEncoder: CLIPTextModel, clipSkip: Int? = nil) throws {
        guard tokenizer.contextLength <= textEncoder.config.maxPositionEmbeddings else {
            throw PipelineError("tokenizer", "context length \(tokenizer.contextLength) exceeds the text encoder's max_position_embeddings \(textEncoder.config.maxPositionEmbeddings)")
        }
        guard tokenizer.vocabularySize <= textEncoder.config.vocabSize else {
            throw PipelineError("tokenizer", "vocabulary of \(tokenizer.vocabularySize) tokens exceeds the text encoder's vocab_size \(textEncoder.config.vocabSize)")
        }
        self.tokenizer = tokenizer
        self.textEncoder = textEncoder
        self.clipSkip = clipSkip
    }

    public var contextDim: Int { textEncoder.config.hiddenSize }
    public var pooledDim: Int? { textEncoder.config.hiddenSize }

    /// The diffusers warning for a truncated prompt, or nil when it fits.
    public func truncationWarning(for prompt: String) throws -> String? {
        let ids = try tokenizer.encode(prompt)
        let room = tokenizer.contextLength - 2
        guard ids.count > room else { return nil }
        let removed = try tokenizer.decode(Array(ids[room...]))
        return "The following part of your input was truncated because CLIP can only handle sequences up to "
            + "\(tokenizer.contextLength) tokens: \(removed.trimmingCharacters(in: .whitespaces))"
    }

    /// Token states [prompts.count, L, D] (no graph recorded).
    public func embeddings(_ prompts: [String]) throws -> (Tensor, warnings: [String]) {
        guard !prompts.isEmpty else { throw PipelineError("prompts", "no prompt given") }
        let encoded = try tokenizer.encode(prompts)
        var warnings: [String] = []
        for (p, e) in zip(prompts, encoded) where e.wasTruncated {
            if let w = try truncationWarning(for: p) { warnings.append(w) }
        }
        let input = try CLIPTextInput(encoded)
        let states = GradMode.noGrad { textEncoder.promptEmbeddings(input, clipSkip: clipSkip).value }
        return (states, warnings)
    }

    /// Token states and pooled embeddings of a list of prompts.
    public struct EncodedPrompts {
        /// The U-Net conditioning [P, L, D]: exactly what `embeddings` returns (last hidden state or `clipSkip`).
        public var states: Tensor
        /// The pooled text embedding e_y per prompt [P, D]: CLIP's `pooler_output`, the end-token state of the
        /// last layer after the final LayerNorm. Always from the full encoder, whatever `clipSkip` is, because DPT
        /// scores images against it (method notes §3).
        public var pooled: Tensor
        public var warnings: [String]
    }

    /// Token states and pooled embeddings of `prompts` (no graph recorded). Without `clipSkip` one encoder pass
    /// gives both (the states are then bit-identical to `embeddings`); with it, a second, shorter pass gives the
    /// states.
    public func encode(_ prompts: [String]) throws -> EncodedPrompts {
        guard !prompts.isEmpty else { throw PipelineError("prompts", "no prompt given") }
        let encoded = try tokenizer.encode(prompts)
        var warnings: [String] = []
        for (p, e) in zip(prompts, encoded) where e.wasTruncated {
            if let w = try truncationWarning(for: p) { warnings.append(w) }
        }
        let input = try CLIPTextInput(encoded)
        return GradMode.noGrad {
            let out = textEncoder(input)
            let states = clipSkip == nil ? out.lastHiddenState.value : textEncoder.promptEmbeddings(input, clipSkip: clipSkip).value
            return EncodedPrompts(states: states, pooled: out.pooledOutput.value, warnings: warnings)
        }
    }

    /// The conditioning of `prompts` with their negative prompts (one per prompt, or one for all; nil = the empty
    /// prompt, as diffusers uses) and the prompts' pooled embeddings e_y (the negative prompts get none: DPT's
    /// self-correction scores the conditional branch only). `withUncond` false skips the negative half (guidance off).
    /// Without `clipSkip` one encoder pass gives the states and the pooled embeddings.
    public func conditioning(prompts: [String], negativePrompts: [String]? = nil,
                             withUncond: Bool = true) throws -> (TextConditioning, warnings: [String]) {
        let e = try encode(prompts)
        var (c, w) = try attachingNegatives(to: e.states, prompts: prompts, warnings: e.warnings, negativePrompts: negativePrompts,
                                            withUncond: withUncond)
        c.pooled = e.pooled
        return (c, w)
    }

    private func attachingNegatives(to cond: Tensor, prompts: [String], warnings: [String], negativePrompts: [String]?,
                                    withUncond: Bool) throws -> (TextConditioning, warnings: [String]) {
        guard withUncond else { return (TextConditioning(cond: cond), warnings) }
        var negatives = negativePrompts ?? [""]
        if negatives.count == 1 && prompts.count > 1 { negatives = Array(repeating: negatives[0], count: prompts.count) }
        guard negatives.count == prompts.count else {
            throw PipelineError("negative prompts", "\(negatives.count) negative prompts for \(prompts.count) prompts: give one, or one per prompt")
        }
        let (uncond, more) = try embeddings(negatives)
        return (TextConditioning(cond: cond, uncond: uncond), warnings + more)
    }
}

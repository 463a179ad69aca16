import Autodiff
import Tokenizer

extension CLIPTextModel {
    /// Tokenises `prompts` to `tokenizer.contextLength` (77 for SD) and returns the SD conditioning
    /// [prompts, contextLength, hidden] as `promptEmbeddings(_:clipSkip:)` does. No attention mask by default,
    /// like diffusers' SD pipelines. Runs under the caller's `GradMode`.
    public func encode(prompts: [String], tokenizer: CLIPTokenizer, clipSkip: Int? = nil,
                       useAttentionMask: Bool = false) throws -> Variable {
        guard tokenizer.contextLength <= config.maxPositionEmbeddings else {
            throw TextEncoderError.invalidInput("tokenizer context length \(tokenizer.contextLength) exceeds max_position_embeddings \(config.maxPositionEmbeddings)")
        }
        guard tokenizer.vocabularySize <= config.vocabSize else {
            throw TextEncoderError.invalidInput("tokenizer vocabulary (\(tokenizer.vocabularySize)) is larger than vocab_size \(config.vocabSize)")
        }
        let input = try CLIPTextInput(tokenizer.encode(prompts), useAttentionMask: useAttentionMask)
        return promptEmbeddings(input, clipSkip: clipSkip)
    }
}

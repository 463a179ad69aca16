import Tokenizer

/// A batch of token-id rows of equal length, with an optional attention mask (1 = token, 0 = padding).
///
/// Stable Diffusion pipelines pass no mask (`use_attention_mask` is absent from SD configs): padding tokens are
/// then attended to (causally), which is what the UNet was trained with. With a mask, padded keys are hidden as
/// transformers does (padding mask combined with the causal mask).
public struct CLIPTextInput: Equatable, Sendable {
    /// Token ids, row-major [batch, length].
    public let ids: [Int]
    public let batch: Int
    public let length: Int
    /// 0/1 per token, row-major [batch, length], or nil (attend to every earlier position).
    public let attentionMask: [Int]?

    /// Rows of equal, non-zero length; `attentionMask` (when given) has the same shape and holds only 0 and 1.
    public init(ids rows: [[Int]], attentionMask maskRows: [[Int]]? = nil) throws {
        guard let length = rows.first?.count, length > 0 else {
            throw TextEncoderError.invalidInput("no token ids (need at least one non-empty row)")
        }
        for (b, r) in rows.enumerated() where r.count != length {
            throw TextEncoderError.invalidInput("row \(b) has \(r.count) ids but row 0 has \(length)")
        }
        if let maskRows {
            guard maskRows.count == rows.count else {
                throw TextEncoderError.invalidInput("attention mask has \(maskRows.count) rows for \(rows.count) rows of ids")
            }
            for (b, r) in maskRows.enumerated() {
                guard r.count == length else {
                    throw TextEncoderError.invalidInput("attention mask row \(b) has \(r.count) entries, ids have \(length)")
                }
                if let bad = r.first(where: { $0 != 0 && $0 != 1 }) {
                    throw TextEncoderError.invalidInput("attention mask row \(b) holds \(bad); only 0 and 1 are allowed")
                }
            }
        }
        self.ids = rows.flatMap { $0 }
        self.batch = rows.count
        self.length = length
        self.attentionMask = maskRows.map { $0.flatMap { $0 } }
    }

    /// Tokenizer output; `useAttentionMask` passes the tokenizer's mask (SD pipelines do not).
    public init(_ encoded: [EncodedText], useAttentionMask: Bool = false) throws {
        try self.init(ids: encoded.map(\.ids), attentionMask: useAttentionMask ? encoded.map(\.attentionMask) : nil)
    }

    /// One row.
    public init(ids: [Int], attentionMask: [Int]? = nil) throws {
        try self.init(ids: [ids], attentionMask: attentionMask.map { [$0] })
    }
}

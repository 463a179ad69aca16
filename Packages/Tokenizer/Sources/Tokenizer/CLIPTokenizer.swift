import Foundation

/// The ids of one text encoded to a fixed context: `[start] tokens… [end] pad…`.
public struct EncodedText: Equatable, Sendable {
    /// `contextLength` token ids.
    public var ids: [Int]
    /// 1 for the start token, the text tokens and the end token; 0 for padding.
    public var attentionMask: [Int]
    /// Position of the end token (where CLIP's pooled output is read).
    public var endTokenIndex: Int
    /// Whether text tokens were dropped to fit the context.
    public var wasTruncated: Bool
}

/// CLIP's byte-level BPE tokenizer (OpenAI CLIP / open_clip `SimpleTokenizer`, and `transformers` `CLIPTokenizer`).
///
/// Thread-safe: the word cache is guarded by a lock, so one instance may encode from several threads.
public final class CLIPTokenizer: @unchecked Sendable {
    /// Token strings by id, as written in `vocab.json` (byte-level alphabet, `</w>` word ends).
    public let vocabulary: [String]
    /// Token string -> id.
    public let tokenIDs: [String: Int]
    /// Merge pairs in rank order.
    public let merges: [(String, String)]
    public let startToken: String
    public let endToken: String
    public let startTokenID: Int
    public let endTokenID: Int
    /// Id written after the end token up to the context length (SD 1.x: the end token 49407; SD 2.x: "!" = 0;
    /// open_clip: 0).
    public var padTokenID: Int
    /// Default context length of `encode(_:contextLength:)`.
    public var contextLength: Int
    public let normalization: TextNormalization
    /// Token emitted for bytes without a base token (trained vocabularies lack unseen bytes); nil: such text throws.
    public let unknownToken: String?
    /// Strings split from the raw text as whole tokens before normalisation (`.huggingFace` only: the config's
    /// bos/eos/unk/pad tokens).
    public let addedSpecialTokens: [String]

    let encoder: BytePairEncoder
    let preTokenizer: PreTokenizer
    /// Ids of the pattern's special alternatives when they match exactly (`.openCLIP`), else nil.
    private let patternSpecialIDs: [Int?]
    private let patternSpecialScalars: [[Unicode.Scalar]]
    /// Raw bytes of each token (without `</w>`) and whether it ends a word, for decoding.
    private let tokenBytes: [[UInt8]]
    private let tokenEndsWord: [Bool]

    public var vocabularySize: Int { vocabulary.count }

    /// Builds a tokenizer from an id-ordered vocabulary and rank-ordered merges.
    /// - Parameters:
    ///   - tokenIDs: token -> id; defaults to the inverse of `vocabulary` (for duplicates the last id wins, as in
    ///     open_clip's `dict(zip(vocab, range(len(vocab))))`).
    ///   - unknownToken: used for bytes without a base token; nil makes such text an encoding error.
    public init(
        vocabulary: [String], tokenIDs: [String: Int]? = nil, merges: [(String, String)],
        startToken: String, endToken: String, padToken: String, unknownToken: String? = nil,
        normalization: TextNormalization, contextLength: Int = 77, addedSpecialTokens: [String]? = nil,
        source: String = "vocabulary"
    ) throws {
        guard contextLength >= 2 else { throw TokenizerError.invalidArgument("context length \(contextLength) must be at least 2") }
        var ids = tokenIDs ?? [:]
        if tokenIDs == nil {
            ids.reserveCapacity(vocabulary.count)
            for (i, t) in vocabulary.enumerated() { ids[t] = i }
        }
        func id(_ token: String, _ context: String) throws -> Int {
            guard let v = ids[token] else { throw TokenizerError.missingToken(token, context: "\(context) in \(source)") }
            return v
        }
        self.vocabulary = vocabulary
        self.tokenIDs = ids
        self.merges = merges
        self.startToken = startToken
        self.endToken = endToken
        self.startTokenID = try id(startToken, "start token")
        self.endTokenID = try id(endToken, "end token")
        self.padTokenID = try id(padToken, "pad token")
        self.contextLength = contextLength
        self.normalization = normalization
        self.unknownToken = unknownToken

        var byteID = [Int32](repeating: -1, count: 256)
        var byteEndID = [Int32](repeating: -1, count: 256)
        for b in 0..<256 {
            let s = String(ByteEncoding.byteToScalar[b])
            if let v = ids[s] { byteID[b] = Int32(v) }
            if let v = ids[s + "</w>"] { byteEndID[b] = Int32(v) }
        }
        var table = [UInt64: UInt64]()
        table.reserveCapacity(merges.count)
        for (rank, (a, b)) in merges.enumerated() {
            let context = "merge \(rank + 1) \"\(a) \(b)\""
            let ia = try id(a, context), ib = try id(b, context), im = try id(a + b, context)
            table[BytePairEncoder.pairKey(Int32(ia), Int32(ib))] = UInt64(rank) << 32 | UInt64(im)
        }
        let unknownID = try unknownToken.map { Int32(try id($0, "unknown token")) }
        self.encoder = BytePairEncoder(byteID: byteID, byteEndOfWordID: byteEndID, merges: table, unknownID: unknownID)

        switch normalization {
        case .openCLIP:
            preTokenizer = PreTokenizer(patternSpecials: [startToken, endToken], caseInsensitive: true)
            patternSpecialIDs = [startTokenID, endTokenID]
            self.addedSpecialTokens = []
        case .huggingFace:
            // transformers' pattern starts with <|startoftext|>|<|endoftext|>, but its ByteLevel pre-tokenizer then
            // re-splits such a piece with GPT-2's pattern into "<|", letters, "|>": the same as having no special
            // alternative at all.
            preTokenizer = PreTokenizer(patternSpecials: [], caseInsensitive: false)
            patternSpecialIDs = []
            var added = [String]()
            for t in addedSpecialTokens ?? [startToken, endToken, padToken] + (unknownToken.map { [$0] } ?? []) where !added.contains(t) {
                _ = try id(t, "special token")
                added.append(t)
            }
            // Longest first: the leftmost-longest match of the added-token splitter.
            self.addedSpecialTokens = added.sorted { $0.unicodeScalars.count > $1.unicodeScalars.count }
        }
        patternSpecialScalars = [startToken, endToken].map { Array($0.unicodeScalars) }

        var bytes = [[UInt8]]()
        var endsWord = [Bool]()
        bytes.reserveCapacity(vocabulary.count)
        endsWord.reserveCapacity(vocabulary.count)
        for token in vocabulary {
            let eow = token.hasSuffix("</w>")
            let body = eow ? String(token.dropLast(4)) : token
            bytes.append(ByteEncoding.decode(body) ?? Array(body.utf8))
            endsWord.append(eow)
        }
        tokenBytes = bytes
        tokenEndsWord = endsWord
    }

    // MARK: Encoding

    /// The token ids of `text` without start/end tokens or padding (open_clip `SimpleTokenizer.encode`).
    public func encode(_ text: String) throws -> [Int] {
        var out = [Int]()
        try appendTokens(of: text, to: &out)
        return out
    }

    /// Encodes to a fixed context: start token, text tokens, end token, then `padTokenID`. Longer texts are cut
    /// and the end token is kept as the last token (open_clip and `transformers` truncation).
    public func encode(_ text: String, contextLength: Int? = nil) throws -> EncodedText {
        let length = contextLength ?? self.contextLength
        guard length >= 2 else { throw TokenizerError.invalidArgument("context length \(length) must be at least 2") }
        var ids = [Int]()
        ids.reserveCapacity(length)
        ids.append(startTokenID)
        try appendTokens(of: text, to: &ids)
        let truncated = ids.count + 1 > length
        if truncated { ids.removeLast(ids.count - (length - 1)) }
        ids.append(endTokenID)
        let used = ids.count
        ids.append(contentsOf: repeatElement(padTokenID, count: length - used))
        var mask = [Int](repeating: 0, count: length)
        for k in 0..<used { mask[k] = 1 }
        return EncodedText(ids: ids, attentionMask: mask, endTokenIndex: used - 1, wasTruncated: truncated)
    }

    /// Encodes a batch to a fixed context.
    public func encode(_ texts: [String], contextLength: Int? = nil) throws -> [EncodedText] {
        try texts.map { try encode($0, contextLength: contextLength) }
    }

    /// The token strings of `text` (no start/end tokens).
    public func tokenize(_ text: String) throws -> [String] {
        try encode(text).map { vocabulary[$0] }
    }

    private func appendTokens(of text: String, to out: inout [Int]) throws {
        switch normalization {
        case .openCLIP:
            try appendSegment(TextNormalizer.openCLIPClean(Array(text.unicodeScalars)), to: &out)
        case .huggingFace:
            let raw = Array(text.unicodeScalars)
            var segmentStart = 0
            var i = 0
            let specials = addedSpecialTokens.map { Array($0.unicodeScalars) }
            while i < raw.count {
                var matched: Int? = nil
                for (k, s) in specials.enumerated() where i + s.count <= raw.count && raw[i..<(i + s.count)].elementsEqual(s) {
                    matched = k
                    break
                }
                guard let k = matched else { i += 1; continue }
                if segmentStart < i { try appendSegment(TextNormalizer.huggingFaceClean(Array(raw[segmentStart..<i])), to: &out) }
                out.append(tokenIDs[addedSpecialTokens[k]]!)
                i += specials[k].count
                segmentStart = i
            }
            if segmentStart < raw.count { try appendSegment(TextNormalizer.huggingFaceClean(Array(raw[segmentStart...])), to: &out) }
        }
    }

    /// Pre-tokenises normalised text and appends each piece's BPE ids.
    private func appendSegment(_ text: [Unicode.Scalar], to out: inout [Int]) throws {
        var pieces = [PreTokenizer.Piece]()
        text.withUnsafeBufferPointer { preTokenizer.split($0, into: &pieces) }
        var bytes = [UInt8]()
        for piece in pieces {
            if piece.special >= 0, let id = patternSpecialIDs[piece.special],
               text[piece.start..<piece.end].elementsEqual(patternSpecialScalars[piece.special]) {
                out.append(id)
                continue
            }
            bytes.removeAll(keepingCapacity: true)
            for k in piece.start..<piece.end { appendUTF8(text[k], to: &bytes) }
            try encoder.encodeWord(bytes, into: &out)
        }
    }

    @inline(__always) private func appendUTF8(_ s: Unicode.Scalar, to bytes: inout [UInt8]) {
        let v = s.value
        if v < 0x80 { bytes.append(UInt8(v)); return }
        if v < 0x800 { bytes.append(UInt8(0xC0 | v >> 6)); bytes.append(UInt8(0x80 | v & 0x3F)); return }
        if v < 0x10000 {
            bytes.append(UInt8(0xE0 | v >> 12)); bytes.append(UInt8(0x80 | (v >> 6) & 0x3F)); bytes.append(UInt8(0x80 | v & 0x3F))
            return
        }
        bytes.append(UInt8(0xF0 | v >> 18)); bytes.append(UInt8(0x80 | (v >> 12) & 0x3F))
        bytes.append(UInt8(0x80 | (v >> 6) & 0x3F)); bytes.append(UInt8(0x80 | v & 0x3F))
    }

    // MARK: Decoding

    /// Text of token ids (open_clip `decode`): bytes joined, invalid UTF-8 replaced by U+FFFD, `</w>` -> " ".
    /// With `skipSpecialTokens`, start, end and pad ids are left out.
    public func decode(_ ids: [Int], skipSpecialTokens: Bool = false) throws -> String {
        var bytes = [UInt8]()
        for id in ids {
            guard id >= 0, id < vocabulary.count else { throw TokenizerError.invalidTokenID(id, vocabularySize: vocabulary.count) }
            if skipSpecialTokens && (id == startTokenID || id == endTokenID || id == padTokenID) { continue }
            bytes.append(contentsOf: tokenBytes[id])
            if tokenEndsWord[id] { bytes.append(UInt8(ascii: " ")) }
        }
        // Python replaces "</w>" after UTF-8 decoding; ASCII bytes decode to themselves whatever surrounds them, so
        // replacing on bytes is the same (and avoids Swift's grapheme-aware matching when a combining mark follows).
        var out = [UInt8]()
        out.reserveCapacity(bytes.count)
        var k = 0
        while k < bytes.count {
            if bytes[k] == UInt8(ascii: "<"), k + 3 < bytes.count, bytes[k + 1] == UInt8(ascii: "/"),
               bytes[k + 2] == UInt8(ascii: "w"), bytes[k + 3] == UInt8(ascii: ">") {
                out.append(UInt8(ascii: " ")); k += 4
            } else {
                out.append(bytes[k]); k += 1
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Text of a fixed-context encoding: the tokens between the start and the end token.
    public func decode(_ encoded: EncodedText) throws -> String {
        try decode(Array(encoded.ids[1..<encoded.endTokenIndex]))
    }

    /// Token strings of ids.
    public func tokens(_ ids: [Int]) throws -> [String] {
        try ids.map { id in
            guard id >= 0, id < vocabulary.count else { throw TokenizerError.invalidTokenID(id, vocabularySize: vocabulary.count) }
            return vocabulary[id]
        }
    }

    /// Number of words in the BPE cache.
    public var cachedWordCount: Int { encoder.cacheCount }
}

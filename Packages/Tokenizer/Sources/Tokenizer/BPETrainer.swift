/// Learns byte-level BPE merges from a corpus, CLIP style: the text is normalised and pre-tokenised exactly like
/// encoding does, the base vocabulary is every byte seen in the corpus (each with and without `</w>`, in CLIP's byte
/// order), then the most frequent adjacent pair is merged repeatedly (ties: the lexicographically smallest pair)
/// until the vocabulary reaches `vocabularySize` (base tokens + merges + start and end tokens) or no pair occurs
/// `minimumFrequency` times.
public struct BPETrainer: Sendable {
    public var vocabularySize: Int
    public var minimumFrequency: Int
    public var normalization: TextNormalization
    public var startToken: String
    public var endToken: String
    public var contextLength: Int

    public init(
        vocabularySize: Int, minimumFrequency: Int = 2, normalization: TextNormalization = .openCLIP,
        startToken: String = "<|startoftext|>", endToken: String = "<|endoftext|>", contextLength: Int = 77
    ) {
        self.vocabularySize = vocabularySize
        self.minimumFrequency = minimumFrequency
        self.normalization = normalization
        self.startToken = startToken
        self.endToken = endToken
        self.contextLength = contextLength
    }

    /// Trains on `corpus` and returns the tokenizer (pads with the end token; no unknown token, so bytes never seen
    /// in the corpus make encoding throw).
    public func train<S: Sequence>(corpus: S) throws -> CLIPTokenizer where S.Element == String {
        guard minimumFrequency >= 1 else { throw TokenizerError.invalidArgument("BPETrainer: minimumFrequency must be >= 1") }
        // 1. Word frequencies over the pre-tokenised corpus.
        let preTokenizer = PreTokenizer(patternSpecials: [startToken, endToken], caseInsensitive: normalization == .openCLIP)
        var wordCounts = [[UInt8]: Int]()
        var pieces = [PreTokenizer.Piece]()
        for text in corpus {
            let normalized = TextNormalizer.normalize(text, mode: normalization)
            pieces.removeAll(keepingCapacity: true)
            normalized.withUnsafeBufferPointer { preTokenizer.split($0, into: &pieces) }
            for piece in pieces where piece.special < 0 {
                var bytes = [UInt8]()
                for k in piece.start..<piece.end { bytes.append(contentsOf: String(normalized[k]).utf8) }
                wordCounts[bytes, default: 0] += 1
            }
        }
        // 2. Base vocabulary.
        var seen = [Bool](repeating: false, count: 256)
        for word in wordCounts.keys { for b in word { seen[Int(b)] = true } }
        let alphabet = ByteEncoding.bytesInVocabularyOrder.filter { seen[Int($0)] }
        var vocabulary = alphabet.map { String(ByteEncoding.byteToScalar[Int($0)]) }
        vocabulary += vocabulary.map { $0 + "</w>" }
        guard vocabularySize >= vocabulary.count + 2 else {
            throw TokenizerError.invalidArgument(
                "BPETrainer: vocabularySize \(vocabularySize) is below the \(vocabulary.count) base tokens + 2 special tokens of this corpus")
        }
        var ids = [String: Int32]()
        for (i, t) in vocabulary.enumerated() { ids[t] = Int32(i) }
        var byteID = [Int32](repeating: -1, count: 256), byteEndID = [Int32](repeating: -1, count: 256)
        for (i, b) in alphabet.enumerated() {
            byteID[Int(b)] = Int32(i)
            byteEndID[Int(b)] = Int32(i + alphabet.count)
        }
        // 3. Words as symbol ids; pair statistics.
        let sortedWords = wordCounts.sorted { $0.key.lexicographicallyPrecedes($1.key) }
        var words: [[Int32]] = sortedWords.map { w in
            w.key.enumerated().map { k, b in k == w.key.count - 1 ? byteEndID[Int(b)] : byteID[Int(b)] }
        }
        let freqs = sortedWords.map(\.value)
        var pairCounts = [UInt64: Int]()
        var pairWords = [UInt64: [Int]]()
        func account(_ w: Int, _ sign: Int, registerWords: Bool) {
            let symbols = words[w]
            guard symbols.count > 1 else { return }
            for k in 0..<(symbols.count - 1) {
                let key = BytePairEncoder.pairKey(symbols[k], symbols[k + 1])
                pairCounts[key, default: 0] += sign * freqs[w]
                if registerWords { pairWords[key, default: []].append(w) }
            }
        }
        for w in 0..<words.count { account(w, 1, registerWords: true) }
        // 4. Merge loop.
        var merges = [(String, String)]()
        while vocabulary.count + 2 < vocabularySize {
            var best: (key: UInt64, count: Int)? = nil
            for (key, count) in pairCounts where count >= minimumFrequency {
                if let b = best {
                    if count < b.count { continue }
                    if count == b.count && !precedes(key, b.key, vocabulary) { continue }
                }
                best = (key, count)
            }
            guard let chosen = best else { break }
            let first = Int32(truncatingIfNeeded: chosen.key >> 32), second = Int32(truncatingIfNeeded: chosen.key & 0xFFFF_FFFF)
            let left = vocabulary[Int(first)], right = vocabulary[Int(second)]
            let mergedToken = left + right
            let merged: Int32
            if let existing = ids[mergedToken] {
                merged = existing
            } else {
                merged = Int32(vocabulary.count)
                vocabulary.append(mergedToken)
                ids[mergedToken] = merged
            }
            merges.append((left, right))
            var affected = pairWords[chosen.key] ?? []
            affected = Array(Set(affected)).sorted()
            for w in affected {
                account(w, -1, registerWords: false)
                var out = [Int32]()
                var k = 0
                let symbols = words[w]
                while k < symbols.count {
                    if symbols[k] == first, k + 1 < symbols.count, symbols[k + 1] == second {
                        out.append(merged); k += 2
                    } else {
                        out.append(symbols[k]); k += 1
                    }
                }
                words[w] = out
                account(w, 1, registerWords: true)
            }
            pairCounts = pairCounts.filter { $0.value > 0 }
            pairWords[chosen.key] = nil
        }
        vocabulary += [startToken, endToken]
        return try CLIPTokenizer(
            vocabulary: vocabulary, merges: merges, startToken: startToken, endToken: endToken, padToken: endToken,
            unknownToken: nil, normalization: normalization, contextLength: contextLength, source: "BPETrainer")
    }

    /// Deterministic tie-break: compare the pairs' token strings (left first, then right).
    private func precedes(_ a: UInt64, _ b: UInt64, _ vocabulary: [String]) -> Bool {
        let a0 = vocabulary[Int(a >> 32)], b0 = vocabulary[Int(b >> 32)]
        if a0 != b0 { return a0.unicodeScalars.lexicographicallyPrecedes(b0.unicodeScalars, by: { $0.value < $1.value }) }
        let a1 = vocabulary[Int(a & 0xFFFF_FFFF)], b1 = vocabulary[Int(b & 0xFFFF_FFFF)]
        return a1.unicodeScalars.lexicographicallyPrecedes(b1.unicodeScalars, by: { $0.value < $1.value })
    }
}

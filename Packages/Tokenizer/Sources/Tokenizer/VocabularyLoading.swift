import Foundation

extension CLIPTokenizer {
    /// Special-token names of open_clip 3.x (`<start_of_text>`, `<end_of_text>`); OpenAI's original CLIP code names
    /// the same ids `<|startoftext|>` and `<|endoftext|>` (as do the Hugging Face files).
    public static let openCLIPSpecialTokens = (start: "<start_of_text>", end: "<end_of_text>")

    /// Loads the original merges file `bpe_simple_vocab_16e6.txt.gz` (gzip or plain text) the way open_clip does:
    /// merges are lines `[1 : 49152-256-2+1]`, the vocabulary is the 256 byte tokens, the same with `</w>`, one
    /// token per merge, then the start and end tokens (49,408 ids; start 49406, end 49407).
    /// - Parameters:
    ///   - mergeCount: merges to read (48,894 for CLIP); nil reads every merge line.
    ///   - padToken: open_clip pads with 0 (`"!"`); pass `end` to pad like SD 1.x.
    public convenience init(
        bpeFile path: String, mergeCount: Int? = 49152 - 256 - 2, start: String = openCLIPSpecialTokens.start,
        end: String = openCLIPSpecialTokens.end, padToken: String = "!", normalization: TextNormalization = .openCLIP,
        contextLength: Int = 77
    ) throws {
        let data = try Self.readBytes(path)
        let text = try Self.utf8(Gzip.isGzip(data) ? Gzip.decompress(data, path: path) : data, path: path)
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        guard lines.count > 1 else { throw TokenizerError.malformed(path: path, reason: "no merge lines") }
        lines.removeFirst()  // "#version: 0.2"
        if let mergeCount {
            guard lines.count >= mergeCount else {
                throw TokenizerError.malformed(path: path, reason: "\(lines.count) merge lines, \(mergeCount) expected")
            }
            lines = Array(lines[0..<mergeCount])
        } else {
            while let last = lines.last, last.isEmpty { lines.removeLast() }
        }
        let merges = try lines.enumerated().map { try Self.parseMerge($1, line: $0 + 2, path: path) }
        var vocabulary = ByteEncoding.bytesInVocabularyOrder.map { String(ByteEncoding.byteToScalar[Int($0)]) }
        vocabulary += vocabulary.map { $0 + "</w>" }
        vocabulary += merges.map { $0.0 + $0.1 }
        vocabulary += [start, end]
        try self.init(
            vocabulary: vocabulary, merges: merges, startToken: start, endToken: end, padToken: padToken,
            normalization: normalization, contextLength: contextLength, source: path)
    }

    /// Loads the Hugging Face pair `vocab.json` + `merges.txt` (every merge line after an optional `#version` header).
    public convenience init(
        vocabJSON: String, mergesFile: String, start: String = "<|startoftext|>", end: String = "<|endoftext|>",
        padToken: String = "<|endoftext|>", unknownToken: String? = "<|endoftext|>",
        normalization: TextNormalization = .huggingFace, contextLength: Int = 77
    ) throws {
        let (vocabulary, ids) = try Self.readVocabJSON(vocabJSON)
        let merges = try Self.readMergesFile(mergesFile)
        try self.init(
            vocabulary: vocabulary, tokenIDs: ids, merges: merges, startToken: start, endToken: end, padToken: padToken,
            unknownToken: unknownToken.flatMap { ids[$0] == nil ? nil : $0 }, normalization: normalization,
            contextLength: contextLength, source: vocabJSON)
    }

    /// Loads a diffusers/transformers tokenizer folder (`tokenizer/` of an SD model): `vocab.json`, `merges.txt`, and
    /// the bos/eos/unk/pad tokens and `model_max_length` from `tokenizer_config.json` and `special_tokens_map.json`
    /// where present (the pad token matters: SD 1.x pads with `<|endoftext|>` = 49407, SD 2.x with `!` = 0).
    /// Missing entries take `CLIPTokenizer`'s defaults.
    public convenience init(folder: String, normalization: TextNormalization = .huggingFace, contextLength: Int? = nil) throws {
        let base = URL(fileURLWithPath: folder)
        var settings = [String: Any]()
        for name in ["special_tokens_map.json", "tokenizer_config.json"] {
            let path = base.appendingPathComponent(name).path
            guard FileManager.default.fileExists(atPath: path) else { continue }
            guard let object = try JSONSerialization.jsonObject(with: Data(Self.readBytes(path))) as? [String: Any] else {
                throw TokenizerError.malformed(path: path, reason: "not a JSON object")
            }
            for (k, v) in object { settings[k] = v }  // tokenizer_config.json wins
        }
        func token(_ key: String, _ fallback: String) throws -> String {
            switch settings[key] {
            case nil, is NSNull: return fallback
            case let s as String: return s
            case let d as [String: Any]:
                guard let s = d["content"] as? String else {
                    throw TokenizerError.malformed(path: folder, reason: "\(key) has no \"content\" string")
                }
                return s
            default: throw TokenizerError.malformed(path: folder, reason: "\(key) is neither a string nor an object")
            }
        }
        let start = try token("bos_token", "<|startoftext|>"), end = try token("eos_token", "<|endoftext|>")
        let pad = try token("pad_token", "<|endoftext|>")
        // An explicit null unk_token (written by BPETrainer) means: no unknown token, unseen bytes are an error.
        let unk: String? = settings["unk_token"] is NSNull ? nil : try token("unk_token", "<|endoftext|>")
        var length = contextLength ?? 77
        if contextLength == nil, let m = settings["model_max_length"] as? NSNumber, m.doubleValue >= 2, m.doubleValue < 1e6 {
            length = m.intValue
        }
        let (vocabulary, ids) = try Self.readVocabJSON(base.appendingPathComponent("vocab.json").path)
        let merges = try Self.readMergesFile(base.appendingPathComponent("merges.txt").path)
        var added = [start, end] + (unk.map { [$0] } ?? []) + [pad]
        if let extra = settings["additional_special_tokens"] as? [Any] {
            added += extra.compactMap { ($0 as? String) ?? (($0 as? [String: Any])?["content"] as? String) }
        }
        try self.init(
            vocabulary: vocabulary, tokenIDs: ids, merges: merges, startToken: start, endToken: end, padToken: pad,
            unknownToken: unk, normalization: normalization, contextLength: length, addedSpecialTokens: added, source: folder)
    }

    // MARK: File helpers

    static func readBytes(_ path: String) throws -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw TokenizerError.unreadableFile(path: path, reason: "missing or unreadable")
        }
        return [UInt8](data)
    }

    static func utf8(_ bytes: [UInt8], path: String) throws -> String {
        guard let s = String(validating: bytes, as: UTF8.self) else {
            throw TokenizerError.malformed(path: path, reason: "not valid UTF-8")
        }
        return s
    }

    static func parseMerge(_ line: Substring, line number: Int, path: String) throws -> (String, String) {
        let parts = line.split(separator: " ", omittingEmptySubsequences: true)
        guard parts.count == 2 else {
            throw TokenizerError.malformed(path: path, reason: "line \(number) \"\(line)\" is not a merge pair \"a b\"")
        }
        return (String(parts[0]), String(parts[1]))
    }

    /// `vocab.json`: a JSON object token -> id; ids must be exactly 0..<count.
    static func readVocabJSON(_ path: String) throws -> ([String], [String: Int]) {
        let object: Any
        do { object = try JSONSerialization.jsonObject(with: Data(readBytes(path))) } catch let e as TokenizerError { throw e } catch {
            throw TokenizerError.malformed(path: path, reason: "invalid JSON: \(error)")
        }
        guard let dict = object as? [String: Any] else { throw TokenizerError.malformed(path: path, reason: "not a JSON object") }
        var vocabulary = [String?](repeating: nil, count: dict.count)
        var ids = [String: Int](minimumCapacity: dict.count)
        for (token, value) in dict {
            guard let number = value as? NSNumber, let id = Int(exactly: number.doubleValue), id >= 0, id < dict.count else {
                throw TokenizerError.malformed(path: path, reason: "token \"\(token)\" has id \(value), ids must be 0..<\(dict.count)")
            }
            guard vocabulary[id] == nil else {
                throw TokenizerError.malformed(path: path, reason: "id \(id) is used by \"\(vocabulary[id]!)\" and \"\(token)\"")
            }
            vocabulary[id] = token
            ids[token] = id
        }
        return (vocabulary.map { $0! }, ids)
    }

    /// `merges.txt`: an optional `#version` line, then one "a b" pair per line.
    static func readMergesFile(_ path: String) throws -> [(String, String)] {
        let text = try utf8(readBytes(path), path: path)
        var merges = [(String, String)]()
        for (i, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let trimmed = line.hasSuffix("\r") ? line.dropLast() : line
            if trimmed.isEmpty || (i == 0 && trimmed.hasPrefix("#version")) { continue }
            merges.append(try parseMerge(trimmed, line: i + 1, path: path))
        }
        return merges
    }
}

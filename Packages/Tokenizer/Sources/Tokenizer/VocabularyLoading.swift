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
        if let mergeCount, mergeCount < 0 { throw TokenizerError.invalidArgument("merge count \(mergeCount) is negative") }
        let data = try Self.readBytes(path)
        let raw = Gzip.isGzip(data) ? try Gzip.decompress(data, path: path, limit: Self.maximumFileBytes) : data
        let text = try Self.utf8(raw, path: path)
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
        let lineNumbers = Array(2..<(2 + merges.count))
        var vocabulary = ByteEncoding.bytesInVocabularyOrder.map { String(ByteEncoding.byteToScalar[Int($0)]) }
        vocabulary += vocabulary.map { $0 + "</w>" }
        vocabulary += merges.map { $0.0 + $0.1 }
        vocabulary += [start, end]
        try Self.checkMerges(merges, lines: lineNumbers, vocabulary: Set(vocabulary), path: path)
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
        let (merges, lines) = try Self.readMergesFile(mergesFile)
        try Self.checkMerges(merges, lines: lines, vocabulary: Set(ids.keys), path: mergesFile)
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
        var settings = [String: TokenizerJSON.Value]()
        var settingsFile = [String: String]()
        for name in ["special_tokens_map.json", "tokenizer_config.json"] {
            let path = base.appendingPathComponent(name).path
            guard FileManager.default.fileExists(atPath: path) else { continue }
            guard case let .object(members) = try Self.readJSON(path) else {
                throw TokenizerError.malformed(path: path, reason: "not a JSON object")
            }
            for m in members {  // tokenizer_config.json wins
                settings[m.key] = m.value
                settingsFile[m.key] = "\(path) line \(m.line)"
            }
        }
        func token(_ key: String, _ fallback: String) throws -> String {
            switch settings[key] {
            case nil, .null?: return fallback
            case let .string(s)?: return s
            case let .object(members)?:
                guard case let .string(s)? = members.first(where: { $0.key == "content" })?.value else {
                    throw TokenizerError.malformed(path: settingsFile[key] ?? folder, reason: "\(key) has no \"content\" string")
                }
                return s
            default: throw TokenizerError.malformed(path: settingsFile[key] ?? folder, reason: "\(key) is neither a string nor an object")
            }
        }
        let start = try token("bos_token", "<|startoftext|>"), end = try token("eos_token", "<|endoftext|>")
        let pad = try token("pad_token", "<|endoftext|>")
        // An explicit null unk_token (written by BPETrainer) means: no unknown token, unseen bytes are an error.
        let unk: String?
        if case .null? = settings["unk_token"] { unk = nil } else { unk = try token("unk_token", "<|endoftext|>") }
        var length = contextLength ?? 77
        // Hugging Face writes a huge sentinel (1e30) for "no limit": such values keep CLIP's 77.
        if contextLength == nil, case let .number(literal)? = settings["model_max_length"], let m = Double(literal), m >= 2, m < 1e6 {
            length = Int(m)
        }
        let (vocabulary, ids) = try Self.readVocabJSON(base.appendingPathComponent("vocab.json").path)
        let mergesPath = base.appendingPathComponent("merges.txt").path
        let (merges, lines) = try Self.readMergesFile(mergesPath)
        try Self.checkMerges(merges, lines: lines, vocabulary: Set(ids.keys), path: mergesPath)
        var added = [start, end] + (unk.map { [$0] } ?? []) + [pad]
        if case let .array(extra)? = settings["additional_special_tokens"] {
            for item in extra {
                switch item {
                case let .string(s): added.append(s)
                case let .object(members):
                    if case let .string(s)? = members.first(where: { $0.key == "content" })?.value { added.append(s) }
                default: break
                }
            }
        }
        try self.init(
            vocabulary: vocabulary, tokenIDs: ids, merges: merges, startToken: start, endToken: end, padToken: pad,
            unknownToken: unk, normalization: normalization, contextLength: length, addedSpecialTokens: added, source: folder)
    }

    // MARK: File helpers

    /// Largest tokenizer file read (or gzip file inflated), 64 MiB: CLIP's files are 1-2 MB, the largest BPE
    /// vocabularies in use about 20 MB. Checked before anything is allocated for the file.
    public static let maximumFileBytes = 64 << 20
    /// Longest merge line or vocabulary token, in UTF-8 bytes (CLIP's longest token has 29 characters).
    public static let maximumTokenBytes = 4096

    static func readBytes(_ path: String) throws -> [UInt8] {
        let limit = maximumFileBytes
        if let size = (try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber, size.int64Value > Int64(limit) {
            throw TokenizerError.malformed(path: path, reason: "file of \(size.int64Value) bytes exceeds the \(limit)-byte limit")
        }
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw TokenizerError.unreadableFile(path: path, reason: "missing or unreadable")
        }
        defer { try? handle.close() }
        // Bounded even where the size is unknown or wrong (pipes, devices, a file growing while read).
        let data = handle.readData(ofLength: limit + 1)
        guard data.count <= limit else {
            throw TokenizerError.malformed(path: path, reason: "file exceeds the \(limit)-byte limit")
        }
        return [UInt8](data)
    }

    static func utf8(_ bytes: [UInt8], path: String) throws -> String {
        guard let s = String(validating: bytes, as: UTF8.self) else {
            throw TokenizerError.malformed(path: path, reason: "not valid UTF-8")
        }
        return s
    }

    /// A JSON file through the strict reader (size-limited, UTF-8, bounded nesting, no duplicate keys).
    static func readJSON(_ path: String) throws -> TokenizerJSON.Value {
        let bytes = try readBytes(path)
        _ = try utf8(bytes, path: path)
        return try TokenizerJSON.parse(bytes, path: path)
    }

    static func parseMerge(_ line: Substring, line number: Int, path: String) throws -> (String, String) {
        guard line.utf8.count <= maximumTokenBytes else {
            throw TokenizerError.malformed(path: path, reason: "line \(number) has \(line.utf8.count) bytes, more than \(maximumTokenBytes)")
        }
        let parts = line.split(separator: " ", omittingEmptySubsequences: true)
        guard parts.count == 2 else {
            throw TokenizerError.malformed(path: path, reason: "line \(number) \"\(line)\" is not a merge pair \"a b\"")
        }
        return (String(parts[0]), String(parts[1]))
    }

    /// Every merge pair once, and both of its parts and its result in the vocabulary; errors name the line.
    static func checkMerges(_ merges: [(String, String)], lines: [Int], vocabulary: Set<String>, path: String) throws {
        var lineOfPair = [String: Int](minimumCapacity: merges.count)
        for (k, (a, b)) in merges.enumerated() {
            let line = lines[k]
            if let first = lineOfPair.updateValue(line, forKey: a + " " + b) {
                throw TokenizerError.malformed(path: path, reason: "line \(line) repeats the merge \"\(a) \(b)\" of line \(first)")
            }
            for token in [a, b, a + b] where !vocabulary.contains(token) {
                throw TokenizerError.malformed(
                    path: path, reason: "line \(line): token \"\(token)\" of the merge \"\(a) \(b)\" is not in the vocabulary")
            }
        }
    }

    /// `vocab.json`: a JSON object token -> id; ids must be exactly 0..<count, each token and id once.
    static func readVocabJSON(_ path: String) throws -> ([String], [String: Int]) {
        guard case let .object(members) = try readJSON(path) else {
            throw TokenizerError.malformed(path: path, reason: "not a JSON object")
        }
        let count = members.count
        var vocabulary = [String?](repeating: nil, count: count)
        var lineOfID = [Int](repeating: 0, count: count)
        var ids = [String: Int](minimumCapacity: count)
        for m in members {
            guard m.key.utf8.count <= maximumTokenBytes else {
                throw TokenizerError.malformed(path: path, reason: "line \(m.line): a token of \(m.key.utf8.count) bytes, more than \(maximumTokenBytes)")
            }
            guard case let .number(literal) = m.value, let id = Int(literal), id >= 0, id < count else {
                throw TokenizerError.malformed(
                    path: path, reason: "line \(m.line): token \"\(m.key)\" has id \(m.value), ids must be integers 0..<\(count)")
            }
            if let other = vocabulary[id] {
                throw TokenizerError.malformed(
                    path: path, reason: "line \(m.line): id \(id) of \"\(m.key)\" is already used by \"\(other)\" (line \(lineOfID[id]))")
            }
            vocabulary[id] = m.key
            lineOfID[id] = m.line
            ids[m.key] = id
        }
        return (vocabulary.map { $0! }, ids)
    }

    /// `merges.txt`: an optional `#version` line, then one "a b" pair per line; returns the pairs and their lines.
    static func readMergesFile(_ path: String) throws -> ([(String, String)], [Int]) {
        let text = try utf8(readBytes(path), path: path)
        var merges = [(String, String)]()
        var lines = [Int]()
        for (i, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let trimmed = line.hasSuffix("\r") ? line.dropLast() : line
            if trimmed.isEmpty || (i == 0 && trimmed.hasPrefix("#version")) { continue }
            merges.append(try parseMerge(trimmed, line: i + 1, path: path))
            lines.append(i + 1)
        }
        return (merges, lines)
    }
}

import Foundation

extension CLIPTokenizer {
    /// Writes `vocab.json` (token -> id, in id order) and `merges.txt` (`#version: 0.2` header, one pair per line),
    /// the Hugging Face format.
    public func writeVocabulary(vocabJSON: String, mergesFile: String) throws {
        var json = "{"
        for (id, token) in vocabulary.enumerated() {
            if id > 0 { json += "," }
            json += Self.jsonString(token) + ":" + String(id)
        }
        json += "}"
        var mergesText = "#version: 0.2\n"
        for (a, b) in merges { mergesText += a + " " + b + "\n" }
        try Self.write(json, to: vocabJSON)
        try Self.write(mergesText, to: mergesFile)
    }

    /// Writes a tokenizer folder loadable by `init(folder:)` and by `transformers.CLIPTokenizer.from_pretrained`:
    /// `vocab.json`, `merges.txt`, `tokenizer_config.json` and `special_tokens_map.json` (bos/eos/pad/unk tokens,
    /// `model_max_length`). A tokenizer without unknown token writes `"unk_token": null`.
    public func write(toFolder folder: String) throws {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let base = URL(fileURLWithPath: folder)
        try writeVocabulary(vocabJSON: base.appendingPathComponent("vocab.json").path,
                            mergesFile: base.appendingPathComponent("merges.txt").path)
        let unk = unknownToken.map(Self.jsonString) ?? "null"
        let specials = """
            {"bos_token":\(Self.jsonString(startToken)),"eos_token":\(Self.jsonString(endToken)),\
            "pad_token":\(Self.jsonString(vocabulary[padTokenID])),"unk_token":\(unk)}
            """
        let config = """
            {"tokenizer_class":"CLIPTokenizer","model_max_length":\(contextLength),\
            "bos_token":\(Self.jsonString(startToken)),"eos_token":\(Self.jsonString(endToken)),\
            "pad_token":\(Self.jsonString(vocabulary[padTokenID])),"unk_token":\(unk)}
            """
        try Self.write(specials + "\n", to: base.appendingPathComponent("special_tokens_map.json").path)
        try Self.write(config + "\n", to: base.appendingPathComponent("tokenizer_config.json").path)
    }

    static func jsonString(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 {
                    out += String(format: "\\u%04x", scalar.value)
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }

    static func write(_ text: String, to path: String) throws {
        guard FileManager.default.createFile(atPath: path, contents: Data(text.utf8)) else {
            throw TokenizerError.unreadableFile(path: path, reason: "cannot write")
        }
    }
}

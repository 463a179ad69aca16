import Foundation
import Tokenizer
import XCTest

/// The parity fixture written by Tools/reference/fixtures/tokenizer_openclip.py.
struct ParityFixture: Decodable {
    struct Case: Decodable {
        var text: String
        var ids: [Int]
        var category: String?
        var ids_without_fix_encoding: [Int]?
        var hf_ids: [Int]?
        var context77: [Int]?
        var hf_context77: [Int]?
        var hf_mask77: [Int]?
        var decoded: String?
    }
    struct BangCase: Decodable {
        var text: String
        var ids: [Int]
        var mask: [Int]
    }
    var cases: [Case]
    var hf_pad_bang_context20: [BangCase]
}

enum Fixtures {
    static func path(_ name: String) -> String {
        guard let url = Bundle.module.url(forResource: name, withExtension: nil, subdirectory: "Fixtures") else {
            fatalError("fixture \(name) missing from the test bundle")
        }
        return url.path
    }

    static let vocabPath = path("bpe_simple_vocab_16e6.txt.gz")

    static let parity: ParityFixture = {
        let data = FileManager.default.contents(atPath: path("openclip_tokenizer.json"))!
        return try! JSONDecoder().decode(ParityFixture.self, from: data)
    }()

    /// open_clip's tokenizer from the bundled vocabulary (shared: loading takes a fraction of a second).
    static let openCLIP: CLIPTokenizer = try! CLIPTokenizer(bpeFile: vocabPath)

    /// A temporary folder removed when the test ends.
    static func temporaryFolder(_ test: XCTestCase) throws -> String {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("tokenizer-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        test.addTeardownBlock { try? FileManager.default.removeItem(at: url) }
        return url.path
    }

    /// Writes the bundled vocabulary as a Hugging Face folder (vocab.json, merges.txt, configs) with the given pad token.
    static func huggingFaceFolder(_ test: XCTestCase, padToken: String) throws -> String {
        let folder = try temporaryFolder(test)
        let tokenizer = try CLIPTokenizer(bpeFile: vocabPath, start: "<|startoftext|>", end: "<|endoftext|>", padToken: padToken)
        try tokenizer.write(toFolder: folder)
        // The real SD configs name "<|endoftext|>" as the unknown token.
        let config = """
            {"bos_token":"<|startoftext|>","eos_token":"<|endoftext|>","pad_token":"\(padToken)",\
            "unk_token":"<|endoftext|>","model_max_length":77,"do_lower_case":true}
            """
        try Data(config.utf8).write(to: URL(fileURLWithPath: folder).appendingPathComponent("tokenizer_config.json"))
        try FileManager.default.removeItem(atPath: URL(fileURLWithPath: folder).appendingPathComponent("special_tokens_map.json").path)
        return folder
    }

    static func describe(_ text: String) -> String {
        text.unicodeScalars.map { $0.isASCII && $0.value >= 0x20 ? String($0) : "\\u{\(String($0.value, radix: 16))}" }.joined()
    }
}

import Foundation
import Tokenizer
import XCTest

/// Parity with transformers 5.24 `CLIPTokenizer` on vocab.json + merges.txt of the same vocabulary.
final class HuggingFaceParityTests: XCTestCase {
    func testEncodeMatchesTransformers() throws {
        let folder = try Fixtures.huggingFaceFolder(self, padToken: "<|endoftext|>")
        let tokenizer = try CLIPTokenizer(folder: folder)
        XCTAssertEqual(tokenizer.normalization, .huggingFace)
        XCTAssertEqual(tokenizer.startTokenID, 49406)
        XCTAssertEqual(tokenizer.endTokenID, 49407)
        XCTAssertEqual(tokenizer.padTokenID, 49407, "SD 1.x pads with <|endoftext|>")
        var failures = [String]()
        var contexts = 0
        for c in Fixtures.parity.cases {
            let expected = c.hf_ids ?? c.ids
            let got = try tokenizer.encode(c.text)
            if got != expected { failures.append("\(Fixtures.describe(c.text)): expected \(expected) got \(got)") }
            if let ids = c.hf_context77, let mask = c.hf_mask77 {
                let e = try tokenizer.encode(c.text, contextLength: 77)
                XCTAssertEqual(e.ids, ids, Fixtures.describe(c.text))
                XCTAssertEqual(e.attentionMask, mask, Fixtures.describe(c.text))
                XCTAssertEqual(e.ids[e.endTokenIndex], 49407)
                contexts += 1
            }
        }
        XCTAssertTrue(failures.isEmpty, "\(failures.count) mismatches:\n" + failures.prefix(25).joined(separator: "\n"))
        XCTAssertGreaterThan(contexts, 60)
    }

    /// SD 2.x: pad token "!" (id 0), which transformers also splits from the raw text as a special token.
    func testExclamationPadTokenMatchesTransformers() throws {
        let folder = try Fixtures.huggingFaceFolder(self, padToken: "!")
        let tokenizer = try CLIPTokenizer(folder: folder)
        XCTAssertEqual(tokenizer.padTokenID, 0)
        for c in Fixtures.parity.hf_pad_bang_context20 {
            let e = try tokenizer.encode(c.text, contextLength: 20)
            XCTAssertEqual(e.ids, c.ids, Fixtures.describe(c.text))
            XCTAssertEqual(e.attentionMask, c.mask, Fixtures.describe(c.text))
        }
    }

    func testVocabularyFilesRoundTrip() throws {
        let folder = try Fixtures.huggingFaceFolder(self, padToken: "<|endoftext|>")
        let a = try CLIPTokenizer(folder: folder)
        let b = try CLIPTokenizer(
            vocabJSON: URL(fileURLWithPath: folder).appendingPathComponent("vocab.json").path,
            mergesFile: URL(fileURLWithPath: folder).appendingPathComponent("merges.txt").path)
        XCTAssertEqual(a.vocabulary, b.vocabulary)
        XCTAssertEqual(a.vocabularySize, 49408)
        XCTAssertEqual(a.merges.count, 48894)
        XCTAssertEqual(Array(a.vocabulary[0..<3]), ["!", "\"", "#"])
        XCTAssertEqual(a.vocabulary[256], "!</w>")
    }
}

import Foundation
import Tokenizer
import XCTest

/// The trainer on a synthetic caption language: train -> save -> load -> encode/decode.
final class BPETrainerTests: XCTestCase {
    /// Deterministic captions of a small compositional language (an LCG over word lists).
    static func captions(count: Int, seed: UInt64) -> [String] {
        var state = seed
        func next(_ n: Int) -> Int {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Int((state >> 33) % UInt64(n))
        }
        let numbers = ["one", "two", "three", "four", "a"], colors = ["red", "green", "blue", "yellow", "purple", "orange"]
        let sizes = ["small", "large", "tiny", "big"], shapes = ["circle", "square", "triangle", "star", "hexagon"]
        let relations = ["left of", "right of", "above", "below", "next to", "inside"]
        return (0..<count).map { _ in
            var s = "\(numbers[next(numbers.count)]) \(sizes[next(sizes.count)]) \(colors[next(colors.count)]) \(shapes[next(shapes.count)])"
            if next(2) == 0 {
                s += " \(relations[next(relations.count)]) a \(colors[next(colors.count)]) \(shapes[next(shapes.count)])"
            }
            return s
        }
    }

    /// Reference BPE on token strings, written independently of the library (CLIP's `bpe()` as in Python).
    static func referenceBPE(_ word: String, ranks: [String: Int]) -> [String] {
        var symbols = word.unicodeScalars.map { String($0) }
        symbols[symbols.count - 1] += "</w>"
        while symbols.count > 1 {
            var best: (Int, String, String)? = nil
            for k in 0..<(symbols.count - 1) {
                if let r = ranks[symbols[k] + " " + symbols[k + 1]], r < (best?.0 ?? Int.max) { best = (r, symbols[k], symbols[k + 1]) }
            }
            guard let (_, a, b) = best else { break }
            var out = [String]()
            var k = 0
            while k < symbols.count {
                if k + 1 < symbols.count, symbols[k] == a, symbols[k + 1] == b { out.append(a + b); k += 2 } else { out.append(symbols[k]); k += 1 }
            }
            symbols = out
        }
        return symbols
    }

    func testTrainSaveLoadRoundTrip() throws {
        let corpus = Self.captions(count: 3000, seed: 7)
        let tokenizer = try BPETrainer(vocabularySize: 100).train(corpus: corpus)
        XCTAssertEqual(tokenizer.vocabularySize, 100)
        XCTAssertEqual(tokenizer.vocabulary.suffix(2), ["<|startoftext|>", "<|endoftext|>"])
        XCTAssertEqual(tokenizer.padTokenID, tokenizer.endTokenID)

        // The first merge is the corpus's most frequent adjacent symbol pair (brute-force count).
        var pairCounts = [String: Int]()
        for caption in corpus {
            for word in caption.split(separator: " ") {
                var symbols = word.map { String($0) }
                symbols[symbols.count - 1] += "</w>"
                for k in 0..<(symbols.count - 1) { pairCounts[symbols[k] + " " + symbols[k + 1], default: 0] += 1 }
            }
        }
        let top = pairCounts.values.max()!
        let first = tokenizer.merges[0].0 + " " + tokenizer.merges[0].1
        XCTAssertEqual(pairCounts[first], top, "first merge \(first)")

        let folder = try Fixtures.temporaryFolder(self)
        try tokenizer.write(toFolder: folder)
        let loaded = try CLIPTokenizer(folder: folder, normalization: .openCLIP)
        XCTAssertEqual(loaded.vocabulary, tokenizer.vocabulary)
        XCTAssertEqual(loaded.merges.map { $0.0 + " " + $0.1 }, tokenizer.merges.map { $0.0 + " " + $0.1 })
        XCTAssertEqual(loaded.padTokenID, tokenizer.endTokenID)
        XCTAssertNil(loaded.unknownToken)

        var ranks = [String: Int]()
        for (r, m) in loaded.merges.enumerated() { ranks[m.0 + " " + m.1] = r }
        let heldOut = Self.captions(count: 300, seed: 99)
        for caption in heldOut {
            let ids = try loaded.encode(caption)
            XCTAssertEqual(ids, try tokenizer.encode(caption))
            let reference = caption.split(separator: " ").flatMap { Self.referenceBPE(String($0), ranks: ranks) }
            XCTAssertEqual(try loaded.tokens(ids), reference, caption)
            XCTAssertEqual(try loaded.decode(ids), caption + " ")
            let encoded = try loaded.encode(caption, contextLength: 16)
            XCTAssertEqual(encoded.ids.count, 16)
            XCTAssertEqual(encoded.ids[encoded.endTokenIndex], loaded.endTokenID)
            if !encoded.wasTruncated { XCTAssertEqual(try loaded.decode(encoded), caption + " ") }
        }
    }

    /// With a target above what the corpus supports, training stops when no pair occurs twice: every word is one token.
    func testTrainingStopsWhenWordsAreWhole() throws {
        let corpus = Self.captions(count: 3000, seed: 7)
        let tokenizer = try BPETrainer(vocabularySize: 300).train(corpus: corpus)
        XCTAssertLessThan(tokenizer.vocabularySize, 300)
        let words = Set(corpus.flatMap { $0.split(separator: " ").map(String.init) })
        for word in words { XCTAssertEqual(try tokenizer.tokenize(word), [word + "</w>"]) }
        XCTAssertEqual(try tokenizer.tokenize("Red  CIRCLE"), ["red</w>", "circle</w>"])
    }

    func testUnseenByteIsAnError() throws {
        let tokenizer = try BPETrainer(vocabularySize: 120).train(corpus: Self.captions(count: 200, seed: 3))
        XCTAssertThrowsError(try tokenizer.encode("a red zebra")) { error in
            XCTAssertTrue("\(error)".contains("zebra"), "\(error)")
        }
    }

    func testTooSmallVocabularyIsRejected() {
        XCTAssertThrowsError(try BPETrainer(vocabularySize: 10).train(corpus: ["a red circle"]))
    }
}

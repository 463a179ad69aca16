import AdapterTraining
import DiscriminativeAdapter
import ShapesWorld
import Tensor
import XCTest

/// Stage-1 batches built from ShapesWorld samples: three images and captions per sample, one expression with its
/// REC target (box and token count from the word tokenizer).
final class ProbeBatchTests: XCTestCase {
    func testBatchOfShapesWorldSamples() throws {
        let world = SampleGenerator(seed: 0, config: .standard)
        let samples = (0..<40).map { world.sample(split: .train, index: $0) }.filter { !$0.negatives.isEmpty && !$0.expressions.isEmpty }
        let chosen = Array(samples.prefix(2))
        XCTAssertEqual(chosen.count, 2)
        // A stand-in word tokenizer: one token per word, two for words longer than 5 letters.
        let wordTokens: (String) throws -> [Int] = { w in Array(repeating: 1, count: w.count > 5 ? 2 : 1) }
        var rng = TorchGenerator(seed: 3)
        let batch = try ProbeBatch(samples: chosen, generator: world, wordTokens: wordTokens, contextLength: 10, choices: &rng)
        XCTAssertEqual(batch.images.shape[0], 6)
        XCTAssertEqual(batch.captions.map { $0.count }, [3, 3])
        XCTAssertEqual(batch.textsToEncode.count, 8)
        for (e, t) in zip(batch.expressions, batch.recTargets) {
            let expectedBox: [Float] = [Float(e.box.cx), Float(e.box.cy), Float(e.box.w), Float(e.box.h)]
            XCTAssertEqual(t.boxes[0], expectedBox)
            var tokens = 2
            for w in e.text.split(separator: " ") { tokens += w.count > 5 ? 2 : 1 }
            XCTAssertEqual(t.tokenCount, tokens)
        }
        XCTAssertThrowsError(try ProbeBatch(samples: chosen, generator: world, wordTokens: wordTokens, contextLength: 3, choices: &rng)) {
            XCTAssertTrue("\($0)".contains("context length 3"), "\($0)")
        }
    }
}

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

    /// Negative weights: a kind of weight 4 among two kinds of weight 1 is drawn about 4/6 of the time; without
    /// weights the draw is the old uniform one (the same generator gives the same choices).
    func testWeightedNegativeDraw() throws {
        var counts = [0, 0, 0]
        var g = TorchGenerator(seed: 5)
        for _ in 0..<6000 { counts[ProbeBatch.pick([1, 4, 1], weighted: true, using: &g)] += 1 }
        XCTAssertEqual(Double(counts[1]) / 6000, 4.0 / 6, accuracy: 0.03, "\(counts)")
        XCTAssertEqual(Double(counts[0]) / 6000, 1.0 / 6, accuracy: 0.03, "\(counts)")
        var a = TorchGenerator(seed: 9), b = TorchGenerator(seed: 9)
        for _ in 0..<50 { XCTAssertEqual(ProbeBatch.pick([1, 1, 1], weighted: false, using: &a), Int.random(in: 0..<3, using: &b)) }

        let world = SampleGenerator(seed: 0, config: .standard)
        let spatial = (0..<400).map { world.sample(split: .train, index: $0) }
            .filter { $0.category == .spatial && $0.negatives.contains { $0.kind == .flipRelation } && $0.negatives.count > 1 && !$0.expressions.isEmpty }
        XCTAssertGreaterThan(spatial.count, 3)
        let wordTokens: (String) throws -> [Int] = { _ in [1] }
        var rng = TorchGenerator(seed: 1)
        var flips = 0, total = 0
        for _ in 0..<20 {
            let batch = try ProbeBatch(samples: spatial, generator: world, wordTokens: wordTokens, contextLength: 77,
                                       negativeWeights: [.flipRelation: 1000], choices: &rng)
            flips += batch.hardNegatives.filter { $0.kind == .flipRelation }.count
            total += batch.count
        }
        XCTAssertGreaterThan(Double(flips) / Double(total), 0.97, "flip_relation at weight 1000 drawn \(flips) of \(total)")
    }

    /// Category weights keep a category at its relative rate, decided per index (the same cursor gives the same
    /// samples), and weight 0 removes it.
    func testCategoryWeightsReweightTheStream() {
        let world = SampleGenerator(seed: 0, config: .standard)
        let words: (String) throws -> [Int] = { _ in [1] }
        let plain = ProbeData(world: world, split: .train, wordTokens: words, contextLength: 77)
        let none = ProbeData(world: world, split: .train, wordTokens: words, contextLength: 77, categoryWeights: [.spatial: 0])
        let half = ProbeData(world: world, split: .train, wordTokens: words, contextLength: 77,
                             categoryWeights: [.spatial: 2], selectionSeed: 3)
        let base = plain.samples(from: 0, count: 300).samples
        XCTAssertFalse(none.samples(from: 0, count: 300).samples.contains { $0.category == .spatial })
        let weighted = half.samples(from: 0, count: 300).samples
        XCTAssertEqual(weighted.map(\.index), half.samples(from: 0, count: 300).samples.map(\.index))
        func share(_ s: [Sample]) -> Double { Double(s.filter { $0.category == .spatial }.count) / Double(s.count) }
        // spatial kept always, the other categories at 1/2: its share p becomes 2p / (1 + p).
        let p = share(base)
        XCTAssertGreaterThan(p, 0.05)
        XCTAssertEqual(share(weighted), 2 * p / (1 + p), accuracy: 0.08, "spatial share \(share(weighted)) from \(p)")
    }
}

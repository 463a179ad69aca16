import DataIO
import Diffusion
import Foundation
import ShapesWorld
import T2ITraining
import Tensor
import Tokenizer
import XCTest

/// Checks on the committed model folder `Models/shapes-t2i`: it is what `train-t2i` defaults produce, it loads
/// with the diffusers layout, stays within the size budget, and samples deterministically.
final class BundledModelTests: XCTestCase {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    var folder: URL { root.appendingPathComponent("Models/shapes-t2i") }

    func testBundledModelWasTrainedWithTheDefaults() throws {
        let saved = try T2IConfig.load(contentsOf: folder.appendingPathComponent("train_config.json"))
        XCTAssertEqual(saved, T2IConfig(), "Models/shapes-t2i/train_config.json differs from train-t2i's defaults: retrain or update the defaults")
        let unet = try ModelFolder(folder).unetConfig()
        XCTAssertEqual(unet, saved.unetConfig)
    }

    func testWeightsWithinBudget() throws {
        var total = 0
        for f in ["unet/diffusion_pytorch_model.safetensors", "text_encoder/model.safetensors"] {
            let a = try FileManager.default.attributesOfItem(atPath: folder.appendingPathComponent(f).path)
            total += (a[.size] as? Int) ?? 0
        }
        XCTAssertGreaterThan(total, 0)
        XCTAssertLessThanOrEqual(total, 30_000_000)
    }

    func testLoadsAndSamplesDeterministically() throws {
        let model = try T2IModel.load(from: folder)
        let prompts = ["a red circle", "a blue square left of a green triangle"]
        let a = try model.sample(prompts: prompts, seeds: [0, 1], steps: 5, guidanceScale: 3, imageSize: 32)
        let b = try model.sample(prompts: prompts, seeds: [0, 1], steps: 5, guidanceScale: 3, imageSize: 32)
        XCTAssertEqual(a.shape, [2, 3, 32, 32])
        XCTAssertEqual(a.scalars, b.scalars)
        XCTAssertTrue(a.scalars.allSatisfy { $0.isFinite && abs($0) <= 1 })
        // An image depends on its prompt and seed, not on the batch it was drawn in (up to float rounding of
        // differently blocked GEMMs, amplified over the steps: below one 8-bit level, 2/255 in [-1, 1]).
        let single = try model.sample(prompts: [prompts[1]], seeds: [1], steps: 5, guidanceScale: 3, imageSize: 32)
        XCTAssertLessThan((single - a.selecting(axis: 0, index: 1).unsqueezed(0)).abs().max().item(), 2 / 255)
    }

    /// Every word of every referring expression is one whole token of the bundled model's tokenizer (fitted on
    /// captions): its text encoder has seen each word as a word, not only as pieces.
    func testReferringExpressionWordsAreWholeTokensOfTheBundledTokenizer() throws {
        let tokenizer = try CLIPTokenizer(folder: folder.appendingPathComponent("tokenizer").path)
        let g = SampleGenerator(seed: 0)
        var checked = Set<String>()
        for cat in Category.allCases {
            for i in 0..<200 {
                for e in g.sample(split: .train, index: i, category: cat).expressions {
                    for w in e.text.split(separator: " ").map(String.init) where checked.insert(w).inserted {
                        XCTAssertEqual(try tokenizer.encode(w).count, 1, "'\(w)' of '\(e.text)' is not one token of the bundled tokenizer")
                    }
                }
            }
        }
        XCTAssertGreaterThan(checked.count, 10)
    }
}

import Autodiff
import DataIO
import Foundation
import NN
import ShapesWorld
import T2ITraining
import Tensor
import XCTest

/// A model small enough to train a few dozen steps in seconds.
func tinyConfig(steps: Int = 6) throws -> T2IConfig {
    try T2IConfig.decode(overrides: [
        "image_size": 16, "vocab_size": 160, "tokenizer_corpus_size": 400, "context_length": 24,
        "text_hidden_size": 32, "text_layers": 1, "text_heads": 2, "text_intermediate_size": 64,
        "block_out_channels": [16, 32], "down_block_types": ["DownBlock2D", "CrossAttnDownBlock2D"],
        "up_block_types": ["CrossAttnUpBlock2D", "UpBlock2D"], "norm_num_groups": 8, "attention_heads": 2,
        "batch_size": 8, "steps": .int(steps), "learning_rate": 2e-3, "warmup_steps": 2,
        "checkpoint_every": 3, "sample_every": 0, "log_every": 2, "sample_steps": 4, "ema_decay": 0.9,
    ])
}

func temporaryFolder(_ name: String) -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("t2i-tests-\(getpid())-\(name)")
    try? FileManager.default.removeItem(at: url)
    return url
}

func bitsEqual(_ a: Tensor, _ b: Tensor) -> Bool {
    a.shape == b.shape && a.scalars.map(\.bitPattern) == b.scalars.map(\.bitPattern)
}

final class T2IConfigTests: XCTestCase {
    func testOverridesAndErrorsNameTheKey() throws {
        let c = try T2IConfig.decode(overrides: ["steps": 7, "block_out_channels": [32, 64]])
        XCTAssertEqual(c.steps, 7)
        XCTAssertEqual(c.blockOutChannels, [32, 64])
        XCTAssertEqual(c.batchSize, T2IConfig().batchSize)
        XCTAssertThrowsError(try T2IConfig.decode(overrides: ["step": 7])) { e in
            XCTAssertTrue("\(e)".contains("unknown key 'step'"), "\(e)")
        }
        XCTAssertThrowsError(try T2IConfig.decode(overrides: ["steps": "many"])) { e in
            XCTAssertTrue("\(e)".contains("steps"), "\(e)")
        }
        var bad = T2IConfig()
        bad.sampler = "FancyScheduler"
        XCTAssertThrowsError(try bad.validate()) { e in XCTAssertTrue("\(e)".contains("sampler"), "\(e)") }
        bad = T2IConfig()
        bad.blockOutChannels = [64, 128]
        XCTAssertThrowsError(try bad.validate()) { e in XCTAssertTrue("\(e)".contains("down_block_types"), "\(e)") }
        // JSON round trip of the whole config.
        XCTAssertEqual(try T2IConfig.decode(overrides: try c.json()), c)
    }

    func testDefaultArchitectureMatchesTheIssue() throws {
        let c = T2IConfig()
        let u = c.unetConfig
        XCTAssertEqual(u.inChannels, 3)
        XCTAssertEqual(u.outChannels, 3)
        XCTAssertEqual(u.crossAttentionDim, .one(c.textHiddenSize))
        XCTAssertEqual(try c.schedulerConfiguration().className, c.sampler)
    }
}

final class TrainingDataTests: XCTestCase {
    func testBatchesArePureFunctionsOfTheStep() throws {
        let c = try tinyConfig()
        let d = TrainingData(config: c)
        let a = d.batch(step: 3), b = TrainingData(config: c).batch(step: 3), other = d.batch(step: 4)
        XCTAssertTrue(bitsEqual(a.images, b.images))
        XCTAssertTrue(bitsEqual(a.noise, b.noise))
        XCTAssertEqual(a.timesteps, b.timesteps)
        XCTAssertEqual(a.captions, b.captions)
        XCTAssertFalse(bitsEqual(a.noise, other.noise))
        XCTAssertNotEqual(a.originalCaptions, other.originalCaptions)
        // Step s holds train samples s*B ..< (s+1)*B, rendered by ShapesWorld.
        let world = SampleGenerator(seed: c.seed, config: .square(c.imageSize))
        for i in 0..<c.batchSize {
            let p = world.positive(split: .train, index: 3 * c.batchSize + i)
            XCTAssertEqual(a.originalCaptions[i], p.caption)
            XCTAssertTrue(bitsEqual(a.images.selecting(axis: 0, index: i).contiguous(), Renderer.render(p.scene).tensor()))
        }
        XCTAssertTrue(a.timesteps.allSatisfy { (0..<c.numTrainTimesteps).contains($0) })
        // The noise and timesteps are torch.manual_seed(stepSeed) draws in order: randint, randn.
        var g = TorchGenerator(seed: d.stepSeed(3))
        XCTAssertEqual(g.randint(low: 0, high: c.numTrainTimesteps, count: c.batchSize), a.timesteps)
        XCTAssertTrue(bitsEqual(g.randn([c.batchSize, 3, c.imageSize, c.imageSize]), a.noise))
    }

    func testCaptionDropoutRate() throws {
        var c = try tinyConfig()
        c.batchSize = 50
        let d = TrainingData(config: c)
        var dropped = 0, total = 0
        for s in 0..<40 {
            let b = d.batch(step: s)
            dropped += b.captions.filter(\.isEmpty).count
            total += b.captions.count
            for (x, y) in zip(b.captions, b.originalCaptions) where !x.isEmpty { XCTAssertEqual(x, y) }
        }
        // 2000 Bernoulli(0.1) draws: 200 expected, sd ~13.4; 5 sd bounds.
        XCTAssertGreaterThan(dropped, 133)
        XCTAssertLessThan(dropped, 267)
    }
}

final class TokenizerFitTests: XCTestCase {
    func testFittedTokenizerCoversCaptionsAndSuites() throws {
        let c = try tinyConfig()
        let tok = try CaptionTokenizer.fit(c)
        XCTAssertLessThanOrEqual(tok.vocabularySize, c.vocabSize)
        for caption in CaptionTokenizer.corpus(c).prefix(50) {
            let ids = try tok.encode(caption)
            XCTAssertEqual(try tok.decode(ids).trimmingCharacters(in: .whitespaces), caption)
        }
        // Both prompt suites (OOD templates included) fit the context without an unknown byte.
        for name in PromptSuite.Name.allCases {
            for p in try PromptSuite.load(name).prompts {
                let e = try tok.encode(p.text, contextLength: c.contextLength)
                XCTAssertFalse(e.wasTruncated, p.text)
            }
        }
        var short = c
        short.contextLength = 5
        XCTAssertThrowsError(try CaptionTokenizer.fit(short)) { e in XCTAssertTrue("\(e)".contains("context_length"), "\(e)") }
    }
}

final class EMATests: XCTestCase {
    func testEMAFollowsTheWarmupRule() throws {
        let v = Variable(Tensor([1, 2]), requiresGrad: true)
        let ema = ExponentialMovingAverage(parameters: [NamedParameter(name: "w", variable: v)], decay: 0.5)
        var shadow: [Double] = [1, 2]
        for n in 0..<5 {
            v.value = Tensor([Float(n) * 3, -Float(n)])
            let d = min(0.5, Double(1 + n) / Double(10 + n))
            shadow = [d * shadow[0] + (1 - d) * Double(n) * 3, d * shadow[1] - (1 - d) * Double(n)]
            ema.update()
        }
        XCTAssertEqual(ema.updates, 5)
        let s = ema.stateDict["w"]!.scalars
        XCTAssertEqual(Double(s[0]), shadow[0], accuracy: 1e-5)
        XCTAssertEqual(Double(s[1]), shadow[1], accuracy: 1e-5)
    }
}

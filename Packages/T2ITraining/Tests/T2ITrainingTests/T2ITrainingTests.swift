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

    /// The objective's keys reach the scheduler folder and are validated by name.
    func testPredictionTypeAndMinSNRKeys() throws {
        let c = T2IConfig()
        XCTAssertEqual(c.predictionType, "v_prediction")
        XCTAssertEqual(c.schedulerValues["prediction_type"], .string("v_prediction"))
        let e = try T2IConfig.decode(overrides: ["prediction_type": "epsilon", "snr_gamma": 0])
        XCTAssertEqual(e.schedulerValues["prediction_type"], .string("epsilon"))
        var bad = T2IConfig()
        bad.predictionType = "velocity"
        XCTAssertThrowsError(try bad.validate()) { XCTAssertTrue("\($0)".contains("prediction_type"), "\($0)") }
        bad = T2IConfig()
        bad.snrGamma = -1
        XCTAssertThrowsError(try bad.validate()) { XCTAssertTrue("\($0)".contains("snr_gamma"), "\($0)") }
    }

    /// `text_encoder_lr_scale` scales the rate of exactly the text encoder's parameters when it is trained.
    func testTextEncoderLearningRateScale() throws {
        var c = try tinyConfig()
        c.trainTextEncoder = true
        c.textEncoderLRScale = 0.1
        let dir = temporaryFolder("te-lr")
        defer { try? FileManager.default.removeItem(at: dir) }
        let trainer = try T2ITrainer(config: c, runDirectory: dir, resume: false)
        let text = trainer.parameters.filter { $0.name.hasPrefix("text_encoder.") }.map(\.name)
        XCTAssertFalse(text.isEmpty)
        XCTAssertEqual(Set(trainer.optimizer.learningRateScales.keys), Set(text))
        XCTAssertTrue(trainer.optimizer.learningRateScales.values.allSatisfy { $0 == 0.1 })
        var bad = T2IConfig()
        bad.textEncoderLRScale = 0
        XCTAssertThrowsError(try bad.validate()) { XCTAssertTrue("\($0)".contains("text_encoder_lr_scale"), "\($0)") }
    }
}

/// The loss of a training step is the min-SNR weighted MSE against the prediction type's target, computed here
/// independently from the batch and the U-Net, plus `text_parse_weight` (default 0.01) x the caption-attribute loss
/// of the parse head on the encoder's last context state (`CaptionAttributes.loss`, tested on its own below).
final class TrainingObjectiveTests: XCTestCase {
    func testStepLossMatchesTheObjective() throws {
        for (prediction, gamma) in [("v_prediction", 5.0), ("epsilon", 0.0), ("epsilon", 2.0)] {
            var cfg = try tinyConfig(steps: 2)
            cfg.predictionType = prediction
            cfg.snrGamma = gamma
            let trainer = try T2ITrainer(config: cfg, runDirectory: temporaryFolder("objective-\(prediction)-\(gamma)"), resume: false)
            let batch = trainer.data.batch(step: 0)
            XCTAssertEqual(cfg.textParseWeight, 0.01)
            let expected: Float = try GradMode.noGrad {
                let noisy = trainer.schedule.addNoise(original: batch.images, noise: batch.noise, timesteps: batch.timesteps)
                let context = try trainer.model.encode(batch.captions)
                let pred = trainer.model.unet.predict(Variable(noisy), timesteps: batch.timesteps.map(Float.init),
                                                      context: context).value
                let head = try XCTUnwrap(trainer.parseHead)
                let last = context.value.selecting(axis: 1, index: context.shape[1] - 1)
                let labels = try zip(batch.captions, batch.meanings).map { $0.0.isEmpty ? nil : try CaptionAttributes.labels($0.1) }
                let parse = try XCTUnwrap(CaptionAttributes.loss(logits: head(Variable(last)), labels: labels)).value.item()
                let b = batch.timesteps.count, per = pred.count / b
                let p = pred.scalars, x0 = batch.images.scalars, eps = batch.noise.scalars
                var total = 0.0
                for i in 0..<b {
                    let ab = Double(trainer.schedule.alphasCumprod[batch.timesteps[i]])
                    let snr = ab / (1 - ab)
                    var w = 1.0
                    if gamma > 0 { w = min(snr, gamma) / (prediction == "v_prediction" ? snr + 1 : snr) }
                    var se = 0.0
                    for j in 0..<per {
                        let k = i * per + j
                        let target = prediction == "v_prediction"
                            ? ab.squareRoot() * Double(eps[k]) - (1 - ab).squareRoot() * Double(x0[k]) : Double(eps[k])
                        se += (Double(p[k]) - target) * (Double(p[k]) - target)
                    }
                    total += w * se / Double(per)
                }
                return Float(total / Double(b)) + Float(cfg.textParseWeight) * parse
            }
            let (loss, _) = try trainer.trainStep()
            XCTAssertEqual(loss, expected, accuracy: 1e-4 * max(1, abs(expected)), "\(prediction), gamma \(gamma)")
        }
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

/// The text-encoder separation probe: each pair differs in one word, a random encoder separates every swap, and an
/// encoder whose embeddings of "left" and "right" are equal separates that pair by exactly 0 and nothing else less.
final class TextEncoderSeparationTests: XCTestCase {
    func testPairsDifferInOneWordAndAnEncoderBlindToAWordScoresZero() throws {
        let groups = TextEncoderSeparation.pairs()
        XCTAssertEqual(groups.map(\.attribute), ["colour", "shape", "size", "left/right", "above/below"])
        for (attribute, pairs) in groups {
            XCTAssertEqual(pairs.count, ColorName.allCases.count * ShapeKind.allCases.count, attribute)
            for (a, b) in pairs {
                let wa = a.split(separator: " "), wb = b.split(separator: " ")
                let differing = zip(wa, wb).filter { $0 != $1 }.count
                // "to the left of" vs "to the right of": one word; every other attribute: one word.
                XCTAssertTrue(wa.count == wb.count && differing == 1, "\(attribute): '\(a)' vs '\(b)'")
            }
        }
        var c = try tinyConfig()
        c.vocabSize = 320          // enough merges for every word of the world to be one token
        c.tokenizerCorpusSize = 3000
        let model = try T2IModel(config: c, tokenizer: try CaptionTokenizer.fit(c))
        let random = try TextEncoderSeparation.measure(model: model)
        XCTAssertEqual(random.map(\.attribute), groups.map(\.attribute))
        for r in random { XCTAssertGreaterThan(r.separation, 0.01, "\(r.attribute): a random encoder separates every word swap") }

        let left: [Int] = try model.tokenizer.encode("left"), right: [Int] = try model.tokenizer.encode("right")
        XCTAssertEqual(left.count, 1, "the fitted tokenizer has 'left' as one token")
        XCTAssertEqual(right.count, 1, "the fitted tokenizer has 'right' as one token")
        let table = try XCTUnwrap(model.textEncoder.checkpointParameters.first { $0.key.hasSuffix("token_embedding.weight") }).variable
        var w = table.value.scalars
        let dim = table.shape[1]
        for k in 0..<dim { w[right[0] * dim + k] = w[left[0] * dim + k] }
        table.value = Tensor(shape: table.shape, scalars: w)
        let blind = try TextEncoderSeparation.measure(model: model)
        XCTAssertEqual(blind[3].separation, 0, accuracy: 1e-6)
        for i in [0, 1, 2, 4] { XCTAssertEqual(blind[i].separation, random[i].separation, accuracy: 1e-9, blind[i].attribute) }
        XCTAssertTrue(TextEncoderSeparation.markdownTable(blind).contains("| left/right | 28 | 0.000 |"))
    }
}


/// The auxiliary caption-attribute loss (`text_parse_weight`): labels, loss value, training, resume.
final class CaptionAttributesTests: XCTestCase {
    func testLabelsAndLoss() throws {
        XCTAssertEqual(CaptionAttributes.groups.map(\.classes), [8, 5, 3, 5, 8, 5, 3, 5, 9])
        XCTAssertEqual(CaptionAttributes.width, 51)
        let single = Meaning(objects: [ObjectSpec(color: .green, shape: .triangle, size: .large)])
        XCTAssertEqual(try CaptionAttributes.labels(single), [2, 3, 2, 1, 0, 0, 0, 0, 0])
        let spatial = Meaning(objects: [ObjectSpec(count: 3, color: .red, shape: .circle), ObjectSpec(color: .white, shape: .cross, size: .small)],
                              relation: Relation(subject: 1, predicate: .above, object: 0))
        // above is predicate index 2: 1 + 2 * 2 + 1 (subject is the second group).
        XCTAssertEqual(try CaptionAttributes.labels(spatial), [1, 1, 0, 3, 7, 4, 1, 1, 6])
        let three = Meaning(objects: [single.objects[0], spatial.objects[0], spatial.objects[1]])
        XCTAssertThrowsError(try CaptionAttributes.labels(three)) { XCTAssertTrue("\($0)".contains("3 object groups"), "\($0)") }

        // Zero logits: every counted group's cross-entropy is log(classes); the loss is their mean.
        let logits = Variable(Tensor(shape: [3, 51], repeating: 0), requiresGrad: true)
        let labels: [[Int]?] = [try CaptionAttributes.labels(single), nil, try CaptionAttributes.labels(spatial)]
        let loss = try XCTUnwrap(CaptionAttributes.loss(logits: logits, labels: labels))
        let expected = CaptionAttributes.groups.map { Foundation.log(Double($0.classes)) }.reduce(0, +) / 9
        XCTAssertEqual(Double(loss.value.item()), expected, accuracy: 1e-5)
        loss.backward()
        let g = try XCTUnwrap(logits.grad)
        XCTAssertEqual(g.selecting(axis: 0, index: 1).abs().max().item(), 0, "a dropped caption gets no gradient")
        XCTAssertGreaterThan(g.selecting(axis: 0, index: 0).abs().max().item(), 0)
        XCTAssertNil(CaptionAttributes.loss(logits: logits, labels: [nil, nil, nil]))
    }

    func testParseHeadTrainsResumesAndStaysOutOfTheModelFolder() throws {
        var config = try tinyConfig(steps: 6)
        config.trainTextEncoder = true
        config.textParseWeight = 1
        var frozen = config
        frozen.trainTextEncoder = false
        XCTAssertThrowsError(try frozen.validate()) { XCTAssertTrue("\($0)".contains("text_parse_weight"), "\($0)") }

        let dirA = temporaryFolder("parse-a"), dirB = temporaryFolder("parse-b")
        defer { try? FileManager.default.removeItem(at: dirA); try? FileManager.default.removeItem(at: dirB) }
        let a = try T2ITrainer(config: config, runDirectory: dirA, resume: false)
        a.output = { _ in }
        let head = try XCTUnwrap(a.parseHead)
        let before = head.weight.value
        try a.run()
        XCTAssertNotNil(a.lastParseLoss)
        XCTAssertFalse(bitsEqual(before, head.weight.value), "the head trains")
        let records = try MetricsLog.read(dirA.appendingPathComponent("metrics.jsonl"))
        XCTAssertTrue(records.contains { ($0["text_parse_loss"]?.doubleValue ?? 0) > 0 })

        let b1 = try T2ITrainer(config: config, runDirectory: dirB, resume: false)
        b1.output = { _ in }
        try b1.run(stopAfter: 4)
        let b2 = try T2ITrainer(config: config, runDirectory: dirB, resume: true)
        b2.output = { _ in }
        XCTAssertEqual(b2.resumedFrom, 3)
        try b2.run()
        XCTAssertEqual(a.parameters.map(\.name), b2.parameters.map(\.name))
        XCTAssertTrue(a.parameters.contains { $0.name == "text_parse_head.weight" })
        for (pa, pb) in zip(a.parameters, b2.parameters) {
            XCTAssertTrue(bitsEqual(pa.variable.value, pb.variable.value), "weights differ at \(pa.name) after resuming")
        }
        // The model folder holds the text encoder and U-Net only, and loads like any other.
        let loaded = try T2IModel.load(from: a.modelDirectory)
        XCTAssertFalse(loaded.namedParameters.contains { $0.name.contains("parse") })
        let te = try Data(contentsOf: a.modelDirectory.appendingPathComponent("text_encoder/model.safetensors"))
        XCTAssertNil(String(decoding: te.prefix(20_000), as: UTF8.self).range(of: "text_parse_head"))
    }
}

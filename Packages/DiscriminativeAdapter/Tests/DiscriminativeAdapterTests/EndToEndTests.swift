import Autodiff
import DataIO
import Diffusion
import DiscriminativeAdapter
import Foundation
import NN
import Tensor
import XCTest

/// A tiny random SD-style U-Net -> tap -> adapter, with the bundled preset.
final class EndToEndTests: XCTestCase {
    static let unetJSON = """
    {"_class_name": "UNet2DConditionModel", "block_out_channels": [32, 64], "cross_attention_dim": 32,
     "down_block_types": ["CrossAttnDownBlock2D", "DownBlock2D"], "up_block_types": ["UpBlock2D", "CrossAttnUpBlock2D"],
     "in_channels": 4, "out_channels": 4, "layers_per_block": 1, "attention_head_dim": 8, "norm_num_groups": 32,
     "sample_size": 8}
    """

    func tinyModel(taps: [String] = ["up1"], contrastive: Bool = false) throws -> DiscriminativeModel {
        let config = try ConfigFile.decode(UNet2DConditionConfig.self, from: Data(Self.unetJSON.utf8), name: "tiny unet")
        let unet = try UNet2DConditionModel(config: config, seed: 0)
        _ = unet.store.freeze()
        var ac = AdapterConfig.bundled(featureChannels: try FeatureTaps.featureChannels(of: taps, denoiser: unet),
                                       textEmbeddingDim: 32, featureTaps: taps, maxTextTokens: 10, dropout: 0)
        ac.contrastiveAlign = contrastive
        ac.textTokenDim = 32
        return try DiscriminativeModel(denoiser: unet, adapter: DiscriminativeAdapter(config: ac, seed: 1))
    }

    func testShapesAndLatentGradientOfTheMatchingScore() throws {
        let model = try tinyModel()
        XCTAssertEqual(model.adapter.config.featureChannels, 32)
        let b = 2
        let z = pseudoRandom([b, 4, 8, 8], seed: 1)
        let ctx = pseudoRandom([b, 7, 32], seed: 2), pooled = pseudoRandom([b, 32], seed: 3)
        let latents = Variable(z, requiresGrad: true)
        let out = model.forward(latents: latents, timesteps: [500, 120], context: Variable(ctx))
        XCTAssertEqual(out.hiddenStates.shape, [b, 20, 128])
        XCTAssertEqual(out.matchingEmbeddings.shape, [b, 4, 32])
        XCTAssertEqual(out.detr!.classLogits.shape, [b, 16, 11])
        XCTAssertEqual(out.detr!.boxes.shape, [b, 16, 4])
        XCTAssertTrue(out.detr!.boxes.value.scalars.allSatisfy { $0 > 0 && $0 < 1 })

        // d s / d z_t: the quantity self-correction follows. Checked along a random direction by central differences.
        let scores = model.matchingScores(latents: latents, timesteps: [500, 120], context: Variable(ctx), pooled: Variable(pooled))
        XCTAssertEqual(scores.shape, [b])
        let g = gradients(of: scores.sum(), withRespectTo: [latents])[0]
        XCTAssertTrue(g.scalars.allSatisfy { $0.isFinite })
        XCTAssertGreaterThan(g.scalars.map(abs).max()!, 0)
        let v = pseudoRandom([b, 4, 8, 8], seed: 4)
        let eps: Float = 1e-2
        func total(_ x: Tensor) -> Double {
            GradMode.noGrad {
                Double(model.matchingScores(latents: Variable(x), timesteps: [500, 120], context: Variable(ctx),
                                            pooled: Variable(pooled)).sum().value.item())
            }
        }
        let numeric = (total(z + v * eps) - total(z - v * eps)) / Double(2 * eps)
        let analytic = zip(g.scalars, v.scalars).reduce(0.0) { $0 + Double($1.0 * $1.1) }
        XCTAssertEqual(analytic, numeric, accuracy: max(1e-3, 2e-2 * abs(numeric)), "directional derivative")
    }

    func testConcatenatedTapsAreResizedToTheFinest() throws {
        let model = try tinyModel(taps: ["mid", "up1"])
        XCTAssertEqual(model.adapter.config.featureChannels, 64 + 32)
        let out = model.forward(latents: Variable(pseudoRandom([1, 4, 8, 8], seed: 1)), timesteps: [10],
                                context: Variable(pseudoRandom([1, 7, 32], seed: 2)))
        XCTAssertEqual(out.detr!.boxes.shape, [1, 16, 4])
        let f = FeatureTaps.combine(["a": Variable(Tensor(shape: [1, 1, 2, 2], scalars: [1, 2, 3, 4])),
                                     "b": Variable(Tensor(shape: [1, 1, 4, 4], repeating: 0))], taps: ["a", "b"])
        XCTAssertEqual(f.shape, [1, 2, 4, 4])
        XCTAssertEqual(f.value.scalars.prefix(8).map { $0 }, [1, 1, 2, 2, 1, 1, 2, 2])
        XCTAssertEqual(try FeatureTaps.parse("down1_mid"), ["down1", "mid"])
        XCTAssertThrowsError(try FeatureTaps.channels(of: ["up7"], denoiser: model.denoiser))
        XCTAssertEqual(try FeatureTaps.channels(of: ["down0", "mid", "up1"], denoiser: model.denoiser), [32, 64, 32])
        // The fit check names the source and what does not fit.
        XCTAssertNoThrow(try model.adapter.checkFits(model.denoiser, textWidth: 32, source: "tiny"))
        XCTAssertThrowsError(try model.adapter.checkFits(model.denoiser, textWidth: 48, source: "tiny")) {
            XCTAssertTrue("\($0)".contains("tiny") && "\($0)".contains("48"), "\($0)")
        }
        let other = try self.tinyModel(taps: ["mid"])
        XCTAssertThrowsError(try other.adapter.checkFits(ScaledChannels(model.denoiser), source: "tiny")) {
            XCTAssertTrue("\($0)".contains("channels"), "\($0)")
        }
        // The `cross-up` alias: SD's layout (first up block without attention) gives up1, the bundled one up0.
        var sd = UNet2DConditionConfig()
        sd.upBlockTypes = ["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"]
        XCTAssertEqual(try FeatureTaps.resolve(["cross-up", "mid"], unet: sd), ["up1", "mid"])
        sd.upBlockTypes = ["CrossAttnUpBlock2D", "UpBlock2D", "UpBlock2D"]
        XCTAssertEqual(try FeatureTaps.resolve(["cross-up"], unet: sd), ["up0"])
        sd.upBlockTypes = ["UpBlock2D", "UpBlock2D"]
        XCTAssertThrowsError(try FeatureTaps.resolve(["cross-up"], unet: sd)) { XCTAssertTrue("\($0)".contains("cross-attention"), "\($0)") }
    }

    func testProbePlanTrainsTheAdapterOnly() throws {
        let model = try tinyModel(contrastive: true)
        // Two samples: stand-in latents of their three images (4 channels, 8x8), random text features, and REC
        // targets of one box and a one- or two-token span each.
        let targets = [try RECTarget(boxes: [[0.3, 0.4, 0.2, 0.1]], tokenSpans: [[1]], tokenCount: 4),
                       try RECTarget(boxes: [[0.7, 0.5, 0.3, 0.3]], tokenSpans: [[2, 3]], tokenCount: 6)]
        let latents = pseudoRandom([6, 4, 8, 8], seed: 4)
        let schedule = NoiseSchedule(config: try DDPMScheduler([:]).config)
        let captions = TextFeatures(context: pseudoRandom([6, 10, 32], seed: 5), pooled: pseudoRandom([6, 32], seed: 6))
        let expressions = TextFeatures(context: pseudoRandom([2, 10, 32], seed: 7), pooled: pseudoRandom([2, 32], seed: 8),
                                       tokens: pseudoRandom([2, 10, 32], seed: 9))
        var dropoutRNG = SplitMix(seed: 1)
        let terms = try ProbePlan.losses(model: model, recTargets: targets, latents: latents, noise: pseudoRandom([2, 4, 8, 8], seed: 10),
                                         timesteps: [999, 3], schedule: schedule, captions: captions, expressions: expressions,
                                         generator: &dropoutRNG)
        XCTAssertEqual(terms.i2tScores.shape, [2, 3])
        XCTAssertEqual(terms.i2tScores[0, 0], terms.t2iScores[0, 0])   // the shared positive pair
        XCTAssertNotNil(terms.rec.contrastive)
        XCTAssertTrue(terms.total.value.item().isFinite)
        terms.total.backward()
        XCTAssertTrue(model.adapter.store.namedParameters().allSatisfy { $0.variable.grad != nil })
        let unet = model.denoiser as! UNet2DConditionModel
        XCTAssertTrue(unet.store.namedParameters().allSatisfy { $0.variable.grad == nil })
        XCTAssertThrowsError(try ProbePlan.losses(model: model, recTargets: [targets[0]], latents: latents,
                                                  noise: pseudoRandom([2, 4, 8, 8], seed: 10), timesteps: [999, 3],
                                                  schedule: schedule, captions: captions, expressions: expressions,
                                                  generator: &dropoutRNG))
    }

    func testMetrics() throws {
        let p = Proportion(successes: 8, total: 10)
        XCTAssertEqual(p.value, 0.8)
        // Wilson 95% for 8/10 (statsmodels proportion_confint(8, 10, method="wilson")): (0.4902, 0.9433).
        XCTAssertEqual(p.interval95.low, 0.49016, accuracy: 1e-4)
        XCTAssertEqual(p.interval95.high, 0.94332, accuracy: 1e-4)
        let outcomes = EvaluationPlan.itmOutcomes(scores: [0.5, 0.2, 0.6, 0.1, 0.1, 0.0], count: 2)
        XCTAssertEqual(outcomes.text, [true, false])                  // ties count as wrong
        XCTAssertEqual(outcomes.image, [false, true])
        // Top box: the query with the lowest no-object probability.
        let logits = Tensor(shape: [1, 2, 3], scalars: [0, 0, 3, 2, 0, 0])
        let boxes = Tensor(shape: [1, 2, 4], scalars: [0.1, 0.1, 0.1, 0.1, 0.5, 0.5, 0.2, 0.2])
        let top = DiscriminativeMetrics.topBoxes(classLogits: logits, boxes: boxes)
        XCTAssertEqual(top[0].map { Float($0) }, [0.5, 0.5, 0.2, 0.2])
        XCTAssertEqual(DiscriminativeMetrics.recHits(predicted: top, targets: [[0.52, 0.5, 0.2, 0.2]]), [true])
        XCTAssertEqual(DiscriminativeMetrics.recHits(predicted: top, targets: [[0.7, 0.5, 0.2, 0.2]]), [false])
    }
}

/// A denoiser that reports twice the channels of every tap of the one it wraps (a fit-check mismatch).
final class ScaledChannels: Denoiser {
    let inner: any Denoiser
    init(_ inner: any Denoiser) { self.inner = inner }
    var inChannels: Int { inner.inChannels }
    var outChannels: Int { inner.outChannels }
    var contextDim: Int { inner.contextDim }
    var tapNames: [String] { inner.tapNames }
    func tapChannels(_ name: String) -> Int? { inner.tapChannels(name).map { 2 * $0 } }
    func forward(_ sample: Variable, timesteps: [Float], context: Variable, taps: Set<String>, computeOutput: Bool) -> DenoiserOutput {
        inner.forward(sample, timesteps: timesteps, context: context, taps: taps, computeOutput: computeOutput)
    }
}

import Autodiff
import Diffusion
import Foundation
import Tensor
import XCTest

/// Training helpers against diffusers' training utilities and PyTorch autograd (SD 1.5's noise schedule).
final class TrainingTests: XCTestCase {
    func schedule() throws -> NoiseSchedule {
        NoiseSchedule(config: try SchedulerConfiguration(contentsOf: SchedulerFixtures.url("sd15_scheduler_config.json")))
    }

    func assertClose(_ a: Tensor, _ b: Tensor, _ tol: Float, _ what: String) {
        XCTAssertEqual(a.shape, b.shape, what)
        var worst: Float = 0
        for (x, y) in zip(a.scalars, b.scalars) { worst = Swift.max(worst, Swift.abs(x - y) / Swift.max(1, Swift.abs(y))) }
        XCTAssertLessThan(worst, tol, what)
    }

    func testTimestepSamplingMatchesTorchRandint() throws {
        let training = SchedulerFixtures.json["training"]!
        var g = TorchGenerator(seed: UInt64(training["seed"]!.intValue!))
        let ts = DiffusionTraining.sampleTimesteps(count: 6, numTrainTimesteps: 1000, generator: &g)
        XCTAssertEqual(ts, training["sampled_timesteps"]!.arrayValue!.map { $0.intValue! })
    }

    func testNoisingTargetsAndSNR() throws {
        let sch = try schedule()
        let training = SchedulerFixtures.json["training"]!
        let ts = training["timesteps"]!.arrayValue!.map { $0.intValue! }
        let x0 = try SchedulerFixtures.tensor("training.x0"), noise = try SchedulerFixtures.tensor("training.noise")
        assertClose(DiffusionTraining.addNoise(original: x0, noise: noise, timesteps: ts, schedule: sch),
                    try SchedulerFixtures.tensor("training.noisy"), 1e-6, "add_noise")
        assertClose(DiffusionTraining.target(predictionType: .vPrediction, original: x0, noise: noise, timesteps: ts,
                                             schedule: sch),
                    try SchedulerFixtures.tensor("training.velocity"), 1e-6, "get_velocity")
        XCTAssertEqual(DiffusionTraining.target(predictionType: .epsilon, original: x0, noise: noise, timesteps: ts,
                                                schedule: sch).scalars, noise.scalars)
        XCTAssertEqual(DiffusionTraining.target(predictionType: .sample, original: x0, noise: noise, timesteps: ts,
                                                schedule: sch).scalars, x0.scalars)
        let snr = DiffusionTraining.snr(timesteps: ts, schedule: sch)
        let ref = try SchedulerFixtures.tensor("training.snr").scalars
        for (a, b) in zip(snr, ref) { XCTAssertLessThan(relativeError(Double(a), Double(b)), 1e-5) }
        // Closed form: SNR = abar / (1 - abar).
        for (t, s) in zip(ts, snr) {
            let ab = Double(sch.alphasCumprod[t])
            XCTAssertLessThan(relativeError(Double(s), ab / (1 - ab)), 1e-5)
        }
    }

    /// Round trip: noising x0 with eps and converting each prediction type's target back gives x0 and eps.
    func testPredictionConversionsInvertTheTargets() throws {
        let sch = try schedule()
        var g = TorchGenerator(seed: 21)
        let x0 = g.randn([3, 4, 6, 6]), eps = g.randn([3, 4, 6, 6])
        let ts = [10, 500, 990]
        let xt = sch.addNoise(original: x0, noise: eps, timesteps: ts)
        for p in PredictionType.allCases {
            let out = DiffusionTraining.target(predictionType: p, original: x0, noise: eps, timesteps: ts, schedule: sch)
            let x0Hat = sch.predictOriginalSample(modelOutput: out, sample: xt, timesteps: ts, predictionType: p)
            let epsHat = sch.predictNoise(modelOutput: out, sample: xt, timesteps: ts, predictionType: p)
            // x0 from epsilon at t = 990 divides by sqrt(abar) ~ 0.07: allow for that amplification.
            assertClose(x0Hat, x0, 2e-4, "x0 from \(p.rawValue)")
            assertClose(epsHat, eps, 2e-4, "eps from \(p.rawValue)")
        }
    }

    /// MSE and min-SNR-weighted MSE losses and their gradients against PyTorch (epsilon and v targets).
    func testLossesAndGradients() throws {
        let sch = try schedule()
        let training = SchedulerFixtures.json["training"]!
        let ts = training["timesteps"]!.arrayValue!.map { $0.intValue! }
        let gamma = Float(training["snr_gamma"]!.doubleValue!)
        let x0 = try SchedulerFixtures.tensor("training.x0"), noise = try SchedulerFixtures.tensor("training.noise")
        let pred = try SchedulerFixtures.tensor("training.pred")
        let losses = training["losses"]!.objectValue!
        for ptype in [PredictionType.epsilon, .vPrediction] {
            let target = DiffusionTraining.target(predictionType: ptype, original: x0, noise: noise, timesteps: ts,
                                                  schedule: sch)
            for weighted in [false, true] {
                let key = "\(ptype.rawValue).\(weighted ? "min_snr" : "plain")"
                let p = Variable(pred, requiresGrad: true)
                let weights = weighted
                    ? DiffusionTraining.minSNRWeights(timesteps: ts, schedule: sch, gamma: gamma, predictionType: ptype)
                    : nil
                let loss = DiffusionTraining.loss(prediction: p, target: target, weights: weights)
                XCTAssertLessThan(relativeError(Double(loss.value.item()), losses[key]!.doubleValue!), 1e-5, key)
                loss.backward()
                assertClose(try XCTUnwrap(p.grad), try SchedulerFixtures.tensor("training.grad.\(key)"), 1e-5, key)
            }
        }
        // Min-SNR clips the low-noise items: weight < 1 where SNR > gamma (epsilon).
        let w = DiffusionTraining.minSNRWeights(timesteps: ts, schedule: sch, gamma: gamma, predictionType: .epsilon)
        let snr = DiffusionTraining.snr(timesteps: ts, schedule: sch)
        for (wi, si) in zip(w, snr) { XCTAssertEqual(wi, si > gamma ? gamma / si : 1, accuracy: 1e-6) }
    }
}

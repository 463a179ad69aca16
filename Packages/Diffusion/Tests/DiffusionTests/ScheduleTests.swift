import Diffusion
import Foundation
import Tensor
import XCTest

/// Noise schedules against closed forms, scheduler invariants, and add_noise against diffusers.
final class ScheduleTests: XCTestCase {
    /// torch.linspace's float32 values are within one float32 rounding of the exact line.
    func testLinspaceIsTheLine() {
        let v = BetaSchedule.torchLinspace(0.00085.squareRoot(), 0.012.squareRoot(), count: 1000)
        for (i, x) in v.enumerated() {
            let exact = 0.00085.squareRoot() + (0.012.squareRoot() - 0.00085.squareRoot()) * Double(i) / 999
            XCTAssertLessThan(Swift.abs(Double(x) - exact), 2e-8)
        }
        XCTAssertEqual(BetaSchedule.torchLinspace(1, 2, count: 1), [1])
        XCTAssertEqual(BetaSchedule.torchLinspace(0, 1, count: 0), [])
    }

    /// The cosine schedule's alpha_bar is cos^2(((t+1)/T + s) / (1 + s) * pi/2) / cos^2(s / (1 + s) * pi/2).
    func testCosineScheduleClosedForm() throws {
        let s = try DDPMScheduler(["beta_schedule": "squaredcos_cap_v2"])
        let f = { (t: Double) -> Double in pow(cos((t + 0.008) / 1.008 * Double.pi / 2), 2) }
        for t in stride(from: 0, to: 990, by: 7) {
            let expected = f(Double(t + 1) / 1000) / f(0)
            XCTAssertEqual(Double(s.alphasCumprod[t]), expected, accuracy: 2e-6 * Swift.max(1, expected) + 1e-7)
        }
    }

    /// Zero terminal SNR: alpha_bar ends at exactly 0 and keeps its first value.
    func testZeroTerminalSNR() throws {
        let plain = try DDIMScheduler(["beta_schedule": "scaled_linear", "beta_start": 0.00085, "beta_end": 0.012])
        let rescaled = try DDIMScheduler(["beta_schedule": "scaled_linear", "beta_start": 0.00085, "beta_end": 0.012,
                                          "rescale_betas_zero_snr": true])
        XCTAssertEqual(rescaled.alphasCumprod.last, 0)
        XCTAssertEqual(rescaled.alphasCumprod[0], plain.alphasCumprod[0], accuracy: 1e-6)
        XCTAssertTrue(zip(rescaled.alphasCumprod.dropFirst(), rescaled.alphasCumprod).allSatisfy { $0 <= $1 })
    }

    /// With set_alpha_to_one, DDIM's last step lands on alpha_bar = 1: the new sample is the predicted x0.
    func testDDIMFinalStepIsPredictedSample() throws {
        let s = try DDIMScheduler(["clip_sample": false])
        try s.setTimesteps(10)
        var g = TorchGenerator(seed: 3)
        let x = g.randn([1, 4, 8, 8]), eps = g.randn([1, 4, 8, 8])
        let r = s.step(modelOutput: eps, timestep: s.timesteps.last!, sample: x)
        let x0 = try XCTUnwrap(r.predOriginalSample)
        for (a, b) in zip(r.prevSample.scalars, x0.scalars) { XCTAssertEqual(a, b, accuracy: 1e-6) }
        // And x0 = (x - sqrt(1 - abar) eps) / sqrt(abar) at t = 0.
        let ab = s.alphasCumprod[0]
        for (i, v) in x0.scalars.enumerated() {
            let e = (x.scalars[i] - (1 - ab).squareRoot() * eps.scalars[i]) / ab.squareRoot()
            XCTAssertEqual(v, e, accuracy: 1e-5)
        }
    }

    /// A perfect epsilon model recovers x0 in one DDIM step from any noise level.
    func testDDIMRecoversCleanSampleWithExactNoise() throws {
        let s = try DDIMScheduler(["clip_sample": false, "set_alpha_to_one": true])
        try s.setTimesteps(1)
        var g = TorchGenerator(seed: 11)
        let x0 = g.randn([2, 3, 4, 4]), noise = g.randn([2, 3, 4, 4])
        let t = s.timesteps[0]
        let xt = s.addNoise(original: x0, noise: noise, timesteps: [t])
        let out = s.step(modelOutput: noise, timestep: t, sample: xt).prevSample
        for (a, b) in zip(out.scalars, x0.scalars) { XCTAssertEqual(a, b, accuracy: 2e-3) }
    }

    /// setTimesteps resets the multistep state: two identical loops give identical results.
    func testSetTimestepsResetsState() throws {
        for kind in [SchedulerKind.pndm, .dpmSolverMultistep, .eulerAncestralDiscrete, .eulerDiscrete] {
            let s = try SchedulerConfiguration(kind: kind).makeScheduler()
            var results: [[Float]] = []
            for _ in 0..<2 {
                try s.setTimesteps(12)
                var g = TorchGenerator(seed: 5)
                var x = g.randn([1, 2, 4, 4]) * s.initNoiseSigma
                for t in s.timesteps {
                    let eps = s.scaleModelInput(x, timestep: t) * 0.5
                    x = s.step(modelOutput: eps, timestep: t, sample: x, generator: &g).prevSample
                }
                results.append(x.scalars)
            }
            XCTAssertEqual(results[0], results[1], "\(kind)")
        }
    }

    /// The generator reproduces the fixture's torch.manual_seed(0) sample, so the stochastic loops share noise.
    func testGeneratorMatchesFixtureSample() throws {
        var g = TorchGenerator(seed: 0)
        XCTAssertEqual(g.randn([2, 4, 8, 8]).scalars, try SchedulerFixtures.tensor("sample").scalars)
    }

    /// add_noise of every scheduler against diffusers (a batch of 3 with timesteps from the schedule).
    func testAddNoiseMatchesDiffusers() throws {
        let x = try SchedulerFixtures.tensor("add_noise.original")
        let n = try SchedulerFixtures.tensor("add_noise.noise")
        let cases = SchedulerFixtures.json["add_noise"]!.arrayValue!
        XCTAssertEqual(cases.count, SchedulerKind.allCases.count)
        for c in cases {
            let name = c["name"]!.stringValue!
            let s = try SchedulerConfiguration(json: c["config"]!).makeScheduler()
            try s.setTimesteps(c["steps"]!.intValue!)
            let ts = c["timesteps"]!.arrayValue!.map { Float($0.doubleValue!) }
            let out = s.addNoise(original: x, noise: n, timesteps: ts)
            let ref = try SchedulerFixtures.tensor(name)
            XCTAssertEqual(out.shape, ref.shape)
            var worst: Float = 0
            for (a, b) in zip(out.scalars, ref.scalars) { worst = Swift.max(worst, Swift.abs(a - b) / Swift.max(1, Swift.abs(b))) }
            XCTAssertLessThan(worst, 1e-5, name)
        }
    }
}

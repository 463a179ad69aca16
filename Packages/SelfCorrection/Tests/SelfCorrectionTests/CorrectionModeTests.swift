import Autodiff
import DataIO
import Diffusion
import SelfCorrection
import Tensor
import XCTest

/// Which latent each mode feeds to the U-Net and to the scheduler, eta = 0, eta schedules and DDIM's last step,
/// observed through a recording scheduler and a recording U-Net.
final class CorrectionModeTests: XCTestCase {
    struct Run {
        var result: GenerationResult
        var records: [CorrectionRecord]
        var steps: [RecordingScheduler.StepCall]
        var predictions: [RecordingDenoiser.Call]
        var gradientPasses: [RecordingDenoiser.Call]
        var initial: Tensor
    }

    func run(_ m: TinySetup, _ kind: SchedulerKind = .ddim, eta: EtaSchedule?, mode: CorrectionMode = .release,
             steps: Int = 3, ddimConfig: [String: JSONValue] = [:]) throws -> Run {
        let inner: any Scheduler = kind == .ddim && !ddimConfig.isEmpty
            ? try DDIMScheduler(ddimConfig) : try makeScheduler(kind)
        let scheduler = RecordingScheduler(inner)
        let pipeline = try m.pipeline(scheduler)
        try inner.setTimesteps(steps)
        var gen = TorchGenerator(seed: 21)
        let initial = gen.randn([2, 4, TinySetup.size, TinySetup.size]) * inner.initNoiseSigma
        let options = GenerationOptions(steps: steps, guidanceScale: 5, seeding: .shared(8))
        m.recorder.calls = []
        if let eta {
            let hook = SelfCorrectionHook(corrector: m.corrector(eta: eta, mode: mode), scheduler: scheduler, pooled: m.pooled)
            hook.keepsGradients = true
            let result = try pipeline.generate(m.conditioning, options: options, latents: initial, hooks: [hook], decode: false)
            return Run(result: result, records: hook.records, steps: scheduler.steps, predictions: m.recorder.predictions,
                       gradientPasses: m.recorder.gradientPasses, initial: initial)
        }
        let result = try pipeline.generate(m.conditioning, options: options, latents: initial, decode: false)
        return Run(result: result, records: [], steps: scheduler.steps, predictions: m.recorder.predictions,
                   gradientPasses: m.recorder.gradientPasses, initial: initial)
    }

    /// The conditional half of a recorded [uncond; cond] U-Net input, after checking both halves are equal.
    func condHalf(_ call: RecordingDenoiser.Call, file: StaticString = #filePath, line: UInt = #line) -> Tensor {
        let b = call.sample.shape[0] / 2
        let u = call.sample.sliced(axis: 0, start: 0, end: b).contiguous(), c = call.sample.sliced(axis: 0, start: b, end: 2 * b).contiguous()
        XCTAssertTrue(bitEqual(u, c), "the unconditional and conditional halves of the noise prediction input differ", file: file, line: line)
        return c
    }

    /// release: the U-Net predicts at x^ = x + eta g on both halves; the scheduler steps from the uncorrected x.
    /// paper: the same U-Net inputs at step 0; the scheduler steps from x^; later steps correct the paper trajectory.
    func testReleaseAndPaperModes() throws {
        let m = try TinySetup(prompts: 2, tap: "up1")
        let eta: Float = 0.5
        let release = try run(m, eta: .constant(eta), mode: .release)
        let paper = try run(m, eta: .constant(eta), mode: .paper)
        for r in [release, paper] {
            XCTAssertEqual(r.steps.count, 3)
            XCTAssertEqual(r.gradientPasses.count, 3)
            for i in 0..<3 {
                let x = i == 0 ? r.initial : r.steps[i - 1].prevSample          // the uncorrected latent of step i
                let g = r.records[i].gradient!
                XCTAssertTrue(bitEqual(r.gradientPasses[i].sample, x), "step \(i): the gradient pass did not see x_t (DDIM scale 1)")
                // The recorded g is the autodiff gradient of the score at x (recomputed here).
                let v = Variable(x, requiresGrad: true)
                let s = GradMode.enableGrad { m.scorer.score(latents: v, timestep: r.steps[i].timestep,
                                                             text: AlignmentText(context: m.cond, pooled: m.pooled)).sum() }
                XCTAssertTrue(bitEqual(gradients(of: s, withRespectTo: [v])[0], g), "step \(i): recorded gradient")
                XCTAssertGreaterThan(maxAbs(g), 0)
                let xHat = condHalf(r.predictions[i])
                XCTAssertLessThan(maxAbsDiff(xHat, x + g * eta), 1e-6 * maxAbs(x), "step \(i): U-Net input is not x + eta g")
                XCTAssertEqual(r.records[i].eta, eta)
            }
        }
        for i in 0..<3 {
            XCTAssertTrue(bitEqual(release.steps[i].sample, i == 0 ? release.initial : release.steps[i - 1].prevSample),
                          "release step \(i): the scheduler did not step from the uncorrected latent")
            XCTAssertTrue(bitEqual(paper.steps[i].sample, condHalf(paper.predictions[i])),
                          "paper step \(i): the scheduler did not step from the corrected latent")
            XCTAssertFalse(bitEqual(paper.steps[i].sample, i == 0 ? paper.initial : paper.steps[i - 1].prevSample))
        }
        // Same start, same first correction; they part after the first scheduler step.
        XCTAssertTrue(bitEqual(release.predictions[0].sample, paper.predictions[0].sample))
        XCTAssertTrue(bitEqual(release.steps[0].modelOutput, paper.steps[0].modelOutput))
        XCTAssertFalse(bitEqual(release.steps[0].prevSample, paper.steps[0].prevSample))
        // Paper's first step = DDIM from x^ with the same eps: differs from release's by sqrt(a_prev / a_t) * eta * g.
        let ddim = try DDIMScheduler(["set_alpha_to_one": .bool(false), "clip_sample": .bool(false)])
        try ddim.setTimesteps(3)
        let t = Int(release.steps[0].timestep)
        let ratio = (ddim.alphaProd(ddim.previousTimestep(t)) / ddim.alphasCumprod[t]).squareRoot()
        let shift = paper.steps[0].prevSample - release.steps[0].prevSample
        XCTAssertGreaterThan(maxAbs(shift), 1e-3)
        XCTAssertLessThan(maxAbsDiff(shift, release.records[0].gradient! * (eta * ratio)), 2e-6 * maxAbs(release.steps[0].prevSample))
    }

    /// eta = 0 (constant, zero steps of first:K, all-zero list) is the plain pipeline bit for bit, with no
    /// gradient pass, in both modes, with a deterministic and a stochastic scheduler.
    func testZeroEtaReproducesThePlainPipeline() throws {
        let m = try TinySetup(prompts: 2, tap: "mid")
        for kind in [SchedulerKind.ddim, .eulerAncestralDiscrete] {
            let plain = try run(m, kind, eta: nil)
            for mode in CorrectionMode.allCases {
                for eta in [EtaSchedule.constant(0), .firstSteps(0.5, count: 0), .perStep([0, 0, 0])] {
                    let r = try run(m, kind, eta: eta, mode: mode)
                    XCTAssertTrue(bitEqual(r.result.latents, plain.result.latents), "\(kind) \(mode) \(eta)")
                    XCTAssertEqual(r.gradientPasses.count, 0)
                    XCTAssertEqual(r.records.map(\.eta), [0, 0, 0])
                }
            }
        }
    }

    /// Schedules: first:K corrects exactly the first K steps; linear and per-step values scale the correction
    /// of each step by that step's eta.
    func testEtaSchedules() throws {
        let m = try TinySetup(prompts: 2, tap: "mid")
        let first = try run(m, eta: .firstSteps(0.5, count: 2), steps: 4)
        XCTAssertEqual(first.gradientPasses.count, 2)
        XCTAssertEqual(first.records.map(\.eta), [0.5, 0.5, 0, 0])
        for i in 2..<4 { XCTAssertTrue(bitEqual(condHalf(first.predictions[i]), first.steps[i].sample)) }

        for (schedule, expected) in [(EtaSchedule.linear(from: 1, to: 0.25), [Float(1), 0.75, 0.5, 0.25]),
                                     (.perStep([0.3, 0, 1.2, 0.1]), [0.3, 0, 1.2, 0.1])] {
            let r = try run(m, eta: schedule, steps: 4)
            XCTAssertEqual(r.records.map(\.eta), expected)
            XCTAssertEqual(r.gradientPasses.count, expected.filter { $0 != 0 }.count)
            for i in 0..<4 {
                let x = r.steps[i].sample
                let delta = condHalf(r.predictions[i]) - x
                if expected[i] == 0 { XCTAssertEqual(maxAbs(delta), 0); continue }
                XCTAssertLessThan(maxAbsDiff(delta, r.records[i].gradient! * expected[i]), 1e-6 * maxAbs(x) + 1e-7, "\(schedule) step \(i)")
            }
        }
    }

    /// The last DDIM step lands on the scheduler's final alpha (1 with set_alpha_to_one, alpha_bar_0 without),
    /// not on the release's wrapped index alphas_cumprod[t_prev mod T], in both modes.
    func testLastDDIMStepUsesFinalAlphaCumprod() throws {
        let m = try TinySetup(prompts: 2, tap: "mid")
        for alphaToOne in [true, false] {
            for mode in CorrectionMode.allCases {
                let r = try run(m, eta: .constant(0.5), mode: mode, steps: 3,
                                ddimConfig: ["set_alpha_to_one": .bool(alphaToOne), "clip_sample": .bool(false)])
                let ddim = try DDIMScheduler(["set_alpha_to_one": .bool(alphaToOne), "clip_sample": .bool(false)])
                try ddim.setTimesteps(3)
                let last = r.steps[2]
                let t = Int(last.timestep)
                let prevT = ddim.previousTimestep(t)
                XCTAssertLessThan(prevT, 0, "the last step should step past t = 0")
                let final = alphaToOne ? Float(1) : ddim.alphasCumprod[0]
                XCTAssertEqual(ddim.finalAlphaCumprod, final)
                func ddimStep(_ aPrev: Float) -> Tensor {
                    let at = ddim.alphasCumprod[t]
                    let x0 = (last.sample - last.modelOutput * (1 - at).squareRoot()) * (1 / at.squareRoot())
                    return x0 * aPrev.squareRoot() + last.modelOutput * (1 - aPrev).squareRoot()
                }
                let expected = ddimStep(final)
                XCTAssertLessThan(maxAbsDiff(last.prevSample, expected), 1e-5 * maxAbs(expected), "alpha_to_one \(alphaToOne) \(mode)")
                if alphaToOne { XCTAssertLessThan(maxAbsDiff(last.prevSample, last.predOriginal!), 1e-5 * maxAbs(expected)) }
                let wrapped = ddimStep(ddim.alphasCumprod[(prevT + 1000) % 1000])
                XCTAssertGreaterThan(maxAbsDiff(last.prevSample, wrapped), 0.1 * maxAbs(expected), "indistinguishable from the index wrap")
                XCTAssertTrue(bitEqual(last.prevSample, r.result.latents))
            }
        }
    }
}

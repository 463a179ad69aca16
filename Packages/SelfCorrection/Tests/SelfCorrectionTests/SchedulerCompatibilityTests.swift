import Autodiff
import Diffusion
import SelfCorrection
import Tensor
import XCTest

/// Self-correction through the pipeline hook under every scheduler of the Diffusion package, in both modes.
final class SchedulerCompatibilityTests: XCTestCase {
    /// At every step the U-Net sees z^ = c x + eta g (c = the scheduler's input scale, < 1 for the Euler
    /// schedulers), the gradient pass sees z = c x, and the scheduler gets x (release) or x^ (paper); the run
    /// ends finite and differs from the plain run.
    func testEverySchedulerBothModes() throws {
        let m = try TinySetup(prompts: 1, tap: "up1")
        let requested = 4, eta: Float = 0.5
        for kind in SchedulerKind.allCases {
            var plainLatents: Tensor?
            for mode in [CorrectionMode?.none, .release, .paper] {
                let scheduler = RecordingScheduler(try makeScheduler(kind))
                let pipeline = try m.pipeline(scheduler)
                try scheduler.setTimesteps(requested)
                let steps = scheduler.timesteps.count     // PNDM with skip_prk_steps repeats one timestep
                var gen = TorchGenerator(seed: 2)
                let initial = gen.randn([1, 4, TinySetup.size, TinySetup.size]) * scheduler.initNoiseSigma
                let options = GenerationOptions(steps: requested, guidanceScale: 5, seeding: .shared(4))
                m.recorder.calls = []
                guard let mode else {
                    plainLatents = try pipeline.generate(m.conditioning, options: options, latents: initial, decode: false).latents
                    continue
                }
                let hook = SelfCorrectionHook(corrector: m.corrector(eta: .constant(eta), mode: mode), scheduler: scheduler,
                                              pooled: m.pooled)
                hook.keepsGradients = true
                let result = try pipeline.generate(m.conditioning, options: options, latents: initial, hooks: [hook], decode: false)
                let label = "\(kind.rawValue) \(mode)"
                XCTAssertTrue(result.latents.scalars.allSatisfy(\.isFinite), label)
                XCTAssertGreaterThan(maxAbsDiff(result.latents, plainLatents!), 1e-4, "\(label): the correction changed nothing")
                XCTAssertEqual(hook.records.count, steps)
                XCTAssertEqual(scheduler.steps.count, steps)
                let predictions = m.recorder.predictions, passes = m.recorder.gradientPasses
                XCTAssertEqual(passes.count, steps)
                if kind == .eulerDiscrete || kind == .eulerAncestralDiscrete {
                    XCTAssertLessThan(hook.records[0].modelInputScale, 0.2, "\(label): expected sigma_max scaling")
                } else {
                    XCTAssertTrue(hook.records.allSatisfy { $0.modelInputScale == 1 }, label)
                }
                for i in 0..<steps {
                    let x = i == 0 ? initial : scheduler.steps[i - 1].prevSample
                    let c = hook.records[i].modelInputScale
                    let g = hook.records[i].gradient!
                    XCTAssertEqual(hook.records[i].timestep, scheduler.steps[i].timestep)
                    XCTAssertLessThan(maxAbsDiff(passes[i].sample, x * c), 1e-6 * maxAbs(x * c), "\(label) step \(i): gradient pass input")
                    let modelInput = predictions[i].sample.sliced(axis: 0, start: 1, end: 2).contiguous()
                    XCTAssertTrue(bitEqual(modelInput, predictions[i].sample.sliced(axis: 0, start: 0, end: 1).contiguous()))
                    let expected = x * c + g * eta
                    XCTAssertLessThan(maxAbsDiff(modelInput, expected), 2e-6 * maxAbs(expected), "\(label) step \(i): U-Net input is not c x + eta g")
                    let sample = scheduler.steps[i].sample
                    switch mode {
                    case .release:
                        XCTAssertTrue(bitEqual(sample, x), "\(label) step \(i): scheduler sample")
                    case .paper:
                        // z^ = c x^ (the Euler schedulers' scaling depends on their step index, so use c recorded at the step).
                        XCTAssertLessThan(maxAbsDiff(sample * c, modelInput), 1e-6 * maxAbs(modelInput),
                                          "\(label) step \(i): scheduler sample is not x^")
                        XCTAssertFalse(bitEqual(sample, x))
                    }
                }
            }
        }
    }

    /// The pipeline convenience: one hook on the pipeline's scheduler, pooled rows per prompt expanded to the
    /// images, settings validated before the run.
    func testPipelineConvenienceAndValidation() throws {
        let m = try TinySetup(prompts: 2, tap: "mid")
        let scheduler = try DDIMScheduler()
        let pipeline = try m.pipeline(scheduler)
        let options = GenerationOptions(steps: 2, guidanceScale: 5, imagesPerPrompt: 2, seeding: .shared(3))
        let c = m.corrector(eta: .constant(0.5), mode: .paper)
        let (result, records) = try pipeline.generate(m.conditioning, pooled: m.pooled, selfCorrection: c, options: options, decode: false)
        XCTAssertEqual(result.latents.shape, [4, 4, TinySetup.size, TinySetup.size])
        XCTAssertEqual(records.count, 2)
        XCTAssertEqual(records[0].scores.count, 4)
        // Per-prompt pooled rows are repeated per image in place: the same run with per-image rows is identical.
        let perImage = m.pooled.indexSelect(axis: 0, indices: [0, 0, 1, 1])
        let (again, _) = try pipeline.generate(m.conditioning, pooled: perImage, selfCorrection: c, options: options, decode: false)
        XCTAssertTrue(bitEqual(result.latents, again.latents))

        XCTAssertThrowsError(try pipeline.generate(m.conditioning, pooled: Tensor.zeros([3, TinySetup.textDim]),
                                                   selfCorrection: c, options: options, decode: false)) { e in
            XCTAssertEqual((e as? SelfCorrectionError)?.setting, "pooled")
        }
        // Without guidance (scale 1, no unconditional embeddings) the correction still runs on the prompts' rows.
        let noCFG = GenerationOptions(steps: 2, guidanceScale: 1, seeding: .shared(3))
        let (single, singleRecords) = try pipeline.generate(TextConditioning(cond: m.cond), pooled: m.pooled, selfCorrection: c,
                                                            options: noCFG, decode: false)
        let plain = try pipeline.generate(TextConditioning(cond: m.cond), options: noCFG, decode: false)
        XCTAssertEqual(singleRecords.map(\.eta), [0.5, 0.5])
        XCTAssertGreaterThan(maxAbsDiff(single.latents, plain.latents), 1e-4)

        let bad = m.corrector(eta: .perStep([0.5, 0.5, 0.5]))
        XCTAssertThrowsError(try pipeline.generate(m.conditioning, pooled: m.pooled, selfCorrection: bad, options: options, decode: false)) { e in
            XCTAssertTrue("\(e)".contains("3 per-step values for a run of 2 steps"), "\(e)")
        }
    }
}

import Autodiff
import DataIO
import Diffusion
import Foundation
import Pipeline
import Tensor
import XCTest

/// Hooks, seeding, guidance arithmetic and prompt handling of the pipeline (independent references: a second
/// run, brute force, the tokenizer).
final class PipelineBehaviourTests: XCTestCase {
    let small = GenerationOptions(steps: 4, guidanceScale: 7.5, height: 16, width: 16, seeding: .shared(11))

    override func setUpWithError() throws { try Fixture.pipeline.useScheduler("ddim") }

    func testStepCallbackSeesEveryStepAndCanStop() throws {
        let pipe = Fixture.pipeline
        var seen: [(Int, Float, [Int])] = []
        let stopAfterTwo = StepCallback { state in
            seen.append((state.stepIndex, state.timestep, state.latents.shape))
            XCTAssertNotNil(state.modelOutput)
            return state.stepIndex == 1 ? .stop : .proceed
        }
        let stopped = try pipe.generate(prompts: ["a red circle"], options: small, hooks: [stopAfterTwo], decode: false)
        XCTAssertEqual(stopped.stepsRun, 2)
        XCTAssertTrue(stopped.stoppedEarly)
        XCTAssertNil(stopped.images)
        XCTAssertEqual(seen.map(\.0), [0, 1])
        XCTAssertEqual(seen.map(\.1), Array(pipe.scheduler.timesteps.prefix(2)))
        XCTAssertEqual(seen[0].2, [1, 4, 8, 8])
        // The latents after two steps are those of a run with 4 steps stopped by hand: compare with a recording
        // hook on a full run.
        var second: Tensor?
        let record = StepCallback { s in
            if s.stepIndex == 1 { second = s.latents }
            return .proceed
        }
        let full = try pipe.generate(prompts: ["a red circle"], options: small, hooks: [record], decode: false)
        XCTAssertEqual(full.stepsRun, 4)
        XCTAssertEqual(maxAbsDiff(try XCTUnwrap(second), stopped.latents), 0)   // the same first two steps: the same bits
    }

    /// A hook that feeds the U-Net a modified latent: with `stepsFromModifiedLatents` false the scheduler steps from
    /// z_t (DPT's release), with true from the modified latent. Checked against the same step done by hand.
    func testBeforeNoisePredictionHookSemantics() throws {
        final class Shift: StepHook {
            let delta: Float, fromModified: Bool
            var inputs: [Tensor] = []
            init(_ delta: Float, fromModified: Bool) { self.delta = delta; self.fromModified = fromModified }
            func beforeNoisePrediction(_ state: StepState) -> Tensor? { inputs.append(state.latents); return state.latents + delta }
            var stepsFromModifiedLatents: Bool { fromModified }
        }
        let pipe = Fixture.pipeline
        var one = small
        one.steps = 1
        let (cond, _) = try pipe.prompts.conditioning(prompts: ["two squares"])
        for fromModified in [false, true] {
            let hook = Shift(0.3, fromModified: fromModified)
            let r = try pipe.sampler.generate(cond, options: one, hooks: [hook], decode: false)
            let z = try XCTUnwrap(hook.inputs.first)
            // By hand: U-Net on [z + 0.3; z + 0.3], guidance, DDIM step from z (or z + 0.3).
            let scheduler = pipe.scheduler
            try scheduler.setTimesteps(1)
            let t = scheduler.timesteps[0]
            let input = z + 0.3
            let context = Tensor.concat([cond.uncond!, cond.cond], axis: 0)
            let raw = GradMode.noGrad {
                pipe.unet.predict(Variable(scheduler.scaleModelInput(Tensor.concat([input, input], axis: 0), timestep: t)),
                                  timestep: t, context: Variable(context)).value
            }
            let eps = ClassifierFreeGuidance.combine(raw, scale: 7.5)
            let expected = scheduler.step(modelOutput: eps, timestep: t, sample: fromModified ? input : z).prevSample
            XCTAssertLessThan(maxAbsDiff(r.latents, expected), 1e-5, "stepsFromModifiedLatents \(fromModified)")
        }
    }

    func testReplaceLatentsActionContinuesFromTheReplacement() throws {
        let pipe = Fixture.pipeline
        let zeroAtFirst = StepCallback { s in s.stepIndex == 0 ? .replaceLatents(Tensor.zeros(s.latents.shape)) : .proceed }
        final class Capture: StepHook {
            var latents: [Tensor] = []
            func beforeNoisePrediction(_ state: StepState) -> Tensor? { latents.append(state.latents); return nil }
        }
        let capture = Capture()
        _ = try pipe.generate(prompts: ["a star"], options: small, hooks: [zeroAtFirst, capture], decode: false)
        XCTAssertEqual(capture.latents.count, 4)
        XCTAssertEqual(capture.latents[1].abs().max().item(), 0)
        XCTAssertGreaterThan(capture.latents[0].abs().max().item(), 0)
    }

    /// Per-image seeds: an image does not depend on the batch it is generated in (DDIM is deterministic).
    func testPerImageSeedingIsBatchInvariant() throws {
        let pipe = Fixture.pipeline
        var opts = small
        opts.imagesPerPrompt = 2
        opts.seeding = .perImage([7, 8])
        let both = try pipe.generate(prompts: ["a blue square"], options: opts, decode: false).latents
        opts.imagesPerPrompt = 1
        for (k, s) in [UInt64(7), 8].enumerated() {
            opts.seeding = .perImage([s])
            let alone = try pipe.generate(prompts: ["a blue square"], options: opts, decode: false).latents
            XCTAssertLessThan(maxAbsDiff(alone, both.sliced(axis: 0, start: k, end: k + 1)), 1e-4)
        }
        // A shared seed draws the batch in one go: image 0 equals a single-image run with that seed.
        opts.seeding = .shared(7)
        let single = try pipe.sampler.initialLatents(count: 1, options: opts).0
        var g = TorchGenerator(seed: 7)
        XCTAssertEqual(single.scalars, g.randn([1, 4, 8, 8]).scalars)
    }

    func testNegativePromptChangesTheImageAndGuidanceOneIgnoresIt() throws {
        let pipe = Fixture.pipeline
        let plain = try pipe.generate(prompts: ["a red circle"], options: small, decode: false).latents
        let negative = try pipe.generate(prompts: ["a red circle"], negativePrompt: "a green circle", options: small, decode: false).latents
        XCTAssertGreaterThan(maxAbsDiff(plain, negative), 1e-3)
        var noCFG = small
        noCFG.guidanceScale = 1
        let a = try pipe.generate(prompts: ["a red circle"], options: noCFG, decode: false).latents
        let b = try pipe.generate(prompts: ["a red circle"], negativePrompt: "a green circle", options: noCFG, decode: false).latents
        XCTAssertEqual(maxAbsDiff(a, b), 0)   // guidance 1 never runs the negative branch: the same path, the same bits
    }

    func testGuidanceRescaleMatchesBruteForce() throws {
        var g = TorchGenerator(seed: 3)
        let raw = g.randn([4, 3, 5, 5])
        let guided = ClassifierFreeGuidance.combine(raw, scale: 6)
        let u = raw.sliced(axis: 0, start: 0, end: 2), c = raw.sliced(axis: 0, start: 2, end: 4)
        XCTAssertLessThan(maxAbsDiff(guided, u + (c - u) * 6), 1e-5)
        let out = ClassifierFreeGuidance.rescale(guided, cond: c.contiguous(), factor: 0.7)
        for k in 0..<2 {
            func std(_ t: Tensor) -> Double {
                let v = t.scalars.map(Double.init), m = v.reduce(0, +) / Double(v.count)
                return (v.map { ($0 - m) * ($0 - m) }.reduce(0, +) / Double(v.count - 1)).squareRoot()
            }
            let gk = guided.selecting(axis: 0, index: k), ck = c.selecting(axis: 0, index: k)
            let w = Float(0.7 * std(ck) / std(gk) + 0.3)
            XCTAssertLessThan(maxAbsDiff(out.selecting(axis: 0, index: k), gk * w), 1e-5)
        }
    }

    /// A prompt longer than the context: diffusers' warning naming the dropped words, and the embeddings of the
    /// truncated ids.
    func testLongPromptIsTruncatedWithWarning() throws {
        let pipe = Fixture.pipeline
        let long = Array(repeating: "a red circle left of a blue square", count: 12).joined(separator: " and ") + " zebra"
        XCTAssertGreaterThan(try pipe.tokenizer.encode(long).count, 75)
        let warning = try XCTUnwrap(try pipe.prompts.truncationWarning(for: long))
        XCTAssertTrue(warning.contains("truncated because CLIP can only handle sequences up to 77 tokens"), warning)
        XCTAssertTrue(warning.hasSuffix("zebra"), warning)
        let (embeds, warnings) = try pipe.prompts.embeddings([long, "a red circle"])
        XCTAssertEqual(warnings.count, 1)
        XCTAssertEqual(embeds.shape, [2, 77, 32])
        XCTAssertNil(try pipe.prompts.truncationWarning(for: "a red circle"))
    }

    func testBadInputsFailClearly() throws {
        let pipe = Fixture.pipeline
        var bad = small
        bad.height = 15
        XCTAssertThrowsError(try pipe.generate(prompts: ["x"], options: bad)) { e in
            XCTAssertTrue("\(e)".contains("multiples of the autoencoder's downscale factor 2"), "\(e)")
        }
        let wrong = TextConditioning(cond: Tensor.zeros([1, 77, 16]), uncond: Tensor.zeros([1, 77, 16]))
        XCTAssertThrowsError(try pipe.sampler.generate(wrong, options: small)) { e in
            XCTAssertTrue("\(e)".contains("cross_attention_dim is 32"), "\(e)")
        }
        let noUncond = TextConditioning(cond: Tensor.zeros([1, 77, 32]))
        XCTAssertThrowsError(try pipe.sampler.generate(noUncond, options: small)) { e in
            XCTAssertTrue("\(e)".contains("needs the unconditional"), "\(e)")
        }
        XCTAssertThrowsError(try pipe.prompts.conditioning(prompts: ["a", "b"], negativePrompts: ["x", "y", "z"]))
        XCTAssertThrowsError(try pipe.useScheduler("heun")) { e in
            XCTAssertTrue("\(e)".contains("ddim, pndm, ddpm, euler, euler-ancestral, dpmsolver++"), "\(e)")
        }
    }
}

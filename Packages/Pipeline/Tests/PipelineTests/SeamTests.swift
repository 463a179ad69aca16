import Autodiff
import Diffusion
import Foundation
import Pipeline
import SelfCorrection
import Tensor
import XCTest

/// One test per seam of the sampling stack: each swaps one component for a stand-in written here, touching no
/// other package, and checks the stand-in is what ran.
final class SeamTests: XCTestCase {
    let options = GenerationOptions(steps: 3, guidanceScale: 4, height: 16, width: 16, imagesPerPrompt: 2,
                                    seeding: .perImage([3, 4]))

    func bitEqual(_ a: Tensor, _ b: Tensor) -> Bool {
        a.shape == b.shape && zip(a.scalars, b.scalars).allSatisfy { $0.bitPattern == $1.bitPattern }
    }

    /// A text conditioner that is not CLIP: each prompt's token states are seeded draws from its length, the
    /// empty prompt's zeros; pooled embeddings are the mean token state.
    final class SeededConditioner: TextConditioner {
        let contextDim: Int
        let tokens: Int
        var calls: [[String]] = []
        init(contextDim: Int, tokens: Int) { self.contextDim = contextDim; self.tokens = tokens }
        var pooledDim: Int? { contextDim }
        func states(_ prompts: [String]) -> Tensor {
            Tensor.concat(prompts.map { p -> Tensor in
                if p.isEmpty { return Tensor(shape: [1, tokens, contextDim], repeating: 0) }
                var g = TorchGenerator(seed: UInt64(p.utf8.count))
                return g.randn([1, tokens, contextDim])
            }, axis: 0)
        }
        func conditioning(prompts: [String], negativePrompts: [String]?, withUncond: Bool) throws -> (TextConditioning, warnings: [String]) {
            calls.append(prompts)
            let cond = states(prompts)
            let negatives = negativePrompts.map { $0.count == 1 ? Array(repeating: $0[0], count: prompts.count) : $0 }
                ?? Array(repeating: "", count: prompts.count)
            return (TextConditioning(cond: cond, uncond: withUncond ? states(negatives) : nil,
                                     pooled: cond.mean(axes: [1])), ["seeded conditioner"])
        }
    }

    func testTextConditionerSwap() throws {
        let pipe = try StableDiffusionPipeline(components: Fixture.pipeline.components, scheduler: "ddim")
        let clip = try pipe.generate(prompts: ["a red circle"], options: options, decode: false).latents
        let seeded = SeededConditioner(contextDim: pipe.unet.contextDim, tokens: 5)
        pipe.conditioner = seeded
        var warnings: [String] = []
        pipe.warningHandler = { warnings.append($0) }
        let swapped = try pipe.generate(prompts: ["a red circle"], options: options, decode: false).latents
        XCTAssertEqual(seeded.calls, [["a red circle"]])
        XCTAssertEqual(warnings, ["seeded conditioner"])
        // The sampler ran on the stand-in's states: the same as handing them to the loop directly.
        let (c, _) = try seeded.conditioning(prompts: ["a red circle"])
        let direct = try pipe.sampler.generate(c, options: options, decode: false).latents
        XCTAssertTrue(bitEqual(swapped, direct))
        XCTAssertGreaterThan(maxAbsDiff(swapped, clip), 1e-3)
    }

    /// A denoiser that is not a U-Net: predicts `scale * sample`, exposes one tap with its own channel count.
    final class ScalingDenoiser: Denoiser {
        let inChannels = 3, outChannels = 3, contextDim: Int
        let scale: Float
        var batches: [Int] = []
        init(contextDim: Int, scale: Float) { self.contextDim = contextDim; self.scale = scale }
        var tapNames: [String] { ["half"] }
        func tapChannels(_ name: String) -> Int? { name == "half" ? 7 : nil }
        func forward(_ sample: Variable, timesteps: [Float], context: Variable, taps: Set<String>, computeOutput: Bool) -> DenoiserOutput {
            batches.append(sample.shape[0])
            return DenoiserOutput(sample: computeOutput ? sample * scale : nil,
                                  features: taps.contains("half") ? ["half": sample * 0.5] : [:])
        }
    }

    func testDenoiserSwap() throws {
        let (c, _) = try Fixture.pipeline.prompts.conditioning(prompts: ["a red circle"])
        let denoiser = ScalingDenoiser(contextDim: c.cond.shape[2], scale: 0)
        let scheduler = try SchedulerChoice(name: "ddim").makeScheduler(from: Fixture.pipeline.schedulerConfig)
        let loop = try TextToImagePipeline(unet: denoiser, autoencoder: IdentityAutoencoder(channels: 3), scheduler: scheduler,
                                           sampleSize: (16, 16))
        let result = try loop.generate(c, options: options, decode: false)
        XCTAssertEqual(denoiser.batches, [4, 4, 4], "one call per step on [uncond; cond] x 2 images")
        // The stand-in's zero prediction is what the scheduler stepped with: the same as stepping by hand.
        let (x0, _) = try loop.initialLatents(count: 2, options: options)
        let byHand = try SchedulerChoice(name: "ddim").makeScheduler(from: Fixture.pipeline.schedulerConfig)
        try byHand.setTimesteps(options.steps)
        var x = x0
        for t in byHand.timesteps { x = byHand.step(modelOutput: x * 0, timestep: t, sample: x).prevSample }
        XCTAssertTrue(bitEqual(result.latents, x))
        XCTAssertGreaterThan(maxAbsDiff(result.latents, x0), 1e-3)
        XCTAssertEqual(try denoiser.tapChannels(of: ["half"]), [7])
        XCTAssertThrowsError(try denoiser.tapChannels(of: ["up0"]))
    }

    /// A scheduler that is not diffusers': two fixed timesteps, `prev = sample - 0.1 * modelOutput`.
    final class FixedStepScheduler: Scheduler {
        let config: SchedulerConfiguration
        init(config: SchedulerConfiguration) { self.config = config }
        var order: Int { 1 }
        var initNoiseSigma: Float { 2 }
        private(set) var timesteps: [Float] = []
        private(set) var numInferenceSteps: Int?
        var alphasCumprod: [Float] { [] }
        var isStochastic: Bool { false }
        var stepped: [Float] = []
        func setTimesteps(_ n: Int) throws { numInferenceSteps = n; timesteps = [900, 400] }
        func scaleModelInput(_ sample: Tensor, timestep: Float) -> Tensor { sample }
        func step(modelOutput: Tensor, timestep: Float, sample: Tensor, generator: inout TorchGenerator) -> SchedulerStepOutput {
            stepped.append(timestep)
            return SchedulerStepOutput(prevSample: sample - modelOutput * 0.1, predOriginalSample: nil)
        }
        func addNoise(original: Tensor, noise: Tensor, timesteps: [Float]) -> Tensor { original + noise }
    }

    func testSchedulerSwap() throws {
        let pipe = try StableDiffusionPipeline(components: Fixture.pipeline.components)
        let fixed = FixedStepScheduler(config: pipe.schedulerConfig)
        pipe.sampler.scheduler = fixed
        let out = try pipe.generate(prompts: ["two squares"], options: options, decode: false)
        XCTAssertEqual(fixed.stepped, [900, 400])
        XCTAssertEqual(out.stepsRun, 2)
        // The loop started from the seeds' noise times the stand-in's initNoiseSigma.
        final class FirstLatents: StepHook {
            var first: Tensor?
            func beforeNoisePrediction(_ state: StepState) -> Tensor? {
                if first == nil { first = state.latents }
                return nil
            }
        }
        let spy = FirstLatents()
        _ = try pipe.generate(prompts: ["two squares"], options: options, hooks: [spy], decode: false)
        var parts: [Tensor] = []
        var one = try pipe.sampler.latentShape(count: 1, options: options)
        one[0] = 1
        for seed in [UInt64(3), 4] {
            var g = TorchGenerator(seed: seed)
            parts.append(g.randn(one))
        }
        XCTAssertTrue(bitEqual(try XCTUnwrap(spy.first), Tensor.concat(parts, axis: 0) * 2))
    }

    /// A step hook written here: replaces the latents after the first step and stops after the second.
    func testStepHookSwap() throws {
        let pipe = try StableDiffusionPipeline(components: Fixture.pipeline.components, scheduler: "ddim")
        final class ZeroThenStop: StepHook {
            var seen: [Int] = []
            func afterStep(_ state: StepState) -> StepAction {
                seen.append(state.stepIndex)
                return state.stepIndex == 0 ? .replaceLatents(state.latents * 0) : .stop
            }
        }
        let hook = ZeroThenStop()
        let out = try pipe.generate(prompts: ["a red circle"], options: options, hooks: [hook], decode: false)
        XCTAssertEqual(hook.seen, [0, 1])
        XCTAssertTrue(out.stoppedEarly)
        XCTAssertEqual(out.stepsRun, 2)
    }

    /// An alignment scorer written here, s(z) = sum(w * z): its gradient is w exactly, so self-correction
    /// (SelfCorrection's hook, unchanged) moves the U-Net's input by eta * w, and the scorer received the
    /// conditioner's pooled embeddings.
    final class LinearScorer: AlignmentScorer {
        let w: Tensor
        var pooledSeen: [Tensor?] = []
        init(_ w: Tensor) { self.w = w }
        func score(latents: Variable, timestep: Float, text: AlignmentText) -> Variable {
            pooledSeen.append(text.pooled)
            return (latents * Variable(w)).sum(axes: [1, 2, 3])
        }
    }

    func testAlignmentScorerSwap() throws {
        let pipe = try StableDiffusionPipeline(components: Fixture.pipeline.components, scheduler: "ddim")
        var g = TorchGenerator(seed: 9)
        let w = g.randn(try pipe.sampler.latentShape(count: 2, options: options))
        let scorer = LinearScorer(w)
        let hook = SelfCorrectionHook(corrector: SelfCorrector(scorer: scorer, settings: SelfCorrectionSettings(eta: .constant(0.25))),
                                      scheduler: pipe.scheduler)
        hook.keepsGradients = true
        _ = try pipe.generate(prompts: ["a red circle"], options: options, hooks: [hook], decode: false)
        XCTAssertEqual(hook.records.count, 3)
        for r in hook.records { XCTAssertTrue(bitEqual(try XCTUnwrap(r.gradient), w)) }
        let e = try pipe.prompts.encode(["a red circle"])
        XCTAssertEqual(scorer.pooledSeen.count, 3)
        for p in scorer.pooledSeen { XCTAssertTrue(bitEqual(try XCTUnwrap(p), e.pooled.indexSelect(axis: 0, indices: [0, 0]))) }
    }
}

import Autodiff
import DataIO
import Diffusion
import Foundation
import Pipeline
import Tensor
import XCTest

/// End-to-end parity with diffusers' StableDiffusionPipeline on the tiny random folder written by save_pretrained.
final class PipelineParityTests: XCTestCase {
    func run(_ c: Fixture.Case) throws -> GenerationResult {
        let pipe = Fixture.pipeline
        try pipe.useScheduler(c.scheduler)
        let options = GenerationOptions(steps: c.steps, guidanceScale: c.guidance, height: c.height, width: c.width,
                                        imagesPerPrompt: c.num_images_per_prompt, seeding: .shared(c.seed))
        return try pipe.generate(prompts: c.prompts, negativePrompt: c.negative_prompt, options: options)
    }

    func checkCase(_ name: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let c = try XCTUnwrap(Fixture.cases.first { $0.name == name })
        let pipe = Fixture.pipeline
        // Text conditioning: [uncond; cond] as the pipeline concatenates it.
        let (conditioning, _) = try pipe.prompts.conditioning(
            prompts: c.prompts, negativePrompts: c.negative_prompt.map { [$0] }, withUncond: c.guidance > 1)
        let expanded = conditioning.repeatedPerPrompt(c.num_images_per_prompt)
        let embeds = expanded.uncond.map { Tensor.concat([$0, expanded.cond], axis: 0) } ?? expanded.cond
        let refEmbeds = try Fixture.reference.tensor("\(name).prompt_embeds")
        XCTAssertLessThan(maxAbsDiff(embeds, refEmbeds), 1e-4, "\(name): prompt embeddings", file: file, line: line)

        let result = try run(c)
        let refLatents = try Fixture.reference.tensor("\(name).latents")
        XCTAssertEqual(result.latents.shape, refLatents.shape, file: file, line: line)
        let latentError = maxAbsDiff(result.latents, refLatents)
        XCTAssertLessThan(latentError, 2e-3, "\(name): final latents", file: file, line: line)

        let images = try XCTUnwrap(result.images)
        let refImage = try Fixture.reference.tensor("\(name).image")
        let ours = numpyImages(images)
        XCTAssertEqual(ours.shape, refImage.shape, "\(name): [B, H, W, 3]", file: file, line: line)
        let p = psnr(ours, refImage)
        print("\(name): PSNR \(String(format: "%.1f", p)) dB, max latent error \(latentError), \(c.steps) steps in \(String(format: "%.2f", result.denoisingSeconds)) s")
        XCTAssertGreaterThan(p, 40, "\(name): PSNR against diffusers", file: file, line: line)
        XCTAssertEqual(result.stepsRun, c.steps, file: file, line: line)
        XCTAssertFalse(result.stoppedEarly, file: file, line: line)
    }

    /// DDIM, 10 steps, guidance 7.5, seed 0, the default size (U-Net sample_size 32 × VAE factor 2 = 64).
    func testDDIMWithGuidanceMatchesDiffusers() throws { try checkCase("ddim_cfg") }

    /// Two prompts, a negative prompt, two images per prompt (batch 4, CFG batch 8), 32x32.
    func testNegativePromptAndImagesPerPromptMatchDiffusers() throws {
        try checkCase("negative_batch")
        let c = try XCTUnwrap(Fixture.cases.first { $0.name == "negative_batch" })
        XCTAssertEqual(try run(c).images?.shape, [4, 3, 32, 32])
    }

    /// Guidance 1 (no unconditional half) with a stochastic scheduler (Euler ancestral draws step noise from the
    /// same generator after the initial latents) on a non-square 32x48 image.
    func testEulerAncestralWithoutGuidanceMatchesDiffusers() throws { try checkCase("euler_a_no_cfg") }

    /// DPM-Solver++ (2M) swapped in with from_config, guidance 4.
    func testDPMSolverMatchesDiffusers() throws { try checkCase("dpm_cfg") }
}

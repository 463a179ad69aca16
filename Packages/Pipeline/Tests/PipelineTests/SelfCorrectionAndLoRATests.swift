import Autodiff
import DataIO
import Diffusion
import Foundation
import NN
import Pipeline
import SelfCorrection
import Tensor
import XCTest

/// Pooled prompt embeddings, LoRA merging and the self-corrected `generate` / `SampleJob` on the tiny fixture.
final class SelfCorrectionAndLoRATests: XCTestCase {
    let small = GenerationOptions(steps: 3, guidanceScale: 7.5, height: 16, width: 16, imagesPerPrompt: 2,
                                  seeding: .perImage([4, 5]))

    override func setUpWithError() throws { try Fixture.pipeline.useScheduler("ddim") }

    /// An `AlignmentScorer` that records the text rows it is given and delegates to a pooled-cosine scorer on the
    /// fixture U-Net's `mid` tap (32 channels; pooled text width 32).
    final class SpyScorer: AlignmentScorer {
        let inner: PooledCosineScorer
        var texts: [AlignmentText] = []
        init(_ unet: UNet2DConditionModel) throws {
            var g = TorchGenerator(seed: 7)
            inner = try PooledCosineScorer(denoiser: unet, tap: "mid", weight: g.randn([32, 32]) * 0.3)
        }
        func score(latents: Variable, timestep: Float, text: AlignmentText) -> Variable {
            texts.append(text)
            return inner.score(latents: latents, timestep: timestep, text: text)
        }
    }

    /// A self-corrected run: the pipeline with a `SelfCorrectionHook` (from its own package) among its step hooks.
    func generate(_ pipe: StableDiffusionPipeline, prompts: [String], negativePrompt: String? = nil, options: GenerationOptions,
                  selfCorrection corrector: SelfCorrector?, decode: Bool = true) throws -> (GenerationResult, [CorrectionRecord]) {
        guard let corrector else {
            return (try pipe.generate(prompts: prompts, negativePrompt: negativePrompt, options: options, decode: decode), [])
        }
        let hook = SelfCorrectionHook(corrector: corrector, scheduler: pipe.scheduler)
        let result = try pipe.generate(prompts: prompts, negativePrompt: negativePrompt, options: options, hooks: [hook], decode: decode)
        return (result, hook.records)
    }

    func bitEqual(_ a: Tensor, _ b: Tensor) -> Bool {
        a.shape == b.shape && zip(a.scalars, b.scalars).allSatisfy { $0.bitPattern == $1.bitPattern }
    }

    /// e_y is the last layer's end-token state after the final LayerNorm (the row after the prompt's tokens), the
    /// states are `embeddings` bit for bit, and `clipSkip` changes the states but not e_y.
    func testPooledEmbeddingIsTheEndTokenState() throws {
        let enc = Fixture.pipeline.prompts
        let prompts = ["a red circle", "two green triangles left of a big blue square"]
        let e = try enc.encode(prompts)
        let (states, _) = try enc.embeddings(prompts)
        XCTAssertTrue(bitEqual(e.states, states))
        XCTAssertEqual(e.pooled.shape, [2, 32])
        for (p, prompt) in prompts.enumerated() {
            let end = try enc.tokenizer.encode(prompt).count + 1          // start token, the prompt's tokens, end token
            let row = states.selecting(axis: 0, index: p).selecting(axis: 0, index: end).contiguous()
            XCTAssertTrue(bitEqual(e.pooled.selecting(axis: 0, index: p).contiguous(), row), "prompt \(p)")
        }
        let skip = try PromptEncoder(tokenizer: enc.tokenizer, textEncoder: enc.textEncoder, clipSkip: 1)
        let s = try skip.encode(prompts)
        XCTAssertFalse(bitEqual(s.states, e.states))
        XCTAssertTrue(bitEqual(s.pooled, e.pooled))

        // The conditioner's conditioning carries the prompts' e_y beside the states (the negative prompts get none).
        let (c, _) = try enc.conditioning(prompts: prompts, negativePrompts: ["blurry"])
        XCTAssertTrue(bitEqual(c.cond, states))
        XCTAssertTrue(bitEqual(try XCTUnwrap(c.uncond), try enc.embeddings(["blurry", "blurry"]).0))
        XCTAssertTrue(bitEqual(try XCTUnwrap(c.pooled), e.pooled))
    }

    /// A LoRA folder written by `UNetLoRA.save` merges into the pipeline's U-Net: the images equal those of the
    /// donor U-Net running the same adapters unmerged, and differ from the plain model's.
    func testLoRAMergesIntoTheUNet() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("pipeline-lora-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        let donor = try StableDiffusionPipeline(folder: Fixture.folder, scheduler: "ddim")
        let config = UNetLoRAConfig(r: 2)
        try UNetLoRA.attach(to: donor.unet, config: config, seed: 1)
        var g = TorchGenerator(seed: 2)
        var random: [String: Tensor] = [:]
        for (k, v) in donor.unet.store.loraStateDict(keyPrefix: UNetLoRA.keyPrefix).sorted(by: { $0.key < $1.key }) {
            random[k] = g.randn(v.shape) * 0.5
        }
        try donor.unet.store.loadLoRAStateDict(random, keyPrefix: UNetLoRA.keyPrefix)
        try UNetLoRA.save(donor.unet, config: config, to: folder)

        let pipe = try StableDiffusionPipeline(folder: Fixture.folder, scheduler: "ddim")
        XCTAssertEqual(try pipe.loadLoRA(from: folder), config)
        XCTAssertEqual(pipe.loraFolder, folder)
        XCTAssertFalse(pipe.unet.store.loraLayers().isEmpty)
        XCTAssertTrue(pipe.unet.store.loraLayers().allSatisfy { $0.lora!.isMerged })
        XCTAssertTrue(pipe.unet.store.trainableParameters().isEmpty, "the merged U-Net must stay frozen")

        let prompts = ["a red circle"]
        let merged = try pipe.generate(prompts: prompts, options: small).images!
        let unmerged = try donor.generate(prompts: prompts, options: small).images!
        let plain = try Fixture.pipeline.generate(prompts: prompts, options: small).images!
        XCTAssertLessThan(maxAbsDiff(merged, unmerged), 1e-4)
        XCTAssertGreaterThan(maxAbsDiff(merged, plain), 1e-2)

        XCTAssertThrowsError(try pipe.loadLoRA(from: folder)) { XCTAssertTrue("\($0)".contains("already merged"), "\($0)") }
        let missing = folder.appendingPathComponent("nope")
        XCTAssertThrowsError(try Fixture.pipeline.loadLoRA(from: missing)) { error in
            let e = error as? ModelLoadError
            XCTAssertEqual(e?.component, "unet_lora")
            XCTAssertTrue("\(error)".contains("does not exist") && "\(error)".contains(missing.path), "\(error)")
        }
        XCTAssertNil(Fixture.pipeline.loraFolder)
        // A config whose rank does not match the weights: the error names the folder and the weight file.
        try UNetLoRA.save(donor.unet, config: UNetLoRAConfig(r: 3), to: folder)
        let other = try StableDiffusionPipeline(folder: Fixture.folder)
        XCTAssertThrowsError(try other.loadLoRA(from: folder)) { error in
            XCTAssertTrue("\(error)".contains(folder.path) && "\(error)".contains(UNetLoRA.weightsFileName), "\(error)")
        }
    }

    /// A `SelfCorrectionHook` among the pipeline's hooks: none and eta = 0 are the plain run bit for bit; eta > 0 changes the images; the
    /// scorer sees the conditional token states and each image's own prompt's e_y, never the negative prompt.
    func testSelfCorrectedGenerate() throws {
        let pipe = Fixture.pipeline
        let prompts = ["a red circle", "two squares"]
        var small = self.small
        small.seeding = .perImage([4, 5, 6, 7])
        let plain = try pipe.generate(prompts: prompts, negativePrompt: "blurry", options: small, decode: false)
        let spy = try SpyScorer(pipe.unet)

        let (none, noRecords) = try generate(pipe, prompts: prompts, negativePrompt: "blurry", options: small, selfCorrection: nil, decode: false)
        XCTAssertTrue(bitEqual(none.latents, plain.latents))
        XCTAssertTrue(noRecords.isEmpty)

        let zero = SelfCorrector(scorer: spy, settings: SelfCorrectionSettings(eta: .constant(0)))
        let (z, zeroRecords) = try generate(pipe, prompts: prompts, negativePrompt: "blurry", options: small, selfCorrection: zero, decode: false)
        XCTAssertTrue(bitEqual(z.latents, plain.latents))
        XCTAssertEqual(zeroRecords.map(\.eta), [0, 0, 0])
        XCTAssertTrue(spy.texts.isEmpty, "eta 0 must not run the scorer")

        let corrector = SelfCorrector(scorer: spy, settings: SelfCorrectionSettings(eta: .constant(0.5)))
        let (c, records) = try generate(pipe, prompts: prompts, negativePrompt: "blurry", options: small, selfCorrection: corrector, decode: false)
        XCTAssertEqual(records.count, 3)
        XCTAssertTrue(records.allSatisfy { $0.scores.count == 4 })
        XCTAssertGreaterThan(maxAbsDiff(c.latents, plain.latents), 1e-4)

        let e = try pipe.prompts.encode(prompts)
        let negative = try pipe.prompts.encode(["blurry"])
        XCTAssertEqual(spy.texts.count, 3)
        for text in spy.texts {
            let expectedPooled = e.pooled.indexSelect(axis: 0, indices: [0, 0, 1, 1])
            XCTAssertTrue(bitEqual(try XCTUnwrap(text.pooled), expectedPooled))
            XCTAssertTrue(bitEqual(text.context, e.states.indexSelect(axis: 0, indices: [0, 0, 1, 1])))
            XCTAssertFalse(bitEqual(text.context.sliced(axis: 0, start: 0, end: 1).contiguous(), negative.states))
        }
    }

    /// `SampleJob` with self-correction: every chunk is corrected against its own prompt's e_y, the images equal a
    /// direct self-corrected `generate` of the same seeds, and the wall time of every image is recorded.
    func testSampleJobCorrectsEachChunkWithItsPrompt() throws {
        let pipe = Fixture.pipeline
        let spy = try SpyScorer(pipe.unet)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sample-sc-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let prompts = ["a red circle", "two green triangles"]
        var job = SampleJob(prompts: prompts, output: dir)
        job.imagesPerPrompt = 3
        job.batch = 2
        job.steps = 2
        job.height = 16
        job.width = 16
        let corrector = SelfCorrector(scorer: spy, settings: SelfCorrectionSettings(eta: .constant(0.5)))
        job.makeHooks = { [SelfCorrectionHook(corrector: corrector, scheduler: pipe.scheduler)] }
        let report = try job.run(on: pipe)
        XCTAssertEqual(report.images.count, 6)
        XCTAssertEqual(report.imageSeconds.count, 6)
        XCTAssertTrue(report.imageSeconds.allSatisfy { $0 > 0 })
        XCTAssertEqual(report.imageSeconds[0], report.imageSeconds[1])       // one chunk of two images
        XCTAssertGreaterThan(report.secondsPerImage, 0)
        XCTAssertEqual(report.chunkHooks.map { ($0.first as? SelfCorrectionHook)?.records.count }, [2, 2, 2, 2])        // chunks 2 + 1 per prompt, 2 steps each
        // Each prompt encoded alone, as the job encodes it (a batch of prompts may round differently).
        let pooled = try prompts.map { try pipe.prompts.encode([$0]).pooled }
        // Chunks in order: prompt 0 (2 images, 1 image), prompt 1 (2, 1); 2 gradient passes per chunk.
        let chunkPrompt = [0, 0, 1, 1], chunkSize = [2, 1, 2, 1]
        XCTAssertEqual(spy.texts.count, 8)
        for (i, text) in spy.texts.enumerated() {
            let chunk = i / 2
            let expected = pooled[chunkPrompt[chunk]].indexSelect(axis: 0, indices: Array(repeating: 0, count: chunkSize[chunk]))
            XCTAssertTrue(bitEqual(try XCTUnwrap(text.pooled), expected), "gradient pass \(i)")
        }
        // The files equal a direct self-corrected run of prompt 1, seeds 0 and 1 (the same chunk).
        let options = GenerationOptions(steps: 2, guidanceScale: SampleJob.defaultGuidance, height: 16, width: 16,
                                        imagesPerPrompt: 2, seeding: .perImage([0, 1]))
        let (direct, _) = try generate(pipe, prompts: [prompts[1]], options: options, selfCorrection: corrector)
        let expected = try RasterImage.images(batch: direct.images!)
        for j in 0..<2 {
            XCTAssertEqual(try PNG.read(report.images[3 + j]).pixels, expected[j].pixels, "image \(j) of prompt 1")
        }
    }
}

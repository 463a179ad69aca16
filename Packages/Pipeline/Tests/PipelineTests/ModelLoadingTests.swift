import DataIO
import Diffusion
import Foundation
import Pipeline
import Tensor
import XCTest

/// Loading diffusers folders: the save_pretrained layout, scheduler overrides, pixel-space folders and the errors
/// for broken folders.
final class ModelLoadingTests: XCTestCase {
    func testSavePretrainedFolderLoadsEveryComponent() throws {
        let pipe = Fixture.pipeline
        XCTAssertEqual(pipe.modelIndex?.className, "StableDiffusionPipeline")
        XCTAssertTrue(pipe.autoencoder is AutoencoderKL)
        XCTAssertEqual(pipe.autoencoder.downscaleFactor, 2)
        XCTAssertEqual(pipe.unet.contextDim, 32)
        XCTAssertEqual(pipe.tokenizer.contextLength, 77)
        XCTAssertEqual(pipe.schedulerConfig.className, "DDIMScheduler")
        XCTAssertEqual(pipe.sampler.imageSize(GenerationOptions()).height, 64)
        // The U-Net weights are the file's (float16 widened).
        let file = try ComponentFolder(Fixture.folder.appendingPathComponent("unet")).weights()
        let key = "down_blocks.1.attentions.0.transformer_blocks.0.attn2.to_k.weight"
        XCTAssertEqual(pipe.unet.store.stateDict()[key]?.scalars, try file.tensor(key).scalars)
    }

    func testSchedulerOverrideKeepsTheNoiseSchedule() throws {
        let expected: [(String, String)] = [("ddim", "DDIMScheduler"), ("pndm", "PNDMScheduler"), ("ddpm", "DDPMScheduler"),
                                            ("euler", "EulerDiscreteScheduler"), ("euler-ancestral", "EulerAncestralDiscreteScheduler"),
                                            ("dpmsolver++", "DPMSolverMultistepScheduler"), ("Euler", "EulerDiscreteScheduler")]
        let config = Fixture.pipeline.schedulerConfig
        for (name, cls) in expected {
            let s = try SchedulerChoice(name: name).makeScheduler(from: config)
            XCTAssertEqual(s.className, cls)
            XCTAssertEqual(s.config.betaStart, 0.00085, accuracy: 1e-12)
            XCTAssertEqual(s.config.betaSchedule, .scaledLinear)
            XCTAssertEqual(s.alphasCumprod, try config.makeScheduler().alphasCumprod)
        }
        XCTAssertThrowsError(try SchedulerChoice(name: "lms")) { e in
            XCTAssertTrue("\(e)".contains("unknown scheduler 'lms'"), "\(e)")
            XCTAssertTrue("\(e)".contains("euler-ancestral"), "\(e)")
        }
        let pipe = try StableDiffusionPipeline(folder: Fixture.folder, scheduler: "euler")
        XCTAssertEqual(pipe.scheduler.className, "EulerDiscreteScheduler")
    }

    func testMissingFolderAndComponentsNameTheComponent() throws {
        let nowhere = FileManager.default.temporaryDirectory.appendingPathComponent("no-such-model-\(UUID().uuidString)")
        XCTAssertThrowsError(try StableDiffusionPipeline(folder: nowhere)) { e in
            XCTAssertTrue("\(e)".contains("does not exist"), "\(e)")
        }
        func broken(_ edit: (URL) throws -> Void, expect parts: [String]) throws {
            let dir = try Fixture.copy()
            defer { try? FileManager.default.removeItem(at: dir) }
            try edit(dir)
            XCTAssertThrowsError(try StableDiffusionPipeline(folder: dir)) { e in
                for p in parts { XCTAssertTrue("\(e)".contains(p), "\(e) should mention \(p)") }
            }
        }
        let fm = FileManager.default
        try broken({ try fm.removeItem(at: $0.appendingPathComponent("model_index.json")) }, expect: ["model_index.json", "missing"])
        try broken({ try fm.removeItem(at: $0.appendingPathComponent("text_encoder")) }, expect: ["text_encoder", "missing"])
        try broken({ try fm.removeItem(at: $0.appendingPathComponent("unet/diffusion_pytorch_model.safetensors")) },
                   expect: ["unet", "no weights file"])
        try broken({ try fm.removeItem(at: $0.appendingPathComponent("tokenizer/merges.txt")) }, expect: ["tokenizer", "merges.txt"])
        try broken({ try fm.removeItem(at: $0.appendingPathComponent("scheduler/scheduler_config.json")) }, expect: ["scheduler"])
        // A U-Net weight file without one key: the error names the key.
        let dropped = "mid_block.attentions.0.proj_out.weight"
        try broken({ dir in
            let url = dir.appendingPathComponent("unet/diffusion_pytorch_model.safetensors")
            var tensors = try SafetensorsFile(contentsOf: url).allTensors()
            XCTAssertNotNil(tensors.removeValue(forKey: dropped))
            try SafetensorsFile.write(tensors, to: url)
        }, expect: ["unet", dropped])
        // vae listed in the index but absent.
        try broken({ try fm.removeItem(at: $0.appendingPathComponent("vae")) }, expect: ["vae", "listed in model_index.json"])
    }

    /// A folder without vae/ (and without it in the index) is pixel-space: the images are the latents.
    func testFolderWithoutVAEIsPixelSpace() throws {
        let dir = try Fixture.copy()
        defer { try? FileManager.default.removeItem(at: dir) }
        try FileManager.default.removeItem(at: dir.appendingPathComponent("vae"))
        let indexURL = dir.appendingPathComponent("model_index.json")
        var index = try JSONSerialization.jsonObject(with: Data(contentsOf: indexURL)) as! [String: Any]
        index["vae"] = [NSNull(), NSNull()]
        try JSONSerialization.data(withJSONObject: index).write(to: indexURL)
        let pipe = try StableDiffusionPipeline(folder: dir)
        XCTAssertTrue(pipe.autoencoder is IdentityAutoencoder)
        let r = try pipe.generate(prompts: ["a dot"], options: GenerationOptions(steps: 2, height: 8, width: 8))
        XCTAssertEqual(r.latents.shape, [1, 4, 8, 8])
        XCTAssertEqual(r.images?.scalars, r.latents.clamped(min: -1, max: 1).scalars)
    }
}

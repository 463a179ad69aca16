import AdapterTraining
import Evaluation
import DataIO
import DiscriminativeAdapter
import Foundation
import TinyModels
import XCTest

/// The same code path on a latent-diffusion folder: Pipeline's tiny random diffusers `StableDiffusionPipeline`
/// fixture (VAE, 77-token CLIP tokenizer) — latents come from `vae.encode`.
final class DiffusersFolderTests: XCTestCase {
    static var tinySD: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Pipeline/Tests/PipelineTests/Fixtures/tiny-sd")
    }

    func testTrainsAndEvaluatesOnTheTinyDiffusersPipeline() throws {
        let folder = Self.tinySD
        guard FileManager.default.fileExists(atPath: folder.appendingPathComponent("model_index.json").path) else {
            throw XCTSkip("Pipeline's tiny-sd fixture is not in this checkout")
        }
        let model = try ProbeModel(folder: folder)
        XCTAssertEqual(model.autoencoder.downscaleFactor, 2)
        XCTAssertEqual(model.imageSide, 64)
        var c = ProbeConfig()
        c.batchSize = 1
        c.steps = 2
        c.logEvery = 1
        c.checkpointEvery = 2
        let run = try TinyModel.temporaryFolder(self, "tiny-sd")
        let trainer = try ProbeTrainer(config: c, model: model, runDirectory: run, resume: false)
        trainer.output = { _ in }
        let (inputs, _, _) = try trainer.currentInputs()
        XCTAssertEqual(inputs.latents.shape, [3, 4, 32, 32], "VAE latents of the three 64x64 images")
        try trainer.run()
        let records = try MetricsLog.read(trainer.metricsURL)
        XCTAssertEqual(records.count, 2)
        XCTAssertTrue(records.allSatisfy { ($0["loss"]?.doubleValue ?? .nan).isFinite })
        let (pm, dm) = try TrainedAdapter.load(model: folder, adapterFolder: trainer.adapterDirectory)
        // The default tap `cross-up` is this U-Net's first cross-attention up block: up0 (32 channels of [16, 32]).
        XCTAssertEqual(dm.adapter.config.featureTaps, ["up0"])
        XCTAssertEqual(dm.adapter.config.featureChannels, 32)
        XCTAssertEqual(dm.adapter.config.maxTextTokens, 77)
        let set = try EvaluationSet.make(model: pm, world: pm.world(seed: 0), split: .testID, count: 2, batchSize: 2)
        let e = try DiscriminativeEvaluator.evaluate(model: dm, set: set, timestep: pm.numTrainTimesteps / 2, schedule: pm.schedule)
        XCTAssertEqual(e.overall.rec.total, 2)
    }
}

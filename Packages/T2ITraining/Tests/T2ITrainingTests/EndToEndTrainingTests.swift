import DataIO
import Foundation
import T2ITraining
import Tensor
import XCTest

final class EndToEndTrainingTests: XCTestCase {
    private var savedThreads = (blas: 1, workers: 1)

    // The tiny model's ops are too small to gain from threads; on a machine shared with other jobs every thread
    // barrier waits for a time slice, so these tests run single-threaded (results are deterministic either way).
    override func setUp() {
        savedThreads = (BLAS.threads, Parallel.workers)
        BLAS.threads = 1
        Parallel.workers = 1
    }

    override func tearDown() {
        BLAS.threads = savedThreads.blas
        Parallel.workers = savedThreads.workers
    }

    /// Trains the tiny model, checks that the loss falls, writes the diffusers folder, loads it back and samples:
    /// the loaded model gives bit-identical images to the in-memory EMA model.
    func testTrainWriteLoadSample() throws {
        let dir = temporaryFolder("train")
        defer { try? FileManager.default.removeItem(at: dir) }
        let config = try tinyConfig(steps: 40)
        let trainer = try T2ITrainer(config: config, runDirectory: dir, resume: false)
        var lines: [String] = []
        trainer.output = { lines.append($0) }
        var losses: [Float] = []
        for _ in 0..<40 { losses.append(try trainer.trainStep().loss) }
        let first = losses.prefix(8).reduce(0, +) / 8, last = losses.suffix(8).reduce(0, +) / 8
        XCTAssertLessThan(last, 0.8 * first, "loss \(first) -> \(last)")
        XCTAssertEqual(trainer.step, 40)
        try trainer.saveCheckpoint()
        try trainer.run()   // already at the last step: writes the model folder
        // The text-encoder separation goes to the metrics (twice: the plot needs two points) and to its plot.
        try trainer.logTextSeparation()
        try trainer.logTextSeparation()
        let records = try MetricsLog.read(dir.appendingPathComponent("metrics.jsonl"))
        for attribute in TextEncoderSeparation.pairs().map(\.attribute) {
            let series = MetricsLog.series(records, key: T2ITrainer.separationKey(attribute))
            XCTAssertEqual(series.x, [40, 40], attribute)
            XCTAssertTrue(series.y.allSatisfy { $0 > 0 && $0.isFinite }, attribute)
        }
        XCTAssertTrue(lines.contains { $0.hasPrefix("text separation colour ") }, "\(lines.suffix(3))")
        XCTAssertGreaterThan(try PNG.read(dir.appendingPathComponent("text-separation.png")).width, 0)
        let folder = trainer.modelDirectory
        for f in ["model_index.json", "tokenizer/vocab.json", "tokenizer/merges.txt", "tokenizer/tokenizer_config.json",
                  "text_encoder/config.json", "text_encoder/model.safetensors", "unet/config.json",
                  "unet/diffusion_pytorch_model.safetensors", "scheduler/scheduler_config.json"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: folder.appendingPathComponent(f).path), f)
        }
        let index = try ModelFolder(folder).modelIndex()
        XCTAssertEqual(index.className, "StableDiffusionPipeline")
        XCTAssertEqual(Set(index.presentComponents), ["scheduler", "text_encoder", "tokenizer", "unet"])

        let loaded = try T2IModel.load(from: folder)
        let prompts = ["a red circle", "two blue squares"]
        let a = try loaded.sample(prompts: prompts, seeds: [1, 2], steps: 4, guidanceScale: 2, imageSize: config.imageSize)
        let b = try trainer.model.withWeights(trainer.emaWeights) {
            try trainer.model.sample(prompts: prompts, seeds: [1, 2], steps: 4, guidanceScale: 2, imageSize: config.imageSize)
        }
        // One image per batch: the same images up to GEMM blocking differences.
        let single = try Tensor.concat(zip(prompts, [UInt64(1), 2]).map {
            try loaded.sample(prompts: [$0.0], seeds: [$0.1], steps: 4, guidanceScale: 2, imageSize: config.imageSize)
        }, axis: 0)
        XCTAssertLessThan((single - a).abs().max().item(), 1e-4)
        XCTAssertEqual(a.shape, [2, 3, config.imageSize, config.imageSize])
        XCTAssertTrue(bitsEqual(a, b), "the loaded folder samples differently from the trained EMA model")
        XCTAssertTrue(a.scalars.allSatisfy { $0.isFinite && $0 >= -1 && $0 <= 1 })
        // diffusers' guidance_rescale changes the images; outside 0...1 it is refused.
        let rescaled = try loaded.sample(prompts: prompts, seeds: [1, 2], steps: 4, guidanceScale: 2, guidanceRescale: 0.7,
                                         imageSize: config.imageSize)
        XCTAssertFalse(bitsEqual(a, rescaled))
        XCTAssertThrowsError(try loaded.sample(prompts: prompts, seeds: [1, 2], steps: 4, guidanceScale: 2, guidanceRescale: 1.5,
                                               imageSize: config.imageSize)) { e in
            XCTAssertTrue("\(e)".contains("guidance rescale 1.5"), "\(e)")
        }
        // Different seeds give different images.
        XCTAssertFalse(bitsEqual(a.selecting(axis: 0, index: 0).contiguous(), a.selecting(axis: 0, index: 1).contiguous()))
    }

    /// An interrupted run resumed from its checkpoint ends with exactly the weights, EMA and optimiser state of an
    /// uninterrupted run.
    func testResumeIsBitIdentical() throws {
        let config = try tinyConfig(steps: 6)
        let dirA = temporaryFolder("resume-a"), dirB = temporaryFolder("resume-b")
        defer { try? FileManager.default.removeItem(at: dirA); try? FileManager.default.removeItem(at: dirB) }
        let a = try T2ITrainer(config: config, runDirectory: dirA, resume: false)
        a.output = { _ in }
        try a.run()

        let b1 = try T2ITrainer(config: config, runDirectory: dirB, resume: false)
        b1.output = { _ in }
        try b1.run(stopAfter: 4)           // checkpoints at 3; step 4 is lost, as in a crash after it
        XCTAssertEqual(b1.step, 4)
        XCTAssertEqual(Checkpoint.latest(in: b1.checkpointDirectory)?.info.step, 3)
        XCTAssertThrowsError(try T2ITrainer(config: config, runDirectory: dirB, resume: false))
        var other = config
        other.learningRate = 1e-2
        XCTAssertThrowsError(try T2ITrainer(config: other, runDirectory: dirB, resume: true)) { e in
            XCTAssertTrue("\(e)".contains("learning_rate"), "\(e)")
        }
        // Bookkeeping keys may change on resume (they do not touch the training math).
        var bookkeeping = config
        bookkeeping.checkpointEvery = 5
        let b2 = try T2ITrainer(config: bookkeeping, runDirectory: dirB, resume: true)
        b2.output = { _ in }
        XCTAssertEqual(b2.resumedFrom, 3)
        try b2.run()
        XCTAssertEqual(b2.step, 6)

        for (pa, pb) in zip(a.parameters, b2.parameters) {
            XCTAssertEqual(pa.name, pb.name)
            XCTAssertTrue(bitsEqual(pa.variable.value, pb.variable.value), "weights differ at \(pa.name)")
        }
        for (k, v) in a.emaWeights { XCTAssertTrue(bitsEqual(v, b2.emaWeights[k]!), "EMA differs at \(k)") }
        let oa = a.optimizer.stateDict(), ob = b2.optimizer.stateDict()
        XCTAssertEqual(Set(oa.keys), Set(ob.keys))
        for (k, v) in oa { XCTAssertTrue(bitsEqual(v, ob[k]!), "optimiser state differs at \(k)") }
        // The metrics log of the resumed run has one record per logged step, none duplicated.
        let steps = try MetricsLog.read(dirB.appendingPathComponent("metrics.jsonl")).compactMap { $0["step"]?.intValue }
        XCTAssertEqual(steps, [2, 4, 6])
        // The final model folders are byte-identical.
        let wa = try Data(contentsOf: a.modelDirectory.appendingPathComponent("unet/diffusion_pytorch_model.safetensors"))
        let wb = try Data(contentsOf: b2.modelDirectory.appendingPathComponent("unet/diffusion_pytorch_model.safetensors"))
        XCTAssertEqual(wa, wb)
    }

    /// `text_time_embedding`: the U-Net gets diffusers' `addition_embed_type: "text"`, its pooling parameters and the
    /// text encoder train through it, and the written folder loads back with the embedding.
    func testTextTimeEmbeddingTrainsAndLoads() throws {
        var config = try tinyConfig(steps: 3)
        config.textTimeEmbedding = true
        XCTAssertEqual(config.unetConfig.additionEmbedType, "text")
        XCTAssertEqual(config.unetConfig.additionEmbedTypeNumHeads, .int(config.attentionHeads))
        let dir = temporaryFolder("text-time")
        defer { try? FileManager.default.removeItem(at: dir) }
        let trainer = try T2ITrainer(config: config, runDirectory: dir, resume: false)
        trainer.output = { _ in }
        let names = ["unet.add_embedding.pool.q_proj.weight", "unet.add_embedding.proj.weight"]
        func pooling() -> [Tensor] { trainer.parameters.filter { names.contains($0.name) }.map { Tensor(copying: $0.variable.value) } }
        let before = pooling()
        XCTAssertEqual(before.count, names.count, "parameters: \(trainer.parameters.map(\.name).filter { $0.contains("add_embedding") })")
        try trainer.run()
        for (a, b) in zip(before, pooling()) { XCTAssertFalse(bitsEqual(a, b), "the text-time embedding did not train") }
        let loaded = try T2IModel.load(from: trainer.modelDirectory)
        XCTAssertNotNil(loaded.unet.addEmbedding)
        var bad = config
        bad.attentionHeads = 3
        bad.blockOutChannels = [24, 48]
        bad.normNumGroups = 3
        XCTAssertThrowsError(try bad.validate()) { e in XCTAssertTrue("\(e)".contains("text_time_embedding"), "\(e)") }
    }
}

import AdapterTraining
import DataIO
import Diffusion
import Foundation
import NN
import ShapesWorld
import Tensor
import TextEncoder
import Tokenizer
import XCTest

/// Writes small random text-to-image model folders in the diffusers layout (the bundled model's kind: pixel space,
/// no vae/), built with the packages' own writers: a BPE tokenizer fitted to ShapesWorld captions, a CLIP text
/// encoder with CLIP init, an SD U-Net with PyTorch init, a DDPM scheduler config and model_index.json.
enum TinyModel {
    struct Spec {
        var side = 16
        var blockOutChannels = [32, 64]
        var downBlockTypes = ["CrossAttnDownBlock2D", "DownBlock2D"]
        var upBlockTypes = ["UpBlock2D", "CrossAttnUpBlock2D"]
        var attentionHeadDim = 8
        var textHidden = 32
        var textLayers = 2
        var textHeads = 4
        var textIntermediate = 64
        var vocab = 320
        var corpus = 400
        var contextLength = 32
        var seed: UInt64 = 0

        /// The bundled model's architecture (T2IConfig defaults of train-t2i), for timing.
        static var bundled: Spec {
            var s = Spec()
            s.side = 32
            s.blockOutChannels = [32, 64, 64]
            s.downBlockTypes = ["DownBlock2D", "DownBlock2D", "CrossAttnDownBlock2D"]
            s.upBlockTypes = ["CrossAttnUpBlock2D", "UpBlock2D", "UpBlock2D"]
            s.attentionHeadDim = 4
            s.textHidden = 128; s.textLayers = 4; s.textHeads = 4; s.textIntermediate = 512
            s.contextLength = 24; s.corpus = 4000
            return s
        }
    }

    static let alphabetLine = "a b c d e f g h i j k l m n o p q r s t u v w x y z 0 1 2 3 4 5 6 7 8 9 , . ' -"

    static func write(to url: URL, spec: Spec = Spec()) throws {
        let fm = FileManager.default
        try fm.createDirectory(at: url, withIntermediateDirectories: true)
        let world = SampleGenerator(seed: spec.seed, config: .square(spec.side))
        let corpus = (0..<spec.corpus).map { world.positive(split: .train, index: $0).caption } + [alphabetLine]
        let tok = try BPETrainer(vocabularySize: spec.vocab, normalization: .huggingFace, contextLength: spec.contextLength).train(corpus: corpus)
        try tok.write(toFolder: url.appendingPathComponent("tokenizer").path)

        var tc = CLIPTextConfig()
        tc.vocabSize = tok.vocabularySize
        tc.hiddenSize = spec.textHidden
        tc.intermediateSize = spec.textIntermediate
        tc.projectionDim = spec.textHidden
        tc.numHiddenLayers = spec.textLayers
        tc.numAttentionHeads = spec.textHeads
        tc.maxPositionEmbeddings = spec.contextLength
        tc.padTokenId = tok.endTokenID
        tc.bosTokenId = tok.startTokenID
        tc.eosTokenId = tok.endTokenID
        tc.torchDtype = "float32"
        var g = TorchGenerator(seed: spec.seed &+ 1)
        let text = try CLIPTextModel(config: tc, vb: ParameterStore(generator: TorchGenerator(seed: spec.seed &+ 1)).root)
        text.initializeWeights(generator: &g)
        try text.save(toFolder: url.appendingPathComponent("text_encoder"))

        var uc = UNet2DConditionConfig()
        uc.sampleSize = .one(spec.side)
        uc.inChannels = 3
        uc.outChannels = 3
        uc.blockOutChannels = spec.blockOutChannels
        uc.downBlockTypes = spec.downBlockTypes
        uc.upBlockTypes = spec.upBlockTypes
        uc.layersPerBlock = .one(1)
        uc.crossAttentionDim = .one(spec.textHidden)
        uc.attentionHeadDim = .one(spec.attentionHeadDim)
        let unet = try UNet2DConditionModel(config: uc, seed: spec.seed)
        try ComponentFolder(url.appendingPathComponent("unet"))
            .write(config: unet.config, weights: unet.store.stateDict(), weightsName: "diffusion_pytorch_model.safetensors")

        let sched = url.appendingPathComponent("scheduler")
        try fm.createDirectory(at: sched, withIntermediateDirectories: true)
        try Data("""
        {"_class_name": "DDPMScheduler", "num_train_timesteps": 1000, "beta_schedule": "squaredcos_cap_v2",
         "beta_start": 0.0001, "beta_end": 0.02, "prediction_type": "epsilon", "clip_sample": false}
        """.utf8).write(to: sched.appendingPathComponent("scheduler_config.json"))
        try ModelFolder.writeIndex(ModelIndex(className: "StableDiffusionPipeline", components: [
            "tokenizer": ["transformers", "CLIPTokenizer"], "text_encoder": ["transformers", "CLIPTextModel"],
            "unet": ["diffusers", "UNet2DConditionModel"], "scheduler": ["diffusers", "DDPMScheduler"], "vae": [nil, nil],
        ], diffusersVersion: "0.42.1"), to: url)
    }

    /// A fresh temporary folder, removed at the end of the test.
    static func temporaryFolder(_ test: XCTestCase, _ name: String) throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("adapter-training-\(name)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        test.addTeardownBlock { try? FileManager.default.removeItem(at: url) }
        return url
    }

    /// One tiny model folder shared by the tests of a run (fitting the tokenizer is the slow part).
    nonisolated(unsafe) static var shared: URL?
    static func sharedFolder() throws -> URL {
        if let s = shared { return s }
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("adapter-training-tiny-\(UUID().uuidString)")
        try write(to: url)
        shared = url
        return url
    }
}

/// Step time of the bundled model's architecture (random weights): run with ADAPTER_BENCH=1 to size the default
/// run. Prints wall and process CPU seconds per step (CPU / cores = wall on an otherwise idle machine) per tap.
final class StepTimeBenchmark: XCTestCase {
    static func cpuSeconds() -> Double {
        var u = rusage()
        getrusage(Int32(RUSAGE_SELF.rawValue), &u)
        return Double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) + Double(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6
    }

    func testStepTimeOfTheBundledArchitecture() throws {
        guard ProcessInfo.processInfo.environment["ADAPTER_BENCH"] == "1" else { throw XCTSkip("set ADAPTER_BENCH=1 to time steps") }
        let folder = try TinyModel.temporaryFolder(self, "bundled")
        try TinyModel.write(to: folder, spec: .bundled)
        let model = try ProbeModel(folder: folder)
        let taps = (ProcessInfo.processInfo.environment["ADAPTER_BENCH_TAPS"] ?? "up1,up0").split(separator: ",").map(String.init)
        let batch = Int(ProcessInfo.processInfo.environment["ADAPTER_BENCH_BATCH"] ?? "4")!
        for tap in taps {
            var c = ProbeConfig()
            c.batchSize = batch
            c.featureTaps = [tap]
            let trainer = try ProbeTrainer(config: c, model: model, runDirectory: try TinyModel.temporaryFolder(self, tap), resume: false)
            try trainer.trainStep()   // warm-up
            let start = Date(), cpu0 = Self.cpuSeconds()
            let n = 2
            for _ in 0..<n { try trainer.trainStep() }
            let wall = Date().timeIntervalSince(start) / Double(n), cpu = (Self.cpuSeconds() - cpu0) / Double(n)
            let set = try EvaluationSet.make(model: model, world: model.world(seed: 0), split: .testID, count: 16, batchSize: 16)
            let e0 = Date(), c0 = Self.cpuSeconds()
            _ = try DiscriminativeEvaluator.evaluate(model: trainer.discriminative, set: set, timestep: 500, schedule: model.schedule)
            print(String(format: "bundled architecture, tap %@, batch %d: %.2f s/step wall, %.2f CPU-s/step; evaluation %.3f s/sample wall, %.3f CPU-s/sample",
                         tap, batch, wall, cpu, Date().timeIntervalSince(e0) / 16, (Self.cpuSeconds() - c0) / 16))
        }
    }
}

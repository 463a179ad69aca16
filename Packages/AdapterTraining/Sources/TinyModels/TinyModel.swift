#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import DataIO
import Diffusion
import Foundation
import NN
import ShapesWorld
import Tensor
import TextEncoder
import Tokenizer

/// Writes small random text-to-image model folders in the diffusers layout (the bundled model's kind: pixel space,
/// no vae/), built with the packages' own writers: a BPE tokenizer fitted to ShapesWorld captions, a CLIP text
/// encoder with CLIP init, an SD U-Net with PyTorch init, a DDPM scheduler config and model_index.json.
public enum TinyModel {
    public struct Spec {
        public var side = 16
        public var blockOutChannels = [32, 64]
        public var downBlockTypes = ["CrossAttnDownBlock2D", "DownBlock2D"]
        public var upBlockTypes = ["UpBlock2D", "CrossAttnUpBlock2D"]
        public var attentionHeadDim = 8
        public var textHidden = 32
        public var textLayers = 2
        public var textHeads = 4
        public var textIntermediate = 64
        public var vocab = 320
        public var corpus = 400
        public var contextLength = 32
        public var seed: UInt64 = 0

        /// The bundled model's architecture (T2IConfig defaults of train-t2i), for timing.
        public init() {}

        public static var bundled: Spec {
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

    public static let alphabetLine = "a b c d e f g h i j k l m n o p q r s t u v w x y z 0 1 2 3 4 5 6 7 8 9 , . ' -"

    public static func write(to url: URL, spec: Spec = Spec()) throws {
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

    /// A fresh temporary folder; `removeLater` receives its removal (e.g. XCTest's `addTeardownBlock`).
    public static func temporaryFolder(_ name: String, removeLater: (@escaping () -> Void) -> Void) throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("adapter-training-\(name)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        removeLater { try? FileManager.default.removeItem(at: url) }
        return url
    }

    /// One tiny model folder shared by the tests of a run (fitting the tokenizer is the slow part).
    nonisolated(unsafe) public static var shared: URL?
    public static func sharedFolder() throws -> URL {
        if let s = shared { return s }
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("adapter-training-tiny-\(UUID().uuidString)")
        try write(to: url)
        shared = url
        return url
    }

    /// CPU seconds (user + system) of this process so far, for the step-time benchmarks.
    public static func cpuSeconds() -> Double {
        var u = rusage()
        getrusage(Int32(RUSAGE_SELF.rawValue), &u)
        return Double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) + Double(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6
    }
}

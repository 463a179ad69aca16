import Autodiff
import DataIO
import Diffusion
import Foundation
import NN
import Tensor
import TextEncoder
import Tokenizer

/// A pixel-space Stable Diffusion model: CLIP tokenizer and text encoder, SD U-Net, scheduler configuration.
/// Written and read in the diffusers folder layout (`model_index.json`, `tokenizer/`, `text_encoder/`, `unet/`,
/// `scheduler/`; no `vae/`: the U-Net works on RGB pixels in [-1, 1]).
public final class T2IModel {
    public let tokenizer: CLIPTokenizer
    public let textEncoder: CLIPTextModel
    public let unet: UNet2DConditionModel
    public var scheduler: SchedulerConfiguration

    public init(tokenizer: CLIPTokenizer, textEncoder: CLIPTextModel, unet: UNet2DConditionModel, scheduler: SchedulerConfiguration) {
        self.tokenizer = tokenizer
        self.textEncoder = textEncoder
        self.unet = unet
        self.scheduler = scheduler
    }

    /// A freshly initialised model for `config`: the U-Net with PyTorch's default initialisation from
    /// `TorchGenerator(seed)`, the text encoder with transformers' CLIP initialisation from `TorchGenerator(seed + 1)`.
    public convenience init(config: T2IConfig, tokenizer: CLIPTokenizer) throws {
        try config.validate()
        let unet = try UNet2DConditionModel(config: config.unetConfig, seed: config.seed)
        let tc = config.textEncoderConfig(vocabularySize: tokenizer.vocabularySize, bosTokenID: tokenizer.startTokenID,
                                          eosTokenID: tokenizer.endTokenID)
        var g = TorchGenerator(seed: config.seed &+ 1)
        let text = try CLIPTextModel(config: tc, vb: ParameterStore(generator: TorchGenerator(seed: config.seed &+ 1)).root)
        text.initializeWeights(generator: &g)
        self.init(tokenizer: tokenizer, textEncoder: text, unet: unet, scheduler: try config.schedulerConfiguration())
    }

    /// Every parameter, named `unet.<diffusers key>` and `text_encoder.<transformers key>`.
    public var namedParameters: [NamedParameter] {
        unet.store.namedParameters(includeAdapters: false).map { NamedParameter(name: "unet." + $0.name, variable: $0.variable) }
            + textEncoder.checkpointParameters.map { NamedParameter(name: "text_encoder." + $0.key, variable: $0.variable) }
    }

    /// The number of parameters (U-Net + text encoder).
    public var parameterCount: Int { namedParameters.reduce(0) { $0 + $1.variable.count } }

    /// The conditioning [prompts, contextLength, hidden] (no attention mask, like SD pipelines).
    public func encode(_ prompts: [String]) throws -> Variable {
        try textEncoder.encode(prompts: prompts, tokenizer: tokenizer)
    }

    /// Runs `body` with the parameters temporarily set to `values` (by the names of `namedParameters`), e.g. EMA weights.
    public func withWeights<R>(_ values: [String: Tensor], _ body: () throws -> R) throws -> R {
        let params = namedParameters
        var saved: [Tensor] = []
        saved.reserveCapacity(params.count)
        for p in params {
            guard let v = values[p.name] else { throw T2ITrainingError("weights lack '\(p.name)'") }
            guard v.shape == p.variable.shape else { throw T2ITrainingError("weights '\(p.name)' have shape \(v.shape), the model \(p.variable.shape)") }
            saved.append(p.variable.value)
        }
        for p in params { p.variable.value = values[p.name]! }
        defer { for (p, v) in zip(params, saved) { p.variable.value = v } }
        return try body()
    }

    /// Sets the parameters to `values` (by the names of `namedParameters`; every name must be present).
    public func load(_ values: [String: Tensor]) throws {
        for p in namedParameters {
            guard let v = values[p.name] else { throw T2ITrainingError("weights lack '\(p.name)'") }
            guard v.shape == p.variable.shape else { throw T2ITrainingError("weights '\(p.name)' have shape \(v.shape), the model \(p.variable.shape)") }
            p.variable.value = Tensor(copying: v)
        }
    }

    // MARK: diffusers folder

    /// Writes the model folder (float32 weights). Existing component files are replaced.
    public func write(to url: URL) throws {
        let fm = FileManager.default
        try fm.createDirectory(at: url, withIntermediateDirectories: true)
        try tokenizer.write(toFolder: url.appendingPathComponent("tokenizer").path)
        try textEncoder.save(toFolder: url.appendingPathComponent("text_encoder"))
        try ComponentFolder(url.appendingPathComponent("unet"))
            .write(config: unet.config, weights: unet.store.stateDict(), weightsName: "diffusion_pytorch_model.safetensors")
        let schedDir = url.appendingPathComponent("scheduler")
        try fm.createDirectory(at: schedDir, withIntermediateDirectories: true)
        var sched = scheduler.explicitValues
        sched["_class_name"] = .string(scheduler.className)
        sched["_diffusers_version"] = "0.42.1"
        try AtomicFile.write(Data(JSONValue.object(sched).prettySerialized().utf8), to: schedDir.appendingPathComponent("scheduler_config.json"))
        let index = ModelIndex(className: "StableDiffusionPipeline", components: [
            "tokenizer": ["transformers", "CLIPTokenizer"],
            "text_encoder": ["transformers", "CLIPTextModel"],
            "unet": ["diffusers", "UNet2DConditionModel"],
            "scheduler": ["diffusers", scheduler.className],
            "vae": [nil, nil],
            "safety_checker": [nil, nil],
            "feature_extractor": [nil, nil],
        ], diffusersVersion: "0.42.1", extras: ["requires_safety_checker": false, "image_encoder": [nil, nil]])
        try ModelFolder.writeIndex(index, to: url)
    }

    /// Reads a folder written by `write(to:)` (or any diffusers SD folder without a VAE and with 3-channel U-Net).
    public static func load(from url: URL) throws -> T2IModel {
        let folder = try ModelFolder(url)
        let tokenizer = try CLIPTokenizer(folder: url.appendingPathComponent("tokenizer").path)
        let text = try CLIPTextModel(folder: url.appendingPathComponent("text_encoder"))
        let unet = try UNet2DConditionModel.load(from: folder)
        let sched = try SchedulerConfiguration(component: folder.component("scheduler"))
        return T2IModel(tokenizer: tokenizer, textEncoder: text, unet: unet, scheduler: sched)
    }
}

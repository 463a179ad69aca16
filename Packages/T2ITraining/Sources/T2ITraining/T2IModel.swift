import Autodiff
import DataIO
import Diffusion
import Foundation
import NN
import Pipeline
import Tensor
import TextEncoder
import Tokenizer

/// The trainable view of a pixel-space text-to-image model: the `ModelComponents` every tool loads (CLIP
/// tokenizer and text encoder, SD U-Net, scheduler configuration; `IdentityAutoencoder`: the U-Net works on RGB
/// pixels in [-1, 1]) with its parameters named for checkpoints, EMA swaps and writing. Written and read in the
/// diffusers folder layout (`model_index.json`, `tokenizer/`, `text_encoder/`, `unet/`, `scheduler/`; no `vae/`).
/// Sampling goes through the one loop, `TextToImagePipeline` (`pipeline(scheduler:)`).
public final class T2IModel {
    public let components: ModelComponents

    public var tokenizer: CLIPTokenizer { components.tokenizer }
    public var textEncoder: CLIPTextModel { components.textEncoder }
    public var unet: UNet2DConditionModel { components.unet }
    public var scheduler: SchedulerConfiguration { components.schedulerConfig }

    /// The view of `components`; throws unless they are a pixel-space model (no VAE).
    public init(components: ModelComponents) throws {
        guard components.autoencoder is IdentityAutoencoder else {
            throw T2ITrainingError("T2IModel is a pixel-space model; the folder \(components.folder?.path ?? "(in memory)") has a VAE")
        }
        self.components = components
    }

    public convenience init(tokenizer: CLIPTokenizer, textEncoder: CLIPTextModel, unet: UNet2DConditionModel, scheduler: SchedulerConfiguration) throws {
        try self.init(components: ModelComponents(tokenizer: tokenizer, textEncoder: textEncoder, unet: unet,
                                                  autoencoder: IdentityAutoencoder(channels: unet.outChannels), schedulerConfig: scheduler))
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
        try self.init(tokenizer: tokenizer, textEncoder: text, unet: unet, scheduler: try config.schedulerConfiguration())
    }

    /// The sampling loop on this model (the scheduler built from `scheduler`, default the model's).
    public func pipeline(scheduler config: SchedulerConfiguration? = nil) throws -> TextToImagePipeline {
        try components.pipeline(scheduler: (config ?? scheduler).makeScheduler())
    }

    /// Images [N, 3, side, side] in [-1, 1] of `prompts` (image i from `seeds[i]`, so an image depends on its
    /// prompt and seed only) with the empty negative prompt: one `TextToImagePipeline` run, no graph recorded.
    public func sample(prompts: [String], seeds: [UInt64], steps: Int, guidanceScale: Float, guidanceRescale: Float = 0,
                       imageSize: Int) throws -> Tensor {
        guard prompts.count == seeds.count, !prompts.isEmpty else {
            throw T2ITrainingError("sample: \(prompts.count) prompts and \(seeds.count) seeds (need the same non-zero count)")
        }
        let options = GenerationOptions(steps: steps, guidanceScale: guidanceScale, guidanceRescale: guidanceRescale,
                                        height: imageSize, width: imageSize, imagesPerPrompt: 1, seeding: .perImage(seeds))
        let (conditioning, _) = try components.conditioner.conditioning(prompts: prompts, withUncond: options.usesGuidance)
        return try pipeline().generate(conditioning, options: options).images!
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

    /// Reads a folder written by `write(to:)` (or any diffusers SD folder without a VAE) through the project's one
    /// loader, with trainable weights.
    public static func load(from url: URL) throws -> T2IModel {
        try T2IModel(components: ModelComponents.load(folder: url, frozen: false))
    }
}

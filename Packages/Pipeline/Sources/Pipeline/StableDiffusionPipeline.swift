import DataIO
import Diffusion
import Foundation
import SelfCorrection
import Tensor
import TextEncoder
import Tokenizer

/// A whole text-to-image model folder in the diffusers layout — `model_index.json`, `tokenizer/`,
/// `text_encoder/`, `unet/`, `scheduler/` and optionally `vae/` (absent: pixel-space diffusion) — loaded and ready
/// to sample from prompts. Real Stable Diffusion 1.x/2.x folders, folders written by diffusers' `save_pretrained`
/// and the project's bundled model all load through this one path.
public final class StableDiffusionPipeline {
    public let folder: URL
    public let modelIndex: ModelIndex
    public let prompts: PromptEncoder
    public let unet: UNet2DConditionModel
    public let autoencoder: any Autoencoder
    /// The folder's scheduler configuration (what `--scheduler` overrides start from).
    public let schedulerConfig: SchedulerConfiguration
    /// The sampler on encoded text; its `scheduler` may be swapped with `useScheduler`.
    public let sampler: TextToImagePipeline
    /// Where warnings (truncated prompts) go; stderr by default.
    public var warningHandler: (String) -> Void = { FileHandle.standardError.write(Data(("warning: " + $0 + "\n").utf8)) }

    /// The LoRA folder merged into `unet` by `loadLoRA`, and its settings (nil: the folder's U-Net as is).
    public private(set) var loraFolder: URL?
    public private(set) var loraConfig: UNetLoRAConfig?

    public var scheduler: any Scheduler { sampler.scheduler }
    public var tokenizer: CLIPTokenizer { prompts.tokenizer }
    public var textEncoder: CLIPTextModel { prompts.textEncoder }

    /// Loads `folder`; `scheduler` (a `SchedulerChoice` name or diffusers class name) replaces the folder's
    /// scheduler class, keeping its noise schedule; `variant` picks weight files such as
    /// `diffusion_pytorch_model.fp16.safetensors` (widened to float32). Errors name the component and file at fault.
    public init(folder url: URL, scheduler schedulerName: String? = nil, variant: String? = nil, strict: Bool = true) throws {
        let path = url.path
        func fail(_ component: String, _ message: String) -> ModelLoadError {
            ModelLoadError(folder: path, component: component, message)
        }
        /// Runs `body`, rewrapping any error as a `ModelLoadError` of `component`.
        func loading<T>(_ component: String, _ body: () throws -> T) throws -> T {
            do { return try body() } catch let e as ModelLoadError { throw e } catch {
                throw fail(component, "\(error)")
            }
        }
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir), isDir.boolValue else {
            throw fail("folder", "does not exist (expected a diffusers model folder with model_index.json)")
        }
        let model = try loading("folder") { try ModelFolder(url) }
        let indexURL = url.appendingPathComponent("model_index.json")
        guard FileManager.default.fileExists(atPath: indexURL.path) else {
            throw fail("model_index.json", "missing (not a diffusers model folder?)")
        }
        let index = try loading("model_index.json") { try model.modelIndex() }
        // Components the index names with a class must exist; null entries (safety_checker, ...) are ignored.
        for (name, entry) in index.components where entry.count == 2 && entry[1] != nil {
            guard ["tokenizer", "text_encoder", "unet", "vae", "scheduler"].contains(name) else { continue }
            var d: ObjCBool = false
            guard FileManager.default.fileExists(atPath: model.component(name).url.path, isDirectory: &d), d.boolValue else {
                throw fail(name, "listed in model_index.json as \(entry[1]!) but the folder \(name)/ is missing")
            }
        }
        for name in ["tokenizer", "text_encoder", "unet", "scheduler"] {
            var d: ObjCBool = false
            guard FileManager.default.fileExists(atPath: model.component(name).url.path, isDirectory: &d), d.boolValue else {
                throw fail(name, "the folder \(name)/ is missing (a text-to-image folder needs tokenizer/, text_encoder/, unet/ and scheduler/; vae/ is optional)")
            }
        }
        let tokenizer = try loading("tokenizer") { () throws -> CLIPTokenizer in
            _ = try model.tokenizerFiles()
            return try CLIPTokenizer(folder: model.component("tokenizer").url.path)
        }
        let textEncoder = try loading("text_encoder") { try CLIPTextModel(folder: model.component("text_encoder").url, strict: strict, variant: variant) }
        _ = textEncoder.store.freeze()
        let unet = try loading("unet") { try UNet2DConditionModel.load(from: model, variant: variant, strict: strict) }
        _ = unet.store.freeze()
        let autoencoder = try loading("vae") {
            try AutoencoderKL.loadOrIdentity(from: model, imageChannels: unet.config.outChannels, variant: variant, strict: strict)
        }
        if let vae = autoencoder as? AutoencoderKL { _ = vae.store.freeze() }
        let config = try loading("scheduler") { try SchedulerConfiguration(component: model.component("scheduler")) }
        let scheduler: any Scheduler = try loading("scheduler") {
            if let schedulerName { return try SchedulerChoice(name: schedulerName).makeScheduler(from: config) }
            return try config.makeScheduler()
        }
        let encoder = try loading("text_encoder") { try PromptEncoder(tokenizer: tokenizer, textEncoder: textEncoder) }
        guard textEncoder.config.hiddenSize == unet.contextDim else {
            throw fail("unet", "cross_attention_dim \(unet.contextDim) does not match the text encoder's hidden_size \(textEncoder.config.hiddenSize)")
        }
        folder = url
        modelIndex = index
        prompts = encoder
        self.unet = unet
        self.autoencoder = autoencoder
        schedulerConfig = config
        sampler = try loading("unet") { try TextToImagePipeline(unet: unet, autoencoder: autoencoder, scheduler: scheduler) }
    }

    /// Replaces the scheduler by `name` (short or diffusers class name), built from the folder's configuration.
    public func useScheduler(_ name: String) throws {
        sampler.scheduler = try SchedulerChoice(name: name).makeScheduler(from: schedulerConfig)
    }

    /// Merges the U-Net LoRA in `folder` (`adapter_config.json` + `pytorch_lora_weights.safetensors`, as
    /// `UNetLoRA.save` and DPT stage 2 write it) into `unet`'s weights: sampling then costs what it did without it,
    /// and every user of `unet` (the sampler, a self-correction scorer built on it) sees the tuned U-Net. The U-Net
    /// stays frozen. One LoRA per pipeline: a second call throws (load the folder again to switch). Errors name the
    /// LoRA folder and the file or key at fault (missing, unexpected or mis-shaped keys, a rank the layers cannot
    /// take); a failed load leaves zero-initialised, unmerged adapters behind, which do not change the output.
    @discardableResult
    public func loadLoRA(from folder: URL) throws -> UNetLoRAConfig {
        func fail(_ message: String) -> ModelLoadError { ModelLoadError(folder: folder.path, component: UNetLoRA.componentName, message) }
        if let loraFolder {
            throw fail("this pipeline already merged the LoRA in \(loraFolder.path); load the model folder again to use another")
        }
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder.path, isDirectory: &isDir), isDir.boolValue else {
            throw fail("the LoRA folder does not exist (expected \(UNetLoRA.configFileName) and \(UNetLoRA.weightsFileName), as train-adapter --stage tune writes them)")
        }
        let config: UNetLoRAConfig
        do { config = try UNetLoRA.load(from: folder, into: unet, merge: true) } catch { throw fail("\(error)") }
        _ = unet.store.freeze()
        loraFolder = folder
        loraConfig = config
        return config
    }

    /// Generates `prompts.count × options.imagesPerPrompt` images (prompt-major). `negativePrompt`: one for all
    /// prompts, nil = the empty prompt. Prompts longer than the tokenizer's context are truncated with a warning.
    public func generate(prompts list: [String], negativePrompt: String? = nil,
                         options: GenerationOptions = GenerationOptions(), hooks: [any StepHook] = [],
                         decode: Bool = true, progress: ((GenerationProgress) -> Void)? = nil) throws -> GenerationResult {
        let (conditioning, warnings) = try prompts.conditioning(prompts: list, negativePrompts: negativePrompt.map { [$0] },
                                                                withUncond: options.usesGuidance)
        warnings.forEach(warningHandler)
        return try sampler.generate(conditioning, options: options, hooks: hooks, decode: decode, progress: progress)
    }

    /// `generate` with DPT's self-correction (`SelfCorrection` package) when `corrector` is given: the prompts'
    /// pooled embeddings e_y go with their token states to the corrector's scorer, on the conditional branch only
    /// (the negative prompt never enters the score). nil runs the plain pipeline (no records). Returns the result
    /// and one `CorrectionRecord` per step. The scorer must read the same U-Net as the sampler (`unet`, with any
    /// merged LoRA) for the correction to be DPT's.
    public func generate(prompts list: [String], negativePrompt: String? = nil, options: GenerationOptions = GenerationOptions(),
                         selfCorrection corrector: SelfCorrector?, hooks: [any StepHook] = [], decode: Bool = true,
                         progress: ((GenerationProgress) -> Void)? = nil) throws -> (GenerationResult, [CorrectionRecord]) {
        guard let corrector else {
            return (try generate(prompts: list, negativePrompt: negativePrompt, options: options, hooks: hooks, decode: decode,
                                 progress: progress), [])
        }
        let (conditioning, pooled, warnings) = try prompts.conditioningWithPooled(prompts: list, negativePrompts: negativePrompt.map { [$0] },
                                                                                  withUncond: options.usesGuidance)
        warnings.forEach(warningHandler)
        return try sampler.generate(conditioning, pooled: pooled, selfCorrection: corrector, options: options, hooks: hooks,
                                    decode: decode, progress: progress)
    }
}

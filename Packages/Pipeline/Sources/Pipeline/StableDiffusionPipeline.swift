import DataIO
import Diffusion
import Foundation
import Tensor
import TextEncoder
import Tokenizer

/// A whole text-to-image model folder in the diffusers layout — `model_index.json`, `tokenizer/`,
/// `text_encoder/`, `unet/`, `scheduler/` and optionally `vae/` (absent: pixel-space diffusion) — loaded by
/// `ModelComponents.load` and ready to sample from prompts. Real Stable Diffusion 1.x/2.x folders, folders written
/// by diffusers' `save_pretrained` and the project's bundled model all load through this one path.
public final class StableDiffusionPipeline {
    public let components: ModelComponents
    /// The sampler on encoded text; its `scheduler` may be swapped with `useScheduler`.
    public let sampler: TextToImagePipeline
    /// The text conditioner prompts go through (the folder's CLIP by default; any `TextConditioner` may replace it).
    public var conditioner: any TextConditioner
    /// Where warnings (truncated prompts) go; stderr by default.
    public var warningHandler: (String) -> Void = { FileHandle.standardError.write(Data(("warning: " + $0 + "\n").utf8)) }

    /// The LoRA folder merged into `unet` by `loadLoRA`, and its settings (nil: the folder's U-Net as is).
    public private(set) var loraFolder: URL?
    public private(set) var loraConfig: UNetLoRAConfig?

    /// The model folder (nil for components built in memory).
    public var folder: URL? { components.folder }
    public var modelIndex: ModelIndex? { components.modelIndex }
    public var unet: UNet2DConditionModel { components.unet }
    public var autoencoder: any Autoencoder { components.autoencoder }
    /// The folder's scheduler configuration (what `--scheduler` overrides start from).
    public var schedulerConfig: SchedulerConfiguration { components.schedulerConfig }
    public var prompts: PromptEncoder { components.conditioner }
    public var scheduler: any Scheduler { sampler.scheduler }
    public var tokenizer: CLIPTokenizer { components.tokenizer }
    public var textEncoder: CLIPTextModel { components.textEncoder }

    /// Loads `folder` (frozen weights); `scheduler` (a `SchedulerChoice` name or diffusers class name) replaces the
    /// folder's scheduler class, keeping its noise schedule; `variant` picks weight files such as
    /// `diffusion_pytorch_model.fp16.safetensors` (widened to float32). Errors name the component and file at fault.
    public convenience init(folder url: URL, scheduler schedulerName: String? = nil, variant: String? = nil, strict: Bool = true) throws {
        try self.init(components: ModelComponents.load(folder: url, variant: variant, strict: strict), scheduler: schedulerName)
    }

    /// A pipeline on already loaded components.
    public init(components: ModelComponents, scheduler schedulerName: String? = nil) throws {
        let path = components.folder?.path ?? "(in memory)"
        func loading<T>(_ component: String, _ body: () throws -> T) throws -> T {
            do { return try body() } catch let e as ModelLoadError { throw e } catch {
                throw ModelLoadError(folder: path, component: component, "\(error)")
            }
        }
        let config = components.schedulerConfig
        let scheduler: any Scheduler = try loading("scheduler") {
            if let schedulerName { return try SchedulerChoice(name: schedulerName).makeScheduler(from: config) }
            return try config.makeScheduler()
        }
        self.components = components
        conditioner = components.conditioner
        sampler = try loading("unet") { try components.pipeline(scheduler: scheduler) }
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
            throw fail("the LoRA folder does not exist (expected \(UNetLoRA.configFileName) and \(UNetLoRA.weightsFileName), as train-adapter tune writes them)")
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
    /// The conditioning carries the prompts' pooled embeddings, so a self-correction hook among `hooks` scores
    /// against them (on the conditional branch only; the negative prompt never enters the score).
    public func generate(prompts list: [String], negativePrompt: String? = nil,
                         options: GenerationOptions = GenerationOptions(), hooks: [any StepHook] = [],
                         decode: Bool = true, progress: ((GenerationProgress) -> Void)? = nil) throws -> GenerationResult {
        let (conditioning, warnings) = try conditioner.conditioning(prompts: list, negativePrompts: negativePrompt.map { [$0] },
                                                                    withUncond: options.usesGuidance)
        warnings.forEach(warningHandler)
        return try sampler.generate(conditioning, options: options, hooks: hooks, decode: decode, progress: progress)
    }
}

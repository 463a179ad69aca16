import DataIO
import Diffusion
import Foundation
import Tensor
import TextEncoder
import Tokenizer

/// The components of a diffusers-layout text-to-image folder (`model_index.json`, `tokenizer/`, `text_encoder/`,
/// `unet/`, `scheduler/`, optional `vae/`), loaded by the project's one folder loader. `StableDiffusionPipeline`,
/// the trainers' model views (`T2IModel`, `ProbeModel`) and every tool start here, so one folder means the same
/// model everywhere.
public final class ModelComponents {
    /// The folder it was loaded from (nil for components built in memory).
    public let folder: URL?
    public let modelIndex: ModelIndex?
    public let tokenizer: CLIPTokenizer
    public let textEncoder: CLIPTextModel
    /// The text-conditioner seam's CLIP conformer on `tokenizer` and `textEncoder`.
    public let conditioner: PromptEncoder
    public let unet: UNet2DConditionModel
    /// The folder's VAE, or `IdentityAutoencoder` for a pixel-space model (no `vae/`).
    public let autoencoder: any Autoencoder
    public let schedulerConfig: SchedulerConfiguration

    /// Components built in memory (e.g. a fresh model for training). Throws when they do not fit each other.
    public init(tokenizer: CLIPTokenizer, textEncoder: CLIPTextModel, unet: UNet2DConditionModel,
                autoencoder: any Autoencoder, schedulerConfig: SchedulerConfiguration,
                folder: URL? = nil, modelIndex: ModelIndex? = nil) throws {
        guard textEncoder.config.hiddenSize == unet.contextDim else {
            throw PipelineError("unet", "cross_attention_dim \(unet.contextDim) does not match the text encoder's hidden_size \(textEncoder.config.hiddenSize)")
        }
        guard unet.inChannels == autoencoder.latentChannels, unet.outChannels == autoencoder.latentChannels else {
            throw PipelineError("unet", "in/out channels \(unet.inChannels)/\(unet.outChannels) do not match the autoencoder's \(autoencoder.latentChannels) latent channels")
        }
        self.tokenizer = tokenizer
        self.textEncoder = textEncoder
        conditioner = try PromptEncoder(tokenizer: tokenizer, textEncoder: textEncoder)
        self.unet = unet
        self.autoencoder = autoencoder
        self.schedulerConfig = schedulerConfig
        self.folder = folder
        self.modelIndex = modelIndex
    }

    /// Loads `url`. `variant` picks weight files such as `diffusion_pytorch_model.fp16.safetensors` (widened to
    /// float32); `frozen` (the default: sampling and probing) sets `requiresGrad` false on every weight, false
    /// leaves them trainable. Errors are `ModelLoadError`s naming the folder, the component and the file at fault.
    public static func load(folder url: URL, variant: String? = nil, strict: Bool = true, frozen: Bool = true) throws -> ModelComponents {
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
        func isFolder(_ p: String) -> Bool {
            var d: ObjCBool = false
            return FileManager.default.fileExists(atPath: p, isDirectory: &d) && d.boolValue
        }
        guard isFolder(path) else { throw fail("folder", "does not exist (expected a diffusers model folder with model_index.json)") }
        let model = try loading("folder") { try ModelFolder(url) }
        guard FileManager.default.fileExists(atPath: url.appendingPathComponent("model_index.json").path) else {
            throw fail("model_index.json", "missing (not a diffusers model folder?)")
        }
        let index = try loading("model_index.json") { try model.modelIndex() }
        // Components the index names with a class must exist; null entries (safety_checker, ...) are ignored.
        for (name, entry) in index.components where entry.count == 2 && entry[1] != nil {
            guard ["tokenizer", "text_encoder", "unet", "vae", "scheduler"].contains(name) else { continue }
            guard isFolder(model.component(name).url.path) else {
                throw fail(name, "listed in model_index.json as \(entry[1]!) but the folder \(name)/ is missing")
            }
        }
        for name in ["tokenizer", "text_encoder", "unet", "scheduler"] where !isFolder(model.component(name).url.path) {
            throw fail(name, "the folder \(name)/ is missing (a text-to-image folder needs tokenizer/, text_encoder/, unet/ and scheduler/; vae/ is optional)")
        }
        let tokenizer = try loading("tokenizer") { () throws -> CLIPTokenizer in
            _ = try model.tokenizerFiles()
            return try CLIPTokenizer(folder: model.component("tokenizer").url.path)
        }
        let textEncoder = try loading("text_encoder") { try CLIPTextModel(folder: model.component("text_encoder").url, strict: strict, variant: variant) }
        let unet = try loading("unet") { try UNet2DConditionModel.load(from: model, variant: variant, strict: strict) }
        let autoencoder = try loading("vae") {
            try AutoencoderKL.loadOrIdentity(from: model, imageChannels: unet.config.outChannels, variant: variant, strict: strict)
        }
        let config = try loading("scheduler") { try SchedulerConfiguration(component: model.component("scheduler")) }
        if frozen {
            _ = textEncoder.store.freeze()
            _ = unet.store.freeze()
            if let vae = autoencoder as? AutoencoderKL { _ = vae.store.freeze() }
        }
        do {
            return try ModelComponents(tokenizer: tokenizer, textEncoder: textEncoder, unet: unet, autoencoder: autoencoder,
                                       schedulerConfig: config, folder: url, modelIndex: index)
        } catch let e as PipelineError {
            throw fail(e.item == "tokenizer" ? "text_encoder" : "unet", e.message)
        }
    }

    /// The sampling loop on these components with `scheduler` (default: a fresh one from `schedulerConfig`).
    public func pipeline(scheduler: (any Scheduler)? = nil) throws -> TextToImagePipeline {
        try TextToImagePipeline(unet: unet, autoencoder: autoencoder, scheduler: scheduler ?? schedulerConfig.makeScheduler())
    }

    /// The image side the U-Net was built for: its `sample_size` times the autoencoder's downscale factor (64
    /// latent pixels when the config gives none, as diffusers).
    public var imageSide: Int {
        (unet.config.sampleSize?.perBlock(1).first ?? 64) * autoencoder.downscaleFactor
    }
}

import Autodiff
import DataIO
import Foundation
import NN
import Tensor

/// diffusers `AutoencoderKL` (the SD VAE), built from `vae/config.json` with diffusers' state-dict names
/// (`encoder.down_blocks.0.resnets.0.conv1.weight`, `quant_conv`, `post_quant_conv`, `decoder.*`). Owns its
/// `ParameterStore`.
public final class AutoencoderKL: Module, Autoencoder {
    public let path = ""
    public let config: AutoencoderKLConfig
    public let store: ParameterStore
    public let encoder: Encoder
    public let decoder: Decoder
    public let quantConv: Conv2d?
    public let postQuantConv: Conv2d?

    public var imageChannels: Int { config.inChannels }
    public var latentChannels: Int { config.latentChannels }
    public let downscaleFactor: Int
    public var scalingFactor: Float { Float(config.scalingFactor) }
    public var shiftFactor: Float { Float(config.shiftFactor ?? 0) }

    public init(config c: AutoencoderKLConfig, store: ParameterStore) throws {
        func fail(_ m: String) -> ModelComponentError { ModelComponentError(.config, component: "vae", "config: \(m)") }
        let n = c.blockOutChannels.count
        guard n > 0, c.blockOutChannels.allSatisfy({ $0 > 0 && $0 % c.normNumGroups == 0 }), c.normNumGroups > 0 else {
            throw fail("block_out_channels \(c.blockOutChannels) must be non-empty and divisible by norm_num_groups \(c.normNumGroups)")
        }
        guard c.downBlockTypes.count == n, c.upBlockTypes.count == n else {
            throw fail("down_block_types (\(c.downBlockTypes.count)) and up_block_types (\(c.upBlockTypes.count)) need one entry per block_out_channels (\(n))")
        }
        for (i, t) in c.downBlockTypes.enumerated() where t != "DownEncoderBlock2D" {
            throw fail("unknown block type '\(t)' in down_block_types[\(i)]; supported: DownEncoderBlock2D")
        }
        for (i, t) in c.upBlockTypes.enumerated() where t != "UpDecoderBlock2D" {
            throw fail("unknown block type '\(t)' in up_block_types[\(i)]; supported: UpDecoderBlock2D")
        }
        guard c.actFn == "silu" else { throw fail("act_fn '\(c.actFn)' is not supported (silu)") }
        guard c.layersPerBlock > 0, c.latentChannels > 0, c.inChannels > 0, c.outChannels > 0 else {
            throw fail("layers_per_block, latent_channels, in_channels and out_channels must be positive")
        }
        guard c.scalingFactor > 0 else { throw fail("scaling_factor must be positive, got \(c.scalingFactor)") }
        config = c
        self.store = store
        let vb = store.root
        encoder = Encoder(vb.pp("encoder"), inChannels: c.inChannels, latentChannels: c.latentChannels,
                          blockOutChannels: c.blockOutChannels, layersPerBlock: c.layersPerBlock, groups: c.normNumGroups,
                          midBlockAddAttention: c.midBlockAddAttention)
        decoder = Decoder(vb.pp("decoder"), latentChannels: c.latentChannels, outChannels: c.outChannels,
                          blockOutChannels: c.blockOutChannels, layersPerBlock: c.layersPerBlock, groups: c.normNumGroups,
                          midBlockAddAttention: c.midBlockAddAttention)
        quantConv = c.useQuantConv
            ? Conv2d(vb.pp("quant_conv"), inChannels: 2 * c.latentChannels, outChannels: 2 * c.latentChannels, kernelSize: 1) : nil
        postQuantConv = c.usePostQuantConv
            ? Conv2d(vb.pp("post_quant_conv"), inChannels: c.latentChannels, outChannels: c.latentChannels, kernelSize: 1) : nil
        downscaleFactor = 1 << (n - 1)
        vb.register(self)
    }

    /// A model with PyTorch-style random initial values drawn from `TorchGenerator(seed:)`.
    public convenience init(config: AutoencoderKLConfig, seed: UInt64) throws {
        try self.init(config: config, store: ParameterStore(generator: TorchGenerator(seed: seed)))
    }

    /// Loads `vae/` of a diffusers folder (`config.json`, `diffusion_pytorch_model[.variant].safetensors`), strict by default.
    public static func load(from component: ComponentFolder, variant: String? = nil, strict: Bool = true) throws -> AutoencoderKL {
        let config = try component.config(AutoencoderKLConfig.self)
        let model: AutoencoderKL
        let file = try component.weights(variant: variant)
        let store = ParameterStore(initialization: .uninitialized, elementBudget: file.elementBudget(strict: strict))
        do {
            model = try AutoencoderKL(config: config, store: store)
        } catch let e as ModelComponentError {
            throw ModelComponentError(e.kind, component: e.component, file: component.configURL.path, e.message)
        }
        try checkBudget(store, config: component.configURL.path, weights: file)
        try model.loadWeights(file, strict: strict)
        return model
    }

    /// The first-stage model of a diffusers folder: its `vae/` as an `AutoencoderKL`, or, when the folder has no
    /// `vae/` (a pixel-space model), the identity with `imageChannels` channels.
    public static func loadOrIdentity(from folder: ModelFolder, imageChannels: Int = 3, variant: String? = nil,
                                      strict: Bool = true) throws -> any Autoencoder {
        let vae = folder.component("vae")
        guard FileManager.default.fileExists(atPath: vae.url.path) else { return IdentityAutoencoder(channels: imageChannels) }
        return try load(from: vae, variant: variant, strict: strict)
    }

    /// Replaces the weights by those of `file` (diffusers names).
    @discardableResult
    public func loadWeights(_ file: SafetensorsFile, strict: Bool = true) throws -> StateDictReport {
        try ComponentWeights.load(file, into: store, component: "vae", strict: strict)
    }

    /// Throws unless `shape` is [B, channels, H, W] with H and W multiples of `multiple`.
    func checkShape(_ shape: [Int], channels: Int, multiple: Int, what: String) throws {
        guard shape.count == 4, shape[1] == channels, shape[0] > 0, shape[2] > 0, shape[3] > 0,
              shape[2] % multiple == 0, shape[3] % multiple == 0 else {
            throw ModelComponentError(.config, component: "vae",
                                      "\(what) shape \(shape) is not [B, \(channels), H, W]\(multiple > 1 ? " with H and W multiples of \(multiple)" : "")")
        }
    }

    /// Throws a clear error unless `images` fit `encode` ([B, in_channels, H, W]).
    public func validateImages(shape: [Int]) throws {
        try checkShape(shape, channels: imageChannels, multiple: 1, what: "image")
    }

    /// Throws a clear error unless `latents` fit `decode` ([B, latent_channels, h, w]).
    public func validateLatents(shape: [Int]) throws {
        try checkShape(shape, channels: latentChannels, multiple: 1, what: "latent")
    }

    public func encode(_ images: Variable) -> DiagonalGaussianDistribution {
        tensorRequire { try validateImages(shape: images.shape) }
        let h = encoder(images)
        return DiagonalGaussianDistribution(moments: quantConv.map { $0(h) } ?? h)
    }

    public func decode(_ latents: Variable) -> Variable {
        tensorRequire { try validateLatents(shape: latents.shape) }
        return decoder(postQuantConv.map { $0(latents) } ?? latents)
    }
}

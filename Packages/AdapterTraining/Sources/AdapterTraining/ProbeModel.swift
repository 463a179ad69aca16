import Autodiff
import DataIO
import Diffusion
import DiscriminativeAdapter
import Foundation
import NN
import Pipeline
import ShapesWorld
import Tensor
import TextEncoder
import Tokenizer

/// The frozen parts of a text-to-image model that probing reads: tokenizer, text encoder, U-Net, autoencoder
/// (VAE or identity for pixel-space models) and the training noise schedule, loaded from a diffusers-layout folder
/// by the one loader, `ModelComponents.load`. With `randomUNetSeed` the U-Net keeps the folder's architecture but gets
/// fresh random weights from that seed: the control that shows what the adapter learns by itself.
public final class ProbeModel {
    public let folder: URL
    public let tokenizer: CLIPTokenizer
    public let textEncoder: CLIPTextModel
    /// The folder's CLIP text conditioner (what the sampling pipeline encodes prompts with).
    public let conditioner: PromptEncoder
    public let unet: UNet2DConditionModel
    public let autoencoder: any Autoencoder
    public let schedule: NoiseSchedule
    /// What the U-Net predicts (the scheduler config's `prediction_type`): the target of the denoising loss.
    public let predictionType: PredictionType
    /// The seed of the random U-Net (control), or nil for the folder's weights.
    public let randomUNetSeed: UInt64?

    public init(folder: URL, randomUNetSeed: UInt64? = nil) throws {
        let parts = try ModelComponents.load(folder: folder)
        self.folder = folder
        tokenizer = parts.tokenizer
        textEncoder = parts.textEncoder
        conditioner = parts.conditioner
        autoencoder = parts.autoencoder
        imageSide = parts.imageSide
        schedule = NoiseSchedule(config: parts.schedulerConfig)
        predictionType = parts.schedulerConfig.predictionType
        self.randomUNetSeed = randomUNetSeed
        if let seed = randomUNetSeed {
            unet = try UNet2DConditionModel(config: parts.unet.config, seed: seed)
        } else {
            unet = parts.unet
        }
        _ = unet.store.freeze()
        _ = textEncoder.store.freeze()
    }

    /// Training timesteps T of the noise schedule.
    public var numTrainTimesteps: Int { schedule.numTrainTimesteps }

    /// Image side the U-Net expects: its sample size times the autoencoder's downscale factor.
    public let imageSide: Int

    /// Token context length L (the REC class head scores L positions plus "no object").
    public var contextLength: Int { tokenizer.contextLength }

    /// The adapter configuration of `preset` on `taps` for this model (feature channels from the U-Net config,
    /// text widths from the text encoder, token positions from the tokenizer).
    /// The alias `cross-up` resolves to the U-Net's first cross-attention up block.
    public func adapterConfig(preset: String, taps requested: [String], dropout: Float? = nil, contrastiveAlign: Bool = false,
                              recHead: RECHeadKind = .detr) throws -> AdapterConfig {
        let taps = try FeatureTaps.resolve(requested, unet: unet.config)
        try unet.validateTaps(Set(taps))
        var c = try AdapterConfig.preset(preset, featureChannels: try FeatureTaps.featureChannels(of: taps, denoiser: unet),
                                         textEmbeddingDim: textEncoder.config.hiddenSize, featureTaps: taps,
                                         maxTextTokens: contextLength)
        c.textTokenDim = textEncoder.config.hiddenSize
        if let dropout { c.dropout = dropout }
        c.contrastiveAlign = contrastiveAlign
        c.recHead = recHead
        if recHead == .heatmap { c.referringQueries = 0 }
        return c
    }

    /// Text features of `texts` (no graph): U-Net conditioning (last hidden state, as SD pipelines), pooled
    /// end-token embedding e_y, and the token states when `tokens` (contrastive alignment).
    public func encode(_ texts: [String], tokens: Bool = false) throws -> TextFeatures {
        let e = try conditioner.encode(texts)
        return TextFeatures(context: e.states, pooled: e.pooled, tokens: tokens ? e.states : nil)
    }

    /// Denoiser-space latents of images [N, 3, H, W] in [-1, 1] (a VAE draw from `generator`; the images themselves
    /// for pixel-space models). Encoded in chunks of `chunk` images.
    public func latents(of images: Tensor, generator: inout TorchGenerator, chunk: Int = 32) -> Tensor {
        GradMode.noGrad {
            let n = images.shape[0]
            var parts: [Tensor] = []
            var start = 0
            while start < n {
                let end = Swift.min(n, start + chunk)
                let x = Variable(images.sliced(axis: 0, start: start, end: end))
                parts.append(autoencoder.latents(ofImages: x, generator: &generator).value)
                start = end
            }
            return parts.count == 1 ? parts[0] : Tensor.concat(parts, axis: 0)
        }
    }

    /// The word tokenizer ProbeBatch uses for REC token positions (ids without start/end tokens).
    public var wordTokens: (String) throws -> [Int] {
        let tok = tokenizer
        return { try tok.encode($0) }
    }

    /// The ShapesWorld generator rendering at this model's image size (or `side`).
    public func world(seed: UInt64, side: Int? = nil) -> SampleGenerator {
        SampleGenerator(seed: seed, config: .square(side ?? imageSide))
    }
}

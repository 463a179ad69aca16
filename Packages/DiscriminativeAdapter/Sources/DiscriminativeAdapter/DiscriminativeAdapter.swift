import Autodiff
import Diffusion
import Foundation
import NN
import Tensor

/// What one adapter forward returns.
public struct AdapterOutput {
    /// Decoder output after the final LayerNorm, [B, Nm + Nr, d] (matching queries first).
    public var hiddenStates: Variable
    /// `map_to_clip` of the matching queries, [B, Nm, D_text].
    public var matchingEmbeddings: Variable
    /// REC class logits over token positions plus "no object" (last), [B, Nr, L + 1].
    public var classLogits: Variable
    /// REC boxes (cx, cy, w, h) in [0, 1], [B, Nr, 4].
    public var boxes: Variable
    /// L2-normalised contrastive projections of the REC queries, [B, Nr, contrastiveDim] (nil without the
    /// contrastive head).
    public var projectedQueries: Variable?
    /// exp(logit_scale), 0-d.
    public var logitScale: Variable
}

/// DPT's discriminative adapter (the release's "DiffQformer"), a one-layer DETR encoder-decoder over a tapped
/// U-Net feature map, with an image-text matching head and referring-expression heads.
///
/// ```
/// src    = input_proj(F)                                     1x1 conv C_feat -> d
/// emb    = sine2d(H, W) + time_embedding(sinusoid_d(t))      [B, d, H, W]
/// memory = encoder(flatten(src), pos = emb)
/// hs     = decoder.norm(decoder(zeros(Nq), memory, pos = emb, query_pos = query_embed))
/// ```
/// State-dict names follow the release's `DPT` module (`input_proj`, `timestep_embedding.time_embedding.linear_1`,
/// `transformer.encoder.layers.0.self_attn.in_proj_weight`, `transformer.decoder.norm`, `query_embed.weight`,
/// `map_to_clip.{0,2}`, `logit_scale`, `class_embed`, `bbox_embed.layers.{0,1,2}`,
/// `contrastive_align_projection_{image,text}`), so a release checkpoint's adapter keys load directly (the text
/// projection then has RoBERTa's width instead of the T2I text encoder's).
public final class DiscriminativeAdapter: Module {
    public let path: String
    public let config: AdapterConfig
    public let store: ParameterStore
    public let inputProj: Conv2d
    public let timeEmbedding: TimestepEmbedding
    public let encoderLayers: [TransformerEncoderLayer]
    public let decoderLayers: [TransformerDecoderLayer]
    public let decoderNorm: LayerNorm
    public let queryEmbed: Embedding
    public let mapToClip: (Linear, Linear)
    /// The learned log temperature of the matching logits (0-d).
    public let logitScale: Variable
    public let classEmbed: Linear
    public let bboxEmbed: MLP
    public let contrastiveImage: Linear?
    public let contrastiveText: Linear?

    /// Builds the adapter into `store` (root path ""), which should hold nothing else so that its state dict is
    /// the adapter's. Initial values follow the PyTorch defaults of each layer; `init(config:seed:)` also applies
    /// DETR's xavier reset of the transformer matrices.
    public init(config: AdapterConfig, store: ParameterStore) throws {
        try config.validate()
        self.config = config
        self.store = store
        path = ""
        let vb = store.root
        let d = config.hiddenDim
        inputProj = Conv2d(vb.pp("input_proj"), inChannels: config.featureChannels, outChannels: d, kernelSize: 1)
        timeEmbedding = TimestepEmbedding(vb.pp("timestep_embedding").pp("time_embedding"), inChannels: d,
                                          timeEmbedDim: 4 * d, outDim: d)
        let t = vb.pp("transformer")
        encoderLayers = (0..<config.encoderLayers).map {
            TransformerEncoderLayer(t.pp("encoder").pp("layers").pp($0), dim: d, heads: config.heads,
                                    feedForwardDim: config.feedForwardDim, dropout: config.dropout)
        }
        decoderLayers = (0..<config.decoderLayers).map {
            TransformerDecoderLayer(t.pp("decoder").pp("layers").pp($0), dim: d, heads: config.heads,
                                    feedForwardDim: config.feedForwardDim, dropout: config.dropout)
        }
        decoderNorm = LayerNorm(t.pp("decoder").pp("norm"), dim: d)
        queryEmbed = Embedding(vb.pp("query_embed"), count: config.queryCount, dim: d)
        mapToClip = (Linear(vb.pp("map_to_clip").pp(0), inFeatures: d, outFeatures: d),
                     Linear(vb.pp("map_to_clip").pp(2), inFeatures: d, outFeatures: config.textEmbeddingDim))
        logitScale = vb.parameter("logit_scale", shape: [], initializer: .constant(config.logitScaleInit))
        classEmbed = Linear(vb.pp("class_embed"), inFeatures: d, outFeatures: config.maxTextTokens + 1)
        bboxEmbed = MLP(vb.pp("bbox_embed"), inputDim: d, hiddenDim: d, outputDim: 4, layerCount: 3)
        if config.contrastiveAlign {
            contrastiveImage = Linear(vb.pp("contrastive_align_projection_image"), inFeatures: d, outFeatures: config.contrastiveDim)
            contrastiveText = Linear(vb.pp("contrastive_align_projection_text"), inFeatures: config.textTokenDim,
                                     outFeatures: config.contrastiveDim)
        } else {
            contrastiveImage = nil
            contrastiveText = nil
        }
        vb.register(self)
    }

    /// A freshly initialised adapter: PyTorch default initialisations drawn from `TorchGenerator(seed:)`, then
    /// DETR's `_reset_parameters` (xavier-uniform on every matrix of the encoder and decoder layers) from a second
    /// stream of the same seed. The logit scale starts at `config.logitScaleInit`.
    public convenience init(config: AdapterConfig, seed: UInt64) throws {
        try self.init(config: config, store: ParameterStore(generator: TorchGenerator(seed: seed)))
        var g = TorchGenerator(seed: seed ^ 0xD37A_11CE)
        for np in store.namedParameters() where np.name.hasPrefix("transformer.") && np.variable.rank > 1 {
            let p = np.variable
            p.value = xavierUniform(fanIn: p.shape[1], fanOut: p.shape[0]).makeTensor(shape: p.shape, generator: &g)
        }
    }

    /// Switches dropout on (training) or off (evaluation).
    public func setTraining(_ training: Bool) { store.setTraining(training) }

    /// The adapter on a feature map `features` [B, C_feat, H, W] at `timesteps` (one per sample, or one shared).
    /// `generator` drives dropout in training mode.
    public func callAsFunction<G: RandomNumberGenerator>(_ features: Variable, timesteps: [Float],
                                                         generator: inout G) -> AdapterOutput {
        tensorCheck(features.rank == 4 && features.shape[1] == config.featureChannels, "DiscriminativeAdapter",
                    "feature map \(features.shape) is not [B, \(config.featureChannels), H, W] (feature_channels)")
        let b = features.shape[0], h = features.shape[2], w = features.shape[3], d = config.hiddenDim
        tensorCheck(timesteps.count == 1 || timesteps.count == b, "DiscriminativeAdapter",
                    "\(timesteps.count) timesteps for a batch of \(b): give one shared timestep or one per sample")
        let ts = timesteps.count == b ? timesteps : Array(repeating: timesteps[0], count: b)
        let src = inputProj(features).reshaped([b, d, h * w]).transposed(1, 2)                      // [B, HW, d]
        let pos = Variable(sinePositionEmbedding(dim: d, height: h, width: w).reshaped([1, d, h * w]).transposed(1, 2))
        let temb = timeEmbedding(Variable(sinusoidalTimestepEmbedding(ts, dim: d, flipSinToCos: true, freqShift: 0)))
        let emb = pos + temb.unsqueezed(1)                                                          // [B, HW, d]
        var memory = src
        for layer in encoderLayers { memory = layer(memory, pos: emb, generator: &generator) }
        let nq = config.queryCount
        let queryPos = queryEmbed.weight.unsqueezed(0).expanded(to: [b, nq, d])
        var hs = Variable(Tensor(shape: [b, nq, d], repeating: 0))
        for layer in decoderLayers { hs = layer(hs, memory: memory, pos: emb, queryPos: queryPos, generator: &generator) }
        hs = decoderNorm(hs)
        return heads(hs)
    }

    /// The forward without dropout randomness (evaluation mode or dropout 0).
    public func callAsFunction(_ features: Variable, timesteps: [Float]) -> AdapterOutput {
        var g = NoRandomness()
        return self(features, timesteps: timesteps, generator: &g)
    }

    /// The heads on decoder states `hs` [B, Nm + Nr, d].
    public func heads(_ hs: Variable) -> AdapterOutput {
        let nm = config.matchingQueries
        let matching = hs.sliced(axis: 1, start: 0, end: nm)
        let rec = hs.sliced(axis: 1, start: nm, end: config.queryCount)
        let q = mapToClip.1(mapToClip.0(matching).relu())
        return AdapterOutput(hiddenStates: hs, matchingEmbeddings: q, classLogits: classEmbed(rec),
                             boxes: bboxEmbed(rec).sigmoid(),
                             projectedQueries: contrastiveImage.map { l2Normalized(($0)(rec)) },
                             logitScale: logitScale.exp())
    }

    /// L2-normalised contrastive projections of text token states [B, L, textTokenDim] -> [B, L, contrastiveDim].
    public func projectTokens(_ tokenStates: Variable) -> Variable {
        guard let contrastiveText else {
            tensorCheck(false, "DiscriminativeAdapter.projectTokens", "the adapter has no contrastive head (contrastive_align_loss false)")
            fatalError()
        }
        tensorCheck(tokenStates.rank == 3 && tokenStates.shape[2] == config.textTokenDim, "DiscriminativeAdapter.projectTokens",
                    "token states \(tokenStates.shape) are not [B, L, \(config.textTokenDim)] (text_token_dim)")
        return l2Normalized(contrastiveText(tokenStates))
    }
}

/// `F.normalize(x, dim=-1)`: x / max(||x||, 1e-12) over the last axis.
public func l2Normalized(_ x: Variable) -> Variable {
    x * x.square().sum(axis: -1, keepDims: true).clamped(min: 1e-24).rsqrt()
}

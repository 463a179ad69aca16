import Autodiff
import Diffusion
import Foundation
import NN
import Tensor

/// What the REC head predicts: DETR's per-query classes and boxes (the release), or a heatmap over feature cells.
public enum RECPrediction {
    /// `classLogits` over token positions plus "no object" (last) [B, Nr, L + 1], `boxes` (cx, cy, w, h) in [0, 1]
    /// [B, Nr, 4], and the L2-normalised contrastive projections of the queries [B, Nr, k] (nil without that head).
    case detr(classLogits: Variable, boxes: Variable, projectedQueries: Variable?)
    case heatmap(RECHeatmap)

    /// Rows `indices` of the batch.
    public func rows(_ indices: [Int]) -> RECPrediction {
        switch self {
        case let .detr(c, b, p):
            return .detr(classLogits: c.indexSelect(axis: 0, indices: indices), boxes: b.indexSelect(axis: 0, indices: indices),
                         projectedQueries: p?.indexSelect(axis: 0, indices: indices))
        case let .heatmap(h): return .heatmap(h.rows(indices))
        }
    }

    /// The top-1 box (cx, cy, w, h) of each sample: DETR's most object-like query, or the heatmap's peak cell.
    public func topBoxes() -> [[Double]] {
        switch self {
        case let .detr(c, b, _): return DiscriminativeMetrics.topBoxes(classLogits: c.value, boxes: b.value)
        case let .heatmap(h): return h.topBoxes()
        }
    }
}

/// What one adapter forward returns.
public struct AdapterOutput {
    /// Decoder output after the final LayerNorm, [B, Nm + Nr, d] (matching queries first).
    public var hiddenStates: Variable
    /// `map_to_clip` of the matching queries, [B, Nm, D_text].
    public var matchingEmbeddings: Variable
    /// The REC head's prediction.
    public var rec: RECPrediction
    /// exp(logit_scale), 0-d.
    public var logitScale: Variable

    /// The DETR head's outputs; nil for the heatmap head.
    public var detr: (classLogits: Variable, boxes: Variable, projectedQueries: Variable?)? {
        if case let .detr(c, b, p) = rec { return (c, b, p) }
        return nil
    }

    /// The heatmap head's outputs; nil for the DETR head.
    public var heatmap: RECHeatmap? {
        if case let .heatmap(h) = rec { return h }
        return nil
    }
}

/// DPT's discriminative adapter (the release's "DiffQformer"), a one-layer DETR encoder-decoder over a tapped
/// U-Net feature map, with an image-text matching head and referring-expression heads (DETR's, or the heatmap
/// head of `rec_head: "heatmap"` on the encoder memory).
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
    /// DETR REC heads (`rec_head: "detr"`).
    public let classEmbed: Linear?
    public let bboxEmbed: MLP?
    /// The heatmap REC head (`rec_head: "heatmap"`).
    public let recHeatmap: RECHeatmapHead?
    /// Learned reference points of the REC queries in logit space [Nr, 2] (`rec_reference_points`).
    public let recReference: Variable?
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
        if config.recHead == .heatmap {
            classEmbed = nil
            bboxEmbed = nil
            recHeatmap = RECHeatmapHead(vb.pp("rec_heatmap"), dim: d, textDim: config.heatmapText ? config.textEmbeddingDim : 0)
        } else {
            classEmbed = Linear(vb.pp("class_embed"), inFeatures: d, outFeatures: config.maxTextTokens + 1)
            bboxEmbed = MLP(vb.pp("bbox_embed"), inputDim: d, hiddenDim: d, outputDim: 4, layerCount: 3)
            recHeatmap = nil
        }
        recReference = config.recReferencePoints
            ? vb.parameter("rec_reference_points", shape: [config.referringQueries, 2], initializer: .uniform(low: -2, high: 2))
            : nil
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
    /// The REC head runs on the rows `recRows` only (nil: every row), in that order; `text`, the pooled embedding of
    /// each REC row's text [R, D_text], is read by a `heatmap_text` head only (and required by it). `generator`
    /// drives dropout in training mode.
    public func callAsFunction<G: RandomNumberGenerator>(_ features: Variable, timesteps: [Float], text: Variable? = nil,
                                                         recRows: [Int]? = nil, generator: inout G) -> AdapterOutput {
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
        let valuePos = config.decoderValuePosition ? emb : nil
        for layer in decoderLayers {
            hs = layer(hs, memory: memory, pos: emb, queryPos: queryPos, valuePos: valuePos, generator: &generator)
        }
        hs = decoderNorm(hs)
        return heads(hs, memory: memory, height: h, width: w, text: text, position: pos, recRows: recRows)
    }

    /// The forward without dropout randomness (evaluation mode or dropout 0).
    public func callAsFunction(_ features: Variable, timesteps: [Float], text: Variable? = nil,
                               recRows: [Int]? = nil) -> AdapterOutput {
        var g = NoRandomness()
        return self(features, timesteps: timesteps, text: text, recRows: recRows, generator: &g)
    }

    /// The heads on decoder states `hs` [B, Nm + Nr, d] and, for the heatmap head, the encoder `memory`
    /// [B, height * width, d]; REC on rows `recRows` only (nil: all), with `heatmap_text` also each REC row's
    /// pooled `text` and the cells' `position` code.
    public func heads(_ hs: Variable, memory: Variable, height: Int, width: Int, text: Variable? = nil,
                      position: Variable? = nil, recRows: [Int]? = nil) -> AdapterOutput {
        let nm = config.matchingQueries
        let matching = hs.sliced(axis: 1, start: 0, end: nm)
        let q = mapToClip.1(mapToClip.0(matching).relu())
        let rec: RECPrediction
        if let recHeatmap {
            let m = recRows.map { memory.indexSelect(axis: 0, indices: $0) } ?? memory
            rec = .heatmap(recHeatmap(m, height: height, width: width, text: text, position: position))
        } else {
            var r = hs.sliced(axis: 1, start: nm, end: config.queryCount)
            if let recRows { r = r.indexSelect(axis: 0, indices: recRows) }
            var raw = bboxEmbed!(r)
            if let recReference {   // centre offsets from each query's reference point, in logit space
                raw = raw + Variable.concat([recReference, Variable(Tensor(shape: [config.referringQueries, 2], repeating: 0))], axis: 1)
            }
            rec = .detr(classLogits: classEmbed!(r), boxes: raw.sigmoid(),
                        projectedQueries: contrastiveImage.map { l2Normalized(($0)(r)) })
        }
        return AdapterOutput(hiddenStates: hs, matchingEmbeddings: q, rec: rec, logitScale: logitScale.exp())
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

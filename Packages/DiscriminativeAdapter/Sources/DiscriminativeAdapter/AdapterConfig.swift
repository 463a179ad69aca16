import DataIO
import Foundation

/// The sizes and options of a discriminative adapter, stored as the `config.json` of an `adapter/` component
/// (snake_case keys). Unknown keys are rejected, so a misspelt option fails loudly instead of being ignored.
public struct AdapterConfig: Codable, Equatable, Sendable {
    /// Model width d (the release: `hidden_dim` 256).
    public var hiddenDim: Int
    /// Attention heads of every attention layer.
    public var heads: Int
    /// Width of the ReLU feed-forward block.
    public var feedForwardDim: Int
    /// Encoder and decoder layers (the release uses 1 and 1).
    public var encoderLayers: Int
    public var decoderLayers: Int
    /// Dropout of attention probabilities, residual branches and the feed-forward block (release 0.1).
    public var dropout: Float
    /// Matching (ITM) queries Nm and referring (REC) queries Nr, decoded together (matching first).
    public var matchingQueries: Int
    public var referringQueries: Int
    /// U-Net feature taps read by the adapter (`down0`.., `mid`, `up0`..); several taps are concatenated along
    /// channels after resizing to the finest of their resolutions (see `FeatureTaps`).
    public var featureTaps: [String]
    /// Channels C_feat of the (concatenated) tapped feature map.
    public var featureChannels: Int
    /// Width D_text of the pooled text embedding the matching head maps to (the text encoder's hidden size).
    public var textEmbeddingDim: Int
    /// Width of the text encoder's token states used by the contrastive alignment projection.
    public var textTokenDim: Int
    /// Token positions L the REC class head scores (the text context length); the head has L + 1 outputs, the
    /// last one "no object".
    public var maxTextTokens: Int
    /// Whether the contrastive token-alignment projections exist (and the loss can be used).
    public var contrastiveAlign: Bool
    /// Width of the contrastive alignment space (release 64).
    public var contrastiveDim: Int
    /// Temperature of the contrastive alignment logits (MDETR 0.07).
    public var contrastiveTemperature: Float
    /// Initial value of the learned `logit_scale` (log(1/0.07)).
    public var logitScaleInit: Float
    /// The REC head: `detr` (the release's queries, class and box heads) or `heatmap` (per-cell scores and boxes
    /// on the encoder memory, a deviation; it has no REC queries: `num_queries_rec` 0).
    public var recHead: RECHeadKind
    /// DETR head deviations from the release (both off in the release): a learned reference point per REC query,
    /// the box head predicting offsets from it in logit space (Deformable/Conditional-DETR style), so queries start
    /// spread over the image instead of all at its centre ...
    public var recReferencePoints: Bool
    /// ... and the position code added to the decoder's cross-attention values, so what a query reads carries where
    /// it read it (DETR's values carry no position).
    public var decoderValuePosition: Bool
    /// Heatmap head deviation: the head also reads the expression (a bilinear term of its pooled text embedding and
    /// each cell's features plus position), so it can prefer the cell an expression's "left" or "large" names
    /// instead of relying on the U-Net's conditioning alone. The forward then needs the pooled text of every REC row.
    public var heatmapText: Bool

    enum CodingKeys: String, CodingKey, CaseIterable {
        case hiddenDim = "hidden_dim", heads, feedForwardDim = "dim_feedforward"
        case encoderLayers = "enc_layers", decoderLayers = "dec_layers", dropout
        case matchingQueries = "num_queries_matching", referringQueries = "num_queries_rec"
        case featureTaps = "feature_taps", featureChannels = "feature_channels"
        case textEmbeddingDim = "text_embedding_dim", textTokenDim = "text_token_dim", maxTextTokens = "max_text_tokens"
        case contrastiveAlign = "contrastive_align_loss", contrastiveDim = "contrastive_loss_hdim"
        case contrastiveTemperature = "temperature_nce", logitScaleInit = "logit_scale_init", recHead = "rec_head"
        case recReferencePoints = "rec_reference_points", decoderValuePosition = "dec_value_pos"
        case heatmapText = "heatmap_text"
    }

    /// Keys written for information (class name, version) and accepted on reading.
    static let informationalKeys: Set<String> = ["_class_name", "_dpt_version"]

    public init(hiddenDim: Int, heads: Int, feedForwardDim: Int, encoderLayers: Int = 1, decoderLayers: Int = 1,
                dropout: Float, matchingQueries: Int, referringQueries: Int, featureTaps: [String] = ["up1"],
                featureChannels: Int, textEmbeddingDim: Int, textTokenDim: Int? = nil, maxTextTokens: Int = 77,
                contrastiveAlign: Bool = false, contrastiveDim: Int = 64, contrastiveTemperature: Float = 0.07,
                logitScaleInit: Float = Float(Foundation.log(1 / 0.07)), recHead: RECHeadKind = .detr,
                recReferencePoints: Bool = false, decoderValuePosition: Bool = false, heatmapText: Bool = false) {
        self.hiddenDim = hiddenDim
        self.heads = heads
        self.feedForwardDim = feedForwardDim
        self.encoderLayers = encoderLayers
        self.decoderLayers = decoderLayers
        self.dropout = dropout
        self.matchingQueries = matchingQueries
        self.referringQueries = referringQueries
        self.featureTaps = featureTaps
        self.featureChannels = featureChannels
        self.textEmbeddingDim = textEmbeddingDim
        self.textTokenDim = textTokenDim ?? textEmbeddingDim
        self.maxTextTokens = maxTextTokens
        self.contrastiveAlign = contrastiveAlign
        self.contrastiveDim = contrastiveDim
        self.contrastiveTemperature = contrastiveTemperature
        self.logitScaleInit = logitScaleInit
        self.recHead = recHead
        self.recReferencePoints = recReferencePoints
        self.decoderValuePosition = decoderValuePosition
        self.heatmapText = heatmapText
    }

    /// The scaled-down default for the bundled model: d 128, 4 heads, FFN 512, 4 + 16 queries, dropout 0.1.
    public static func bundled(featureChannels: Int, textEmbeddingDim: Int, featureTaps: [String] = ["up1"],
                               maxTextTokens: Int = 77, dropout: Float = 0.1) -> AdapterConfig {
        AdapterConfig(hiddenDim: 128, heads: 4, feedForwardDim: 512, dropout: dropout, matchingQueries: 4,
                      referringQueries: 16, featureTaps: featureTaps, featureChannels: featureChannels,
                      textEmbeddingDim: textEmbeddingDim, maxTextTokens: maxTextTokens)
    }

    /// The authors' release: d 256, 8 heads, FFN 2048, 10 + 100 queries, dropout 0.1 (SD 2.1: `up1` has 1280
    /// channels and the text embedding 1024).
    public static func release(featureChannels: Int = 1280, textEmbeddingDim: Int = 1024, featureTaps: [String] = ["up1"],
                               maxTextTokens: Int = 77, dropout: Float = 0.1) -> AdapterConfig {
        AdapterConfig(hiddenDim: 256, heads: 8, feedForwardDim: 2048, dropout: dropout, matchingQueries: 10,
                      referringQueries: 100, featureTaps: featureTaps, featureChannels: featureChannels,
                      textEmbeddingDim: textEmbeddingDim, maxTextTokens: maxTextTokens)
    }

    /// A preset by name (`bundled`, `release`), for command lines.
    public static func preset(_ name: String, featureChannels: Int, textEmbeddingDim: Int, featureTaps: [String] = ["up1"],
                              maxTextTokens: Int = 77) throws -> AdapterConfig {
        switch name {
        case "bundled": return .bundled(featureChannels: featureChannels, textEmbeddingDim: textEmbeddingDim,
                                        featureTaps: featureTaps, maxTextTokens: maxTextTokens)
        case "release": return .release(featureChannels: featureChannels, textEmbeddingDim: textEmbeddingDim,
                                        featureTaps: featureTaps, maxTextTokens: maxTextTokens)
        default: throw AdapterError.config("unknown adapter preset '\(name)'; presets: bundled, release")
        }
    }

    /// Total queries Nm + Nr.
    public var queryCount: Int { matchingQueries + referringQueries }

    /// Throws naming the first inconsistent value.
    public func validate() throws {
        func fail(_ m: String) -> AdapterError { .config(m) }
        guard hiddenDim > 0, heads > 0, hiddenDim % heads == 0 else {
            throw fail("hidden_dim \(hiddenDim) must be a positive multiple of heads \(heads)")
        }
        guard hiddenDim % 2 == 0 else { throw fail("hidden_dim \(hiddenDim) must be even (2-D sine position code)") }
        guard feedForwardDim > 0 else { throw fail("dim_feedforward must be positive, got \(feedForwardDim)") }
        guard encoderLayers >= 0, decoderLayers > 0 else {
            throw fail("enc_layers \(encoderLayers) must be >= 0 and dec_layers \(decoderLayers) > 0")
        }
        guard dropout >= 0, dropout < 1 else { throw fail("dropout must lie in [0, 1), got \(dropout)") }
        guard matchingQueries > 0 else { throw fail("num_queries_matching \(matchingQueries) must be positive") }
        switch recHead {
        case .detr:
            guard referringQueries > 0 else { throw fail("num_queries_rec \(referringQueries) must be positive for rec_head detr") }
            guard !heatmapText else { throw fail("heatmap_text conditions the heatmap head; rec_head is detr") }
        case .heatmap:
            guard referringQueries == 0 else { throw fail("rec_head heatmap has no REC queries: num_queries_rec must be 0, got \(referringQueries)") }
            guard !contrastiveAlign else { throw fail("contrastive_align_loss aligns REC queries, which rec_head heatmap does not have") }
            guard !recReferencePoints else { throw fail("rec_reference_points are DETR query reference points; rec_head heatmap has no queries") }
        }
        guard !featureTaps.isEmpty, Set(featureTaps).count == featureTaps.count else {
            throw fail("feature_taps \(featureTaps) must name at least one tap, each once")
        }
        guard featureChannels > 0, textEmbeddingDim > 0, textTokenDim > 0, maxTextTokens > 0 else {
            throw fail("feature_channels, text_embedding_dim, text_token_dim and max_text_tokens must be positive")
        }
        guard contrastiveDim > 0, contrastiveTemperature > 0 else {
            throw fail("contrastive_loss_hdim \(contrastiveDim) and temperature_nce \(contrastiveTemperature) must be positive")
        }
        guard logitScaleInit.isFinite else { throw fail("logit_scale_init must be finite") }
    }

    public init(from decoder: Decoder) throws {
        let any = try decoder.container(keyedBy: AnyKey.self)
        let known = Set(CodingKeys.allCases.map(\.rawValue)).union(Self.informationalKeys)
        let unknown = any.allKeys.map(\.stringValue).filter { !known.contains($0) }.sorted()
        guard unknown.isEmpty else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath,
                                                    debugDescription: "unknown adapter config key(s): \(unknown.joined(separator: ", "))"))
        }
        let c = try decoder.container(keyedBy: CodingKeys.self)
        hiddenDim = try c.decode(Int.self, forKey: .hiddenDim)
        heads = try c.decode(Int.self, forKey: .heads)
        feedForwardDim = try c.decode(Int.self, forKey: .feedForwardDim)
        encoderLayers = try c.decodeIfPresent(Int.self, forKey: .encoderLayers) ?? 1
        decoderLayers = try c.decodeIfPresent(Int.self, forKey: .decoderLayers) ?? 1
        dropout = try c.decodeIfPresent(Float.self, forKey: .dropout) ?? 0.1
        matchingQueries = try c.decode(Int.self, forKey: .matchingQueries)
        referringQueries = try c.decode(Int.self, forKey: .referringQueries)
        featureTaps = try c.decode([String].self, forKey: .featureTaps)
        featureChannels = try c.decode(Int.self, forKey: .featureChannels)
        textEmbeddingDim = try c.decode(Int.self, forKey: .textEmbeddingDim)
        textTokenDim = try c.decodeIfPresent(Int.self, forKey: .textTokenDim) ?? textEmbeddingDim
        maxTextTokens = try c.decodeIfPresent(Int.self, forKey: .maxTextTokens) ?? 77
        contrastiveAlign = try c.decodeIfPresent(Bool.self, forKey: .contrastiveAlign) ?? false
        contrastiveDim = try c.decodeIfPresent(Int.self, forKey: .contrastiveDim) ?? 64
        contrastiveTemperature = try c.decodeIfPresent(Float.self, forKey: .contrastiveTemperature) ?? 0.07
        logitScaleInit = try c.decodeIfPresent(Float.self, forKey: .logitScaleInit) ?? Float(Foundation.log(1 / 0.07))
        let head = try c.decodeIfPresent(String.self, forKey: .recHead) ?? RECHeadKind.detr.rawValue
        guard let kind = RECHeadKind(rawValue: head) else {
            throw DecodingError.dataCorruptedError(forKey: .recHead, in: c, debugDescription:
                "rec_head '\(head)' is not one of \(RECHeadKind.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        recHead = kind
        recReferencePoints = try c.decodeIfPresent(Bool.self, forKey: .recReferencePoints) ?? false
        decoderValuePosition = try c.decodeIfPresent(Bool.self, forKey: .decoderValuePosition) ?? false
        heatmapText = try c.decodeIfPresent(Bool.self, forKey: .heatmapText) ?? false
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(hiddenDim, forKey: .hiddenDim)
        try c.encode(heads, forKey: .heads)
        try c.encode(feedForwardDim, forKey: .feedForwardDim)
        try c.encode(encoderLayers, forKey: .encoderLayers)
        try c.encode(decoderLayers, forKey: .decoderLayers)
        try c.encode(dropout, forKey: .dropout)
        try c.encode(matchingQueries, forKey: .matchingQueries)
        try c.encode(referringQueries, forKey: .referringQueries)
        try c.encode(featureTaps, forKey: .featureTaps)
        try c.encode(featureChannels, forKey: .featureChannels)
        try c.encode(textEmbeddingDim, forKey: .textEmbeddingDim)
        try c.encode(textTokenDim, forKey: .textTokenDim)
        try c.encode(maxTextTokens, forKey: .maxTextTokens)
        try c.encode(contrastiveAlign, forKey: .contrastiveAlign)
        try c.encode(contrastiveDim, forKey: .contrastiveDim)
        try c.encode(contrastiveTemperature, forKey: .contrastiveTemperature)
        try c.encode(logitScaleInit, forKey: .logitScaleInit)
        try c.encode(recHead.rawValue, forKey: .recHead)
        try c.encode(recReferencePoints, forKey: .recReferencePoints)
        try c.encode(decoderValuePosition, forKey: .decoderValuePosition)
        try c.encode(heatmapText, forKey: .heatmapText)
        var extra = encoder.container(keyedBy: AnyKey.self)
        try extra.encode("DiscriminativeAdapter", forKey: AnyKey("_class_name"))
    }
}

/// Which REC head an adapter has.
public enum RECHeadKind: String, CaseIterable, Codable, Sendable {
    case detr, heatmap
}

/// A string coding key for open-ended JSON objects.
struct AnyKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(_ s: String) { stringValue = s }
    init?(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}

/// Errors of the adapter package: a bad config value, a weight file that does not fit, inputs of the wrong shape.
public enum AdapterError: Error, CustomStringConvertible, Equatable {
    case config(String)
    case weights(String)
    case input(String)

    public var description: String {
        switch self {
        case .config(let m): return "adapter config: \(m)"
        case .weights(let m): return "adapter weights: \(m)"
        case .input(let m): return "adapter input: \(m)"
        }
    }
}

/// `text_encoder/config.json` of transformers' `CLIPTextModel` (`CLIPTextConfig`), beside the model it configures
/// (transformers 5 defaults; unmodelled keys kept in `extras`; sizes checked against `ConfigLimits` while decoding).
import DataIO

public struct CLIPTextConfig: Codable, Equatable, Sendable {
    public var architectures: [String]? = nil
    public var modelType = "clip_text_model"
    public var vocabSize = 49408
    public var hiddenSize = 512
    public var intermediateSize = 2048
    public var projectionDim = 512
    public var numHiddenLayers = 12
    public var numAttentionHeads = 8
    public var maxPositionEmbeddings = 77
    public var hiddenAct = "quick_gelu"
    public var layerNormEps: Double = 1e-5
    public var attentionDropout: Double = 0
    public var dropout: Double = 0
    public var initializerRange: Double = 0.02
    public var initializerFactor: Double = 1
    public var padTokenId: Int? = 1
    public var bosTokenId: Int? = 49406
    /// SD configs carry the legacy value 2: transformers then pools at the highest token id (the end token).
    public var eosTokenId: Int? = 49407
    public var torchDtype: String? = nil
    public var extras: [String: JSONValue] = [:]

    public init() {}

    public init(from decoder: Decoder) throws {
        var r = try ConfigReader(decoder)
        let d = CLIPTextConfig()
        architectures = try r.optionalList("architectures", maxCount: ConfigLimits.blocks)
        modelType = try r("model_type", d.modelType)
        vocabSize = try r.size("vocab_size", d.vocabSize, 1...ConfigLimits.vocabulary)
        hiddenSize = try r.size("hidden_size", d.hiddenSize, 1...ConfigLimits.dimension)
        intermediateSize = try r.size("intermediate_size", d.intermediateSize, 1...ConfigLimits.wideDimension)
        projectionDim = try r.size("projection_dim", d.projectionDim, 1...ConfigLimits.dimension)
        numHiddenLayers = try r.size("num_hidden_layers", d.numHiddenLayers, 1...ConfigLimits.layers)
        numAttentionHeads = try r.size("num_attention_heads", d.numAttentionHeads, 1...ConfigLimits.dimension)
        maxPositionEmbeddings = try r.size("max_position_embeddings", d.maxPositionEmbeddings, 1...ConfigLimits.wideDimension)
        hiddenAct = try r("hidden_act", d.hiddenAct)
        layerNormEps = try r("layer_norm_eps", d.layerNormEps)
        attentionDropout = try r("attention_dropout", d.attentionDropout)
        dropout = try r("dropout", d.dropout)
        initializerRange = try r("initializer_range", d.initializerRange)
        initializerFactor = try r("initializer_factor", d.initializerFactor)
        padTokenId = try r("pad_token_id", d.padTokenId)
        bosTokenId = try r("bos_token_id", d.bosTokenId)
        eosTokenId = try r("eos_token_id", d.eosTokenId)
        torchDtype = try r.optional("torch_dtype")
        extras = try r.extras()
    }

    public func encode(to encoder: Encoder) throws {
        var w = ConfigWriter(encoder)
        if let architectures { try w("architectures", architectures) }
        try w("model_type", modelType)
        try w("vocab_size", vocabSize)
        try w("hidden_size", hiddenSize)
        try w("intermediate_size", intermediateSize)
        try w("projection_dim", projectionDim)
        try w("num_hidden_layers", numHiddenLayers)
        try w("num_attention_heads", numAttentionHeads)
        try w("max_position_embeddings", maxPositionEmbeddings)
        try w("hidden_act", hiddenAct)
        try w("layer_norm_eps", layerNormEps)
        try w("attention_dropout", attentionDropout)
        try w("dropout", dropout)
        try w("initializer_range", initializerRange)
        try w("initializer_factor", initializerFactor)
        try w("pad_token_id", padTokenId)
        try w("bos_token_id", bosTokenId)
        try w("eos_token_id", eosTokenId)
        if let torchDtype { try w("torch_dtype", torchDtype) }
        try w.extras(extras)
    }
}

extension ModelFolder {
    /// `text_encoder/config.json`.
    public func textEncoderConfig() throws -> CLIPTextConfig { try component("text_encoder").config(CLIPTextConfig.self) }
}

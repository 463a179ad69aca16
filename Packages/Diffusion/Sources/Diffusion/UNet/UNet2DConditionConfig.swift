/// `unet/config.json` of diffusers' `UNet2DConditionModel`, beside the model it configures. Keys are diffusers'
/// snake_case names; absent keys take diffusers 0.42's defaults; keys not modelled here are kept in `extras` and
/// written back. Every size, count and per-block list is checked against `ConfigLimits` while decoding, naming the key.
import DataIO

public struct UNet2DConditionConfig: Codable, Equatable, Sendable {
    public var className: String? = "UNet2DConditionModel"
    public var diffusersVersion: String? = nil
    public var sampleSize: OneOrMany<Int>? = nil
    public var inChannels = 4
    public var outChannels = 4
    public var centerInputSample = false
    public var flipSinToCos = true
    public var freqShift = 0
    public var downBlockTypes = ["CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"]
    public var midBlockType: String? = "UNetMidBlock2DCrossAttn"
    public var upBlockTypes = ["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"]
    public var onlyCrossAttention: OneOrMany<Bool> = .one(false)
    public var blockOutChannels = [320, 640, 1280, 1280]
    public var layersPerBlock: OneOrMany<Int> = .one(2)
    public var downsamplePadding = 1
    public var midBlockScaleFactor: Double = 1
    public var dropout: Double = 0
    public var actFn = "silu"
    public var normNumGroups: Int? = 32
    public var normEps: Double = 1e-5
    public var crossAttentionDim: OneOrMany<Int> = .one(1280)
    public var transformerLayersPerBlock: OneOrMany<Int> = .one(1)
    public var encoderHidDim: Int? = nil
    /// Heads per block in SD 1.x/2.x configs (diffusers' historical naming: see `attentionHeads`).
    public var attentionHeadDim: OneOrMany<Int> = .one(8)
    public var numAttentionHeads: OneOrMany<Int>? = nil
    public var dualCrossAttention = false
    public var useLinearProjection = false
    public var classEmbedType: String? = nil
    public var additionEmbedType: String? = nil
    public var numClassEmbeds: Int? = nil
    public var upcastAttention = false
    public var resnetTimeScaleShift = "default"
    public var timeEmbeddingType = "positional"
    public var timeEmbeddingDim: Int? = nil
    public var convInKernel = 3
    public var convOutKernel = 3
    public var projectionClassEmbeddingsInputDim: Int? = nil
    public var extras: [String: JSONValue] = [:]

    public init() {}

    /// Attention heads per down block, as diffusers resolves them: `num_attention_heads` if set, else
    /// `attention_head_dim` (which SD configs use to mean the number of heads).
    public var attentionHeads: [Int] { (numAttentionHeads ?? attentionHeadDim).perBlock(downBlockTypes.count) }

    /// `addition_embed_type_num_heads` (kept in `extras`; diffusers' default 64 when absent): the heads of the
    /// attention pooling of `addition_embed_type: "text"`.
    public var additionEmbedTypeNumHeads: JSONValue {
        get { extras["addition_embed_type_num_heads"] ?? .int(64) }
        set { extras["addition_embed_type_num_heads"] = newValue }
    }

    public init(from decoder: Swift.Decoder) throws {
        var r = try ConfigReader(decoder)
        let d = UNet2DConditionConfig()
        className = try r("_class_name", d.className)
        diffusersVersion = try r.optional("_diffusers_version")
        sampleSize = try r.optionalSizes("sample_size", 1...ConfigLimits.sampleSize)
        inChannels = try r.size("in_channels", d.inChannels, 1...ConfigLimits.dimension)
        outChannels = try r.size("out_channels", d.outChannels, 1...ConfigLimits.dimension)
        centerInputSample = try r("center_input_sample", d.centerInputSample)
        flipSinToCos = try r("flip_sin_to_cos", d.flipSinToCos)
        freqShift = try r("freq_shift", d.freqShift)
        downBlockTypes = try r.list("down_block_types", d.downBlockTypes)
        midBlockType = try r.optional("mid_block_type") ?? (r.contains("mid_block_type") ? nil : d.midBlockType)
        upBlockTypes = try r.list("up_block_types", d.upBlockTypes)
        onlyCrossAttention = try r.oneOrMany("only_cross_attention", d.onlyCrossAttention)
        blockOutChannels = try r.sizes("block_out_channels", d.blockOutChannels, 1...ConfigLimits.dimension)
        layersPerBlock = try r.sizes("layers_per_block", d.layersPerBlock, 1...ConfigLimits.layers)
        downsamplePadding = try r.size("downsample_padding", d.downsamplePadding, 0...ConfigLimits.kernel)
        midBlockScaleFactor = try r("mid_block_scale_factor", d.midBlockScaleFactor)
        dropout = try r("dropout", d.dropout)
        actFn = try r("act_fn", d.actFn)
        normNumGroups = try r.optionalSize("norm_num_groups", 1...ConfigLimits.dimension)
            ?? (r.contains("norm_num_groups") ? nil : d.normNumGroups)
        normEps = try r("norm_eps", d.normEps)
        crossAttentionDim = try r.sizes("cross_attention_dim", d.crossAttentionDim, 1...ConfigLimits.dimension)
        transformerLayersPerBlock = try r.sizes("transformer_layers_per_block", d.transformerLayersPerBlock, 1...ConfigLimits.layers)
        encoderHidDim = try r.optionalSize("encoder_hid_dim", 1...ConfigLimits.wideDimension)
        attentionHeadDim = try r.sizes("attention_head_dim", d.attentionHeadDim, 1...ConfigLimits.dimension)
        numAttentionHeads = try r.optionalSizes("num_attention_heads", 1...ConfigLimits.dimension)
        dualCrossAttention = try r("dual_cross_attention", d.dualCrossAttention)
        useLinearProjection = try r("use_linear_projection", d.useLinearProjection)
        classEmbedType = try r.optional("class_embed_type")
        additionEmbedType = try r.optional("addition_embed_type")
        numClassEmbeds = try r.optionalSize("num_class_embeds", 1...ConfigLimits.vocabulary)
        upcastAttention = try r("upcast_attention", d.upcastAttention)
        resnetTimeScaleShift = try r("resnet_time_scale_shift", d.resnetTimeScaleShift)
        timeEmbeddingType = try r("time_embedding_type", d.timeEmbeddingType)
        timeEmbeddingDim = try r.optionalSize("time_embedding_dim", 1...ConfigLimits.wideDimension)
        convInKernel = try r.size("conv_in_kernel", d.convInKernel, 1...ConfigLimits.kernel)
        convOutKernel = try r.size("conv_out_kernel", d.convOutKernel, 1...ConfigLimits.kernel)
        projectionClassEmbeddingsInputDim = try r.optionalSize("projection_class_embeddings_input_dim", 1...ConfigLimits.wideDimension)
        extras = try r.extras()
    }

    public func encode(to encoder: Swift.Encoder) throws {
        var w = ConfigWriter(encoder)
        try w("_class_name", className)
        if let diffusersVersion { try w("_diffusers_version", diffusersVersion) }
        try w("sample_size", sampleSize)
        try w("in_channels", inChannels)
        try w("out_channels", outChannels)
        try w("center_input_sample", centerInputSample)
        try w("flip_sin_to_cos", flipSinToCos)
        try w("freq_shift", freqShift)
        try w("down_block_types", downBlockTypes)
        try w("mid_block_type", midBlockType)
        try w("up_block_types", upBlockTypes)
        try w("only_cross_attention", onlyCrossAttention)
        try w("block_out_channels", blockOutChannels)
        try w("layers_per_block", layersPerBlock)
        try w("downsample_padding", downsamplePadding)
        try w("mid_block_scale_factor", midBlockScaleFactor)
        try w("dropout", dropout)
        try w("act_fn", actFn)
        try w("norm_num_groups", normNumGroups)
        try w("norm_eps", normEps)
        try w("cross_attention_dim", crossAttentionDim)
        try w("transformer_layers_per_block", transformerLayersPerBlock)
        try w("encoder_hid_dim", encoderHidDim)
        try w("attention_head_dim", attentionHeadDim)
        try w("num_attention_heads", numAttentionHeads)
        try w("dual_cross_attention", dualCrossAttention)
        try w("use_linear_projection", useLinearProjection)
        try w("class_embed_type", classEmbedType)
        try w("addition_embed_type", additionEmbedType)
        try w("num_class_embeds", numClassEmbeds)
        try w("upcast_attention", upcastAttention)
        try w("resnet_time_scale_shift", resnetTimeScaleShift)
        try w("time_embedding_type", timeEmbeddingType)
        try w("time_embedding_dim", timeEmbeddingDim)
        try w("conv_in_kernel", convInKernel)
        try w("conv_out_kernel", convOutKernel)
        try w("projection_class_embeddings_input_dim", projectionClassEmbeddingsInputDim)
        try w.extras(extras)
    }
}

extension ModelFolder {
    /// `unet/config.json`.
    public func unetConfig() throws -> UNet2DConditionConfig { try component("unet").config(UNet2DConditionConfig.self) }
}

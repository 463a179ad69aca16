/// Typed configs of a Stable Diffusion folder in the diffusers layout. Keys are diffusers'/transformers'
/// snake_case names; absent keys take the library defaults (diffusers 0.42 / transformers 5 signatures);
/// keys not modelled here (`_class_name`-like metadata, newer options) are kept in `extras` and written back.
/// Every size, count and per-block list is checked against `ConfigLimits` while decoding, naming the key.

/// `model_index.json`: the pipeline class and, per component, its library and class (`[null, null]` when absent).
public struct ModelIndex: Codable, Equatable, Sendable {
    public var className: String?
    public var diffusersVersion: String?
    /// Component name -> [library, class] (either may be null).
    public var components: [String: [String?]]
    /// Every other key (e.g. `requires_safety_checker`).
    public var extras: [String: JSONValue]

    public init(className: String?, components: [String: [String?]], diffusersVersion: String? = nil, extras: [String: JSONValue] = [:]) {
        self.className = className
        self.components = components
        self.diffusersVersion = diffusersVersion
        self.extras = extras
    }

    public init(from decoder: Decoder) throws {
        var r = try ConfigReader(decoder)
        className = try r.optional("_class_name")
        diffusersVersion = try r.optional("_diffusers_version")
        components = [:]
        extras = [:]
        for (k, v) in try r.extras() {
            if case let .array(a) = v, a.count == 2, a.allSatisfy({ $0 == .null || $0.stringValue != nil }) {
                components[k] = a.map(\.stringValue)
            } else {
                extras[k] = v
            }
        }
    }

    public func encode(to encoder: Encoder) throws {
        var w = ConfigWriter(encoder)
        try w("_class_name", className)
        try w("_diffusers_version", diffusersVersion)
        for (k, v) in components { try w(k, v) }
        try w.extras(extras)
    }

    /// The components that are present (class not null), sorted.
    public var presentComponents: [String] { components.filter { $0.value.count == 2 && $0.value[1] != nil }.keys.sorted() }
}

/// `unet/config.json` of `UNet2DConditionModel`.
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

    public init(from decoder: Decoder) throws {
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
        midBlockType = try r.optional("mid_block_type") ?? (r.container.contains(AnyCodingKey("mid_block_type")) ? nil : d.midBlockType)
        upBlockTypes = try r.list("up_block_types", d.upBlockTypes)
        onlyCrossAttention = try r.oneOrMany("only_cross_attention", d.onlyCrossAttention)
        blockOutChannels = try r.sizes("block_out_channels", d.blockOutChannels, 1...ConfigLimits.dimension)
        layersPerBlock = try r.sizes("layers_per_block", d.layersPerBlock, 1...ConfigLimits.layers)
        downsamplePadding = try r.size("downsample_padding", d.downsamplePadding, 0...ConfigLimits.kernel)
        midBlockScaleFactor = try r("mid_block_scale_factor", d.midBlockScaleFactor)
        dropout = try r("dropout", d.dropout)
        actFn = try r("act_fn", d.actFn)
        normNumGroups = try r.optionalSize("norm_num_groups", 1...ConfigLimits.dimension)
            ?? (r.container.contains(AnyCodingKey("norm_num_groups")) ? nil : d.normNumGroups)
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

    public func encode(to encoder: Encoder) throws {
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

/// `vae/config.json` of `AutoencoderKL`.
public struct AutoencoderKLConfig: Codable, Equatable, Sendable {
    public var className: String? = "AutoencoderKL"
    public var diffusersVersion: String? = nil
    public var inChannels = 3
    public var outChannels = 3
    public var downBlockTypes = ["DownEncoderBlock2D"]
    public var upBlockTypes = ["UpDecoderBlock2D"]
    public var blockOutChannels = [64]
    public var layersPerBlock = 1
    public var actFn = "silu"
    public var latentChannels = 4
    public var normNumGroups = 32
    public var sampleSize = 32
    public var scalingFactor: Double = 0.18215
    public var shiftFactor: Double? = nil
    public var forceUpcast = true
    public var useQuantConv = true
    public var usePostQuantConv = true
    public var midBlockAddAttention = true
    public var extras: [String: JSONValue] = [:]

    public init() {}

    public init(from decoder: Decoder) throws {
        var r = try ConfigReader(decoder)
        let d = AutoencoderKLConfig()
        className = try r("_class_name", d.className)
        diffusersVersion = try r.optional("_diffusers_version")
        inChannels = try r.size("in_channels", d.inChannels, 1...ConfigLimits.dimension)
        outChannels = try r.size("out_channels", d.outChannels, 1...ConfigLimits.dimension)
        downBlockTypes = try r.list("down_block_types", d.downBlockTypes)
        upBlockTypes = try r.list("up_block_types", d.upBlockTypes)
        blockOutChannels = try r.sizes("block_out_channels", d.blockOutChannels, 1...ConfigLimits.dimension)
        layersPerBlock = try r.size("layers_per_block", d.layersPerBlock, 1...ConfigLimits.layers)
        actFn = try r("act_fn", d.actFn)
        latentChannels = try r.size("latent_channels", d.latentChannels, 1...ConfigLimits.dimension)
        normNumGroups = try r.size("norm_num_groups", d.normNumGroups, 1...ConfigLimits.dimension)
        sampleSize = try r.size("sample_size", d.sampleSize, 1...ConfigLimits.sampleSize)
        scalingFactor = try r("scaling_factor", d.scalingFactor)
        shiftFactor = try r.optional("shift_factor")
        forceUpcast = try r("force_upcast", d.forceUpcast)
        useQuantConv = try r("use_quant_conv", d.useQuantConv)
        usePostQuantConv = try r("use_post_quant_conv", d.usePostQuantConv)
        midBlockAddAttention = try r("mid_block_add_attention", d.midBlockAddAttention)
        extras = try r.extras()
    }

    public func encode(to encoder: Encoder) throws {
        var w = ConfigWriter(encoder)
        try w("_class_name", className)
        if let diffusersVersion { try w("_diffusers_version", diffusersVersion) }
        try w("in_channels", inChannels)
        try w("out_channels", outChannels)
        try w("down_block_types", downBlockTypes)
        try w("up_block_types", upBlockTypes)
        try w("block_out_channels", blockOutChannels)
        try w("layers_per_block", layersPerBlock)
        try w("act_fn", actFn)
        try w("latent_channels", latentChannels)
        try w("norm_num_groups", normNumGroups)
        try w("sample_size", sampleSize)
        try w("scaling_factor", scalingFactor)
        try w("shift_factor", shiftFactor)
        try w("force_upcast", forceUpcast)
        try w("use_quant_conv", useQuantConv)
        try w("use_post_quant_conv", usePostQuantConv)
        try w("mid_block_add_attention", midBlockAddAttention)
        try w.extras(extras)
    }
}

/// `text_encoder/config.json` of transformers' `CLIPTextModel` (`CLIPTextConfig`).
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

/// `scheduler/scheduler_config.json`, the fields shared by the DDPM/DDIM/PNDM/Euler family. Defaults are
/// `DDIMScheduler`'s (`_class_name` says which scheduler the folder was saved with).
public struct SchedulerConfig: Codable, Equatable, Sendable {
    public var className: String? = nil
    public var diffusersVersion: String? = nil
    public var numTrainTimesteps = 1000
    public var betaStart: Double = 0.0001
    public var betaEnd: Double = 0.02
    public var betaSchedule = "linear"
    public var trainedBetas: [Double]? = nil
    public var clipSample = true
    public var clipSampleRange: Double = 1
    public var setAlphaToOne = true
    public var stepsOffset = 0
    public var predictionType = "epsilon"
    public var thresholding = false
    public var dynamicThresholdingRatio: Double = 0.995
    public var sampleMaxValue: Double = 1
    public var timestepSpacing = "leading"
    public var rescaleBetasZeroSnr = false
    /// PNDM only.
    public var skipPrkSteps: Bool? = nil
    public var extras: [String: JSONValue] = [:]

    public init() {}

    public init(from decoder: Decoder) throws {
        var r = try ConfigReader(decoder)
        let d = SchedulerConfig()
        className = try r.optional("_class_name")
        diffusersVersion = try r.optional("_diffusers_version")
        numTrainTimesteps = try r.size("num_train_timesteps", d.numTrainTimesteps, 1...ConfigLimits.timesteps)
        betaStart = try r("beta_start", d.betaStart)
        betaEnd = try r("beta_end", d.betaEnd)
        betaSchedule = try r("beta_schedule", d.betaSchedule)
        trainedBetas = try r.optionalList("trained_betas", maxCount: ConfigLimits.timesteps)
        clipSample = try r("clip_sample", d.clipSample)
        clipSampleRange = try r("clip_sample_range", d.clipSampleRange)
        setAlphaToOne = try r("set_alpha_to_one", d.setAlphaToOne)
        stepsOffset = try r.size("steps_offset", d.stepsOffset, 0...ConfigLimits.timesteps)
        predictionType = try r("prediction_type", d.predictionType)
        thresholding = try r("thresholding", d.thresholding)
        dynamicThresholdingRatio = try r("dynamic_thresholding_ratio", d.dynamicThresholdingRatio)
        sampleMaxValue = try r("sample_max_value", d.sampleMaxValue)
        timestepSpacing = try r("timestep_spacing", d.timestepSpacing)
        rescaleBetasZeroSnr = try r("rescale_betas_zero_snr", d.rescaleBetasZeroSnr)
        skipPrkSteps = try r.optional("skip_prk_steps")
        extras = try r.extras()
    }

    public func encode(to encoder: Encoder) throws {
        var w = ConfigWriter(encoder)
        if let className { try w("_class_name", className) }
        if let diffusersVersion { try w("_diffusers_version", diffusersVersion) }
        try w("num_train_timesteps", numTrainTimesteps)
        try w("beta_start", betaStart)
        try w("beta_end", betaEnd)
        try w("beta_schedule", betaSchedule)
        try w("trained_betas", trainedBetas)
        try w("clip_sample", clipSample)
        try w("clip_sample_range", clipSampleRange)
        try w("set_alpha_to_one", setAlphaToOne)
        try w("steps_offset", stepsOffset)
        try w("prediction_type", predictionType)
        try w("thresholding", thresholding)
        try w("dynamic_thresholding_ratio", dynamicThresholdingRatio)
        try w("sample_max_value", sampleMaxValue)
        try w("timestep_spacing", timestepSpacing)
        try w("rescale_betas_zero_snr", rescaleBetasZeroSnr)
        if let skipPrkSteps { try w("skip_prk_steps", skipPrkSteps) }
        try w.extras(extras)
    }
}

/// `vae/config.json` of diffusers' `AutoencoderKL`, beside the model it configures (diffusers 0.42 defaults;
/// unmodelled keys kept in `extras`; sizes checked against `ConfigLimits` while decoding).
import DataIO

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

    public init(from decoder: Swift.Decoder) throws {
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

    public func encode(to encoder: Swift.Encoder) throws {
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

extension ModelFolder {
    /// `vae/config.json`.
    public func vaeConfig() throws -> AutoencoderKLConfig { try component("vae").config(AutoencoderKLConfig.self) }
}

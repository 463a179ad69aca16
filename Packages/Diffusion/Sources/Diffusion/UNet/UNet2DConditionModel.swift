import Autodiff
import DataIO
import Foundation
import NN
import Tensor

/// diffusers `UNet2DConditionModel` as Stable Diffusion 1.x/2.x use it, built from `unet/config.json` with the
/// state-dict names verbatim (`down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q.weight`, ...).
///
/// Supported: `CrossAttnDownBlock2D`/`DownBlock2D`, `UNetMidBlock2DCrossAttn` (or none), `CrossAttnUpBlock2D`/
/// `UpBlock2D`; positional (sinusoidal) time embedding with `flip_sin_to_cos`/`freq_shift`; `attention_head_dim`
/// as the number of heads (int or per block, as diffusers reads it for these configs); `use_linear_projection`;
/// `transformer_layers_per_block`, `layers_per_block` (int or per block); `center_input_sample`;
/// `mid_block_scale_factor`; `norm_num_groups`, `norm_eps`; `conv_in_kernel`/`conv_out_kernel`;
/// `addition_embed_type: "text"` (a pooled text embedding added to the timestep embedding, `TextTimeEmbedding`).
/// Options that change the architecture beyond that (class embeddings, other addition embeddings,
/// only-cross-attention, dual cross-attention, scale-shift time norm, ...) are rejected with a
/// `ModelComponentError` naming the key.
///
/// The model owns its `ParameterStore` (root path ""): `store.stateDict()` is diffusers' state dict. Parameters
/// start trainable; freeze them (`store.freeze()`) for inference or input-gradient work, and run pure inference
/// inside `GradMode.noGrad` to record no graph.
public final class UNet2DConditionModel: Module, Denoiser {
    public let path = ""
    public let config: UNet2DConditionConfig
    public let store: ParameterStore
    public let convIn: Conv2d
    public let timeEmbedding: TimestepEmbedding
    /// `add_embedding` of `addition_embed_type: "text"`, else nil.
    public let addEmbedding: TextTimeEmbedding?
    public let downBlocks: [any UNetDownBlock]
    public let midBlock: UNetMidBlock2DCrossAttn?
    public let upBlocks: [any UNetUpBlock]
    public let convNormOut: GroupNorm?
    public let convOut: Conv2d

    public let inChannels: Int
    public let outChannels: Int
    public let contextDim: Int
    public let tapNames: [String]
    /// Width of the sinusoidal timestep features (block_out_channels[0]).
    public let timestepFeatures: Int
    /// 2^(number of upsamplers): sample sizes that are not multiples of it make the up path resize to the skip sizes.
    public let overallUpFactor: Int

    /// Builds the model into `store` (which should hold nothing else, so that its state dict is the U-Net's),
    /// drawing the initial values from the store's generator (or leaving them uninitialised for a load).
    public init(config: UNet2DConditionConfig, store: ParameterStore) throws {
        let a = try UNetArchitecture(config)
        self.config = config
        self.store = store
        inChannels = config.inChannels
        outChannels = config.outChannels
        contextDim = a.crossAttentionDim
        timestepFeatures = config.blockOutChannels[0]
        let vb = store.root
        let boc = config.blockOutChannels
        let n = boc.count
        convIn = Conv2d(vb.pp("conv_in"), inChannels: config.inChannels, outChannels: boc[0],
                        kernelSize: config.convInKernel, padding: (config.convInKernel - 1) / 2)
        let timeEmbedDim = config.timeEmbeddingDim ?? boc[0] * 4
        timeEmbedding = TimestepEmbedding(vb.pp("time_embedding"), inChannels: boc[0], timeEmbedDim: timeEmbedDim)
        addEmbedding = a.textTimeHeads.map {
            TextTimeEmbedding(vb.pp("add_embedding"), encoderDim: a.crossAttentionDim, timeEmbedDim: timeEmbedDim, heads: $0)
        }
        let s = UNetBlockSettings(tembChannels: timeEmbedDim, groups: a.groups, eps: Float(config.normEps),
                                  dropout: Float(config.dropout), useLinearProjection: config.useLinearProjection,
                                  downsamplePadding: config.downsamplePadding)

        var downs: [any UNetDownBlock] = []
        var outputChannel = boc[0]
        for (i, type) in config.downBlockTypes.enumerated() {
            let inputChannel = outputChannel
            outputChannel = boc[i]
            let last = i == n - 1
            let bvb = vb.pp("down_blocks").pp(i)
            if type == "CrossAttnDownBlock2D" {
                downs.append(CrossAttnDownBlock2D(bvb, numLayers: a.layersPerBlock[i], transformerLayers: a.transformerLayers[i],
                                                  inChannels: inputChannel, outChannels: outputChannel, addDownsample: !last,
                                                  heads: a.heads[i], crossAttentionDim: a.crossAttentionDim, settings: s))
            } else {
                downs.append(DownBlock2D(bvb, numLayers: a.layersPerBlock[i], inChannels: inputChannel,
                                         outChannels: outputChannel, addDownsample: !last, settings: s))
            }
        }
        downBlocks = downs

        midBlock = config.midBlockType == nil ? nil
            : UNetMidBlock2DCrossAttn(vb.pp("mid_block"), channels: boc[n - 1], transformerLayers: a.transformerLayers[n - 1],
                                      heads: a.heads[n - 1], crossAttentionDim: a.crossAttentionDim,
                                      outputScaleFactor: Float(config.midBlockScaleFactor), settings: s)

        var ups: [any UNetUpBlock] = []
        let rboc = Array(boc.reversed()), rheads = Array(a.heads.reversed())
        let rlayers = Array(a.layersPerBlock.reversed()), rtransformer = Array(a.transformerLayers.reversed())
        outputChannel = rboc[0]
        for (i, type) in config.upBlockTypes.enumerated() {
            let prevOutputChannel = outputChannel
            outputChannel = rboc[i]
            let inputChannel = rboc[Swift.min(i + 1, n - 1)]
            let last = i == n - 1
            let bvb = vb.pp("up_blocks").pp(i)
            if type == "CrossAttnUpBlock2D" {
                ups.append(CrossAttnUpBlock2D(bvb, numLayers: rlayers[i] + 1, transformerLayers: rtransformer[i],
                                              inChannels: inputChannel, outChannels: outputChannel,
                                              prevOutputChannels: prevOutputChannel, addUpsample: !last, heads: rheads[i],
                                              crossAttentionDim: a.crossAttentionDim, settings: s))
            } else {
                ups.append(UpBlock2D(bvb, numLayers: rlayers[i] + 1, inChannels: inputChannel, outChannels: outputChannel,
                                     prevOutputChannels: prevOutputChannel, addUpsample: !last, settings: s))
            }
        }
        upBlocks = ups
        overallUpFactor = 1 << (n - 1)

        convNormOut = GroupNorm(vb.pp("conv_norm_out"), groups: a.groups, channels: boc[0], eps: Float(config.normEps))
        convOut = Conv2d(vb.pp("conv_out"), inChannels: boc[0], outChannels: config.outChannels,
                         kernelSize: config.convOutKernel, padding: (config.convOutKernel - 1) / 2)
        tapNames = (0..<n).map { "down\($0)" } + (config.midBlockType == nil ? [] : ["mid"]) + (0..<n).map { "up\($0)" }
        vb.register(self)
    }

    /// `down i` -> block_out_channels[i], `mid` -> the last entry, `up i` -> the reversed list's entry i.
    public func tapChannels(_ name: String) -> Int? {
        guard tapNames.contains(name) else { return nil }
        let boc = config.blockOutChannels
        if name == "mid" { return boc[boc.count - 1] }
        if name.hasPrefix("down"), let i = Int(name.dropFirst(4)) { return boc[i] }
        if name.hasPrefix("up"), let i = Int(name.dropFirst(2)) { return boc[boc.count - 1 - i] }
        return nil
    }

    /// A model with PyTorch-style random initial values drawn from `TorchGenerator(seed:)`.
    public convenience init(config: UNet2DConditionConfig, seed: UInt64) throws {
        try self.init(config: config, store: ParameterStore(generator: TorchGenerator(seed: seed)))
    }

    /// Loads `unet/` of a diffusers folder: `config.json` and `diffusion_pytorch_model[.variant].safetensors`
    /// (float32, float16 or bfloat16). Strict by default: any missing, unexpected or mis-shaped key throws.
    public static func load(from component: ComponentFolder, variant: String? = nil, strict: Bool = true) throws -> UNet2DConditionModel {
        let config = try component.config(UNet2DConditionConfig.self)
        let model: UNet2DConditionModel
        let file = try component.weights(variant: variant)
        let store = ParameterStore(initialization: .uninitialized, elementBudget: file.elementBudget(strict: strict))
        do {
            model = try UNet2DConditionModel(config: config, store: store)
        } catch let e as ModelComponentError {
            throw ModelComponentError(e.kind, component: e.component, file: component.configURL.path, e.message)
        }
        try checkBudget(store, config: component.configURL.path, weights: file)
        try model.loadWeights(file, strict: strict)
        return model
    }

    /// Loads the `unet` component of a model folder.
    public static func load(from folder: ModelFolder, variant: String? = nil, strict: Bool = true) throws -> UNet2DConditionModel {
        try load(from: folder.component("unet"), variant: variant, strict: strict)
    }

    /// Replaces the weights by those of `file` (diffusers names).
    @discardableResult
    public func loadWeights(_ file: SafetensorsFile, strict: Bool = true) throws -> StateDictReport {
        try ComponentWeights.load(file, into: store, component: "unet", strict: strict)
    }

    /// Every attention projection (`to_q`, `to_k`, `to_v`, `to_out.0` of each `attn1`/`attn2`) with its diffusers
    /// path, in registration order: the layers LoRA wraps (`store.addLoRA(to:rank:alpha:generator:)`).
    public func attentionProjections() -> [(path: String, linear: Linear)] {
        store.modules(ofType: Attention.self).flatMap { a in
            [a.toQ, a.toK, a.toV, a.toOut].map { (path: $0.path, linear: $0) }
        }
    }

    // MARK: Forward

    /// Throws a `ModelComponentError` naming the mismatch unless the inputs fit this model: `sampleShape`
    /// [B, inChannels, H, W], `timestepCount` 1 or B, `contextShape` [B, L, contextDim].
    public func validateInputs(sampleShape: [Int], timestepCount: Int, contextShape: [Int]) throws {
        func fail(_ m: String) -> ModelComponentError { ModelComponentError(.config, component: "unet", m) }
        guard sampleShape.count == 4, sampleShape[1] == inChannels, sampleShape.allSatisfy({ $0 > 0 }) else {
            throw fail("sample (latent) shape \(sampleShape) is not [B, \(inChannels), H, W] (in_channels \(inChannels))")
        }
        let b = sampleShape[0]
        guard timestepCount == 1 || timestepCount == b else {
            throw fail("\(timestepCount) timesteps for a batch of \(b): give one shared timestep or one per sample")
        }
        guard contextShape.count == 3, contextShape[0] == b, contextShape[2] == contextDim, contextShape[1] > 0 else {
            throw fail("encoder_hidden_states shape \(contextShape) is not [\(b), L, \(contextDim)] (batch of the sample, cross_attention_dim \(contextDim))")
        }
    }

    public func forward(_ sample: Variable, timesteps: [Float], context: Variable, taps: Set<String> = [],
                        computeOutput: Bool = true) -> DenoiserOutput {
        tensorRequire { try validateInputs(sampleShape: sample.shape, timestepCount: timesteps.count, contextShape: context.shape) }
        tensorRequire { try validateTaps(taps) }
        let b = sample.shape[0]
        let lastTap = tapNames.lastIndex { taps.contains($0) }
        let stopAfter = computeOutput ? Int.max : (lastTap ?? -1)
        var features: [String: Variable] = [:]
        var stage = 0
        /// Records the tap (if requested) and tells whether the pass can stop here.
        func reached(_ h: Variable) -> Bool {
            let name = tapNames[stage]
            if taps.contains(name) { features[name] = h }
            defer { stage += 1 }
            return stage >= stopAfter
        }
        if stopAfter < 0 { return DenoiserOutput(sample: nil, features: [:]) }

        var h = config.centerInputSample ? sample * 2 - 1 : sample
        let ts = timesteps.count == b ? timesteps : Array(repeating: timesteps[0], count: b)
        let tFeatures = sinusoidalTimestepEmbedding(ts, dim: timestepFeatures, flipSinToCos: config.flipSinToCos,
                                                    freqShift: Float(config.freqShift))
        var temb = timeEmbedding(Variable(tFeatures))
        if let addEmbedding { temb = temb + addEmbedding(context) }
        h = convIn(h)
        var skips: [Variable] = [h]
        for block in downBlocks {
            let (out, s) = block(h, temb: temb, context: context)
            h = out
            skips.append(contentsOf: s)
            if reached(h) { return DenoiserOutput(sample: nil, features: features) }
        }
        if let midBlock {
            h = midBlock(h, temb: temb, context: context)
            if reached(h) { return DenoiserOutput(sample: nil, features: features) }
        }
        let resize = sample.shape[2] % overallUpFactor != 0 || sample.shape[3] % overallUpFactor != 0
        for (i, block) in upBlocks.enumerated() {
            let k = block.resnets.count
            let own = Array(skips.suffix(k))
            skips.removeLast(k)
            let size = (resize && i < upBlocks.count - 1) ? (skips.last!.shape[2], skips.last!.shape[3]) : nil
            h = block(h, skips: own, temb: temb, context: context, upsampleSize: size)
            if reached(h) { return DenoiserOutput(sample: nil, features: features) }
        }
        if let convNormOut { h = convNormOut(h, silu: true) }
        return DenoiserOutput(sample: convOut(h), features: features)
    }

    /// The model output for `sample` at one shared timestep (`timestep`) under `encoderHiddenStates`.
    public func callAsFunction(_ sample: Variable, timestep: Float, encoderHiddenStates: Variable) -> Variable {
        predict(sample, timestep: timestep, context: encoderHiddenStates)
    }
}

/// The per-block numbers of a validated U-Net config.
struct UNetArchitecture {
    let heads: [Int]
    let layersPerBlock: [Int]
    let transformerLayers: [Int]
    let crossAttentionDim: Int
    let groups: Int
    /// Heads of the text-time attention pooling when `addition_embed_type` is "text", else nil.
    let textTimeHeads: Int?

    static let downTypes = ["CrossAttnDownBlock2D", "DownBlock2D"]
    static let upTypes = ["CrossAttnUpBlock2D", "UpBlock2D"]
    static let midTypes = ["UNetMidBlock2DCrossAttn"]

    init(_ c: UNet2DConditionConfig) throws {
        func fail(_ m: String) -> ModelComponentError { ModelComponentError(.config, component: "unet", "config: \(m)") }
        let n = c.blockOutChannels.count
        guard n > 0, c.blockOutChannels.allSatisfy({ $0 > 0 }) else { throw fail("block_out_channels \(c.blockOutChannels) must be non-empty and positive") }
        guard c.downBlockTypes.count == n else {
            throw fail("down_block_types has \(c.downBlockTypes.count) entries but block_out_channels has \(n)")
        }
        guard c.upBlockTypes.count == n else {
            throw fail("up_block_types has \(c.upBlockTypes.count) entries but down_block_types has \(n)")
        }
        for (i, t) in c.downBlockTypes.enumerated() where !Self.downTypes.contains(t) {
            throw fail("unknown block type '\(t)' in down_block_types[\(i)]; supported: \(Self.downTypes.joined(separator: ", "))")
        }
        for (i, t) in c.upBlockTypes.enumerated() where !Self.upTypes.contains(t) {
            throw fail("unknown block type '\(t)' in up_block_types[\(i)]; supported: \(Self.upTypes.joined(separator: ", "))")
        }
        if let m = c.midBlockType, !Self.midTypes.contains(m) {
            throw fail("unknown block type '\(m)' in mid_block_type; supported: \(Self.midTypes.joined(separator: ", ")) or null")
        }
        if c.numAttentionHeads != nil {
            // diffusers' UNet2DConditionModel raises the same way (the historical attention_head_dim naming).
            throw fail("num_attention_heads cannot be set for UNet2DConditionModel (diffusers reads attention_head_dim as the head count)")
        }
        func perBlock<T>(_ v: OneOrMany<T>, _ key: String) throws -> [T] {
            let a = v.perBlock(n)
            guard a.count == n else { throw fail("\(key) has \(a.count) entries for \(n) blocks") }
            return a
        }
        heads = try perBlock(c.attentionHeadDim, "attention_head_dim")
        layersPerBlock = try perBlock(c.layersPerBlock, "layers_per_block")
        transformerLayers = try perBlock(c.transformerLayersPerBlock, "transformer_layers_per_block")
        let cross = try perBlock(c.crossAttentionDim, "cross_attention_dim")
        guard Set(cross).count == 1, cross[0] > 0 else {
            throw fail("cross_attention_dim \(cross) must be one positive width shared by all blocks")
        }
        crossAttentionDim = cross[0]
        guard heads.allSatisfy({ $0 > 0 }), layersPerBlock.allSatisfy({ $0 > 0 }), transformerLayers.allSatisfy({ $0 > 0 }) else {
            throw fail("attention_head_dim \(heads), layers_per_block \(layersPerBlock) and transformer_layers_per_block \(transformerLayers) must be positive")
        }
        for (i, ch) in c.blockOutChannels.enumerated() where ch < heads[i] {
            throw fail("block \(i) has \(ch) channels, fewer than its \(heads[i]) attention heads")
        }
        guard let g = c.normNumGroups, g > 0 else { throw fail("norm_num_groups must be set (null is not supported)") }
        for ch in c.blockOutChannels where ch % g != 0 {
            throw fail("block_out_channels \(c.blockOutChannels) must be divisible by norm_num_groups \(g)")
        }
        groups = g
        guard c.onlyCrossAttention.perBlock(n).allSatisfy({ !$0 }) else { throw fail("only_cross_attention true is not supported") }
        guard !c.dualCrossAttention else { throw fail("dual_cross_attention true is not supported") }
        guard c.actFn == "silu" else { throw fail("act_fn '\(c.actFn)' is not supported (silu)") }
        guard c.timeEmbeddingType == "positional" else { throw fail("time_embedding_type '\(c.timeEmbeddingType)' is not supported (positional)") }
        guard c.resnetTimeScaleShift == "default" else { throw fail("resnet_time_scale_shift '\(c.resnetTimeScaleShift)' is not supported (default)") }
        guard c.classEmbedType == nil, c.numClassEmbeds == nil else { throw fail("class embeddings (class_embed_type, num_class_embeds) are not supported") }
        switch c.additionEmbedType {
        case nil: textTimeHeads = nil
        case "text"?:
            guard case .int(let h) = c.additionEmbedTypeNumHeads, h > 0, crossAttentionDim % h == 0 else {
                throw fail("addition_embed_type_num_heads \(c.additionEmbedTypeNumHeads) must be a positive integer dividing cross_attention_dim \(crossAttentionDim)")
            }
            textTimeHeads = h
        case let other?: throw fail("addition_embed_type '\(other)' is not supported (null or text)")
        }
        guard c.encoderHidDim == nil else { throw fail("encoder_hid_dim is not supported") }
        guard c.convInKernel % 2 == 1, c.convOutKernel % 2 == 1, c.convInKernel > 0, c.convOutKernel > 0 else {
            throw fail("conv_in_kernel \(c.convInKernel) and conv_out_kernel \(c.convOutKernel) must be odd")
        }
        guard c.downsamplePadding >= 0 else { throw fail("downsample_padding must be >= 0") }
        // Keys the typed config keeps as extras: accepted at their defaults only.
        let extrasAtDefault: [String: [JSONValue]] = [
            "time_cond_proj_dim": [.null], "encoder_hid_dim_type": [.null], "timestep_post_act": [.null],
            "time_embedding_act_fn": [.null], "attention_type": [.string("default")],
            "resnet_skip_time_act": [.bool(false)], "resnet_out_scale_factor": [.int(1), .double(1)],
            "cross_attention_norm": [.null], "class_embeddings_concat": [.bool(false)],
            "reverse_transformer_layers_per_block": [.null], "mid_block_only_cross_attention": [.null, .bool(false)],
            "addition_time_embed_dim": [.null],
        ]
        // addition_embed_type_num_heads is read above (it only matters for "text").
        for (key, allowed) in extrasAtDefault.sorted(by: { $0.key < $1.key }) {
            if let v = c.extras[key], !allowed.contains(v) { throw fail("\(key) = \(v) is not supported") }
        }
    }
}

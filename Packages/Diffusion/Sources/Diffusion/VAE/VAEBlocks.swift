import Autodiff
import NN
import Tensor

/// diffusers `DownEncoderBlock2D` (no time embedding): `resnets` and an optional `downsamplers.0` (padding 0).
public final class DownEncoderBlock2D: Module {
    public let path: String
    public let resnets: [ResnetBlock2D]
    public let downsampler: Downsample2D?

    init(_ vb: VarBuilder, numLayers: Int, inChannels: Int, outChannels: Int, addDownsample: Bool, groups: Int, eps: Float) {
        path = vb.path
        resnets = (0..<numLayers).map {
            ResnetBlock2D(vb.pp("resnets").pp($0), inChannels: $0 == 0 ? inChannels : outChannels, outChannels: outChannels,
                          tembChannels: nil, groups: groups, eps: eps)
        }
        downsampler = addDownsample
            ? Downsample2D(vb.pp("downsamplers").pp(0), channels: outChannels, outChannels: outChannels, padding: 0) : nil
        vb.register(self)
    }

    public func callAsFunction(_ x: Variable) -> Variable {
        var h = x
        for r in resnets { h = r(h, temb: nil) }
        return downsampler.map { $0(h) } ?? h
    }
}

/// diffusers `UpDecoderBlock2D` (no time embedding): `resnets` and an optional `upsamplers.0`.
public final class UpDecoderBlock2D: Module {
    public let path: String
    public let resnets: [ResnetBlock2D]
    public let upsampler: Upsample2D?

    init(_ vb: VarBuilder, numLayers: Int, inChannels: Int, outChannels: Int, addUpsample: Bool, groups: Int, eps: Float) {
        path = vb.path
        resnets = (0..<numLayers).map {
            ResnetBlock2D(vb.pp("resnets").pp($0), inChannels: $0 == 0 ? inChannels : outChannels, outChannels: outChannels,
                          tembChannels: nil, groups: groups, eps: eps)
        }
        upsampler = addUpsample ? Upsample2D(vb.pp("upsamplers").pp(0), channels: outChannels, outChannels: outChannels) : nil
        vb.register(self)
    }

    public func callAsFunction(_ x: Variable) -> Variable {
        var h = x
        for r in resnets { h = r(h, temb: nil) }
        return upsampler.map { $0(h) } ?? h
    }
}

/// The VAE's spatial self-attention (diffusers `Attention` with `group_norm`, `residual_connection`, biases on
/// q/k/v, one head of the full width): GroupNorm, attention over the H·W positions, `to_out.0`, plus the input.
public final class VAEAttention: Module {
    public let path: String
    public let channels: Int
    public let groupNorm: GroupNorm
    public let attention: Attention

    init(_ vb: VarBuilder, channels: Int, groups: Int, eps: Float) {
        path = vb.path
        self.channels = channels
        groupNorm = GroupNorm(vb.pp("group_norm"), groups: groups, channels: channels, eps: eps)
        attention = Attention(vb, queryDim: channels, heads: 1, headDim: channels, qkvBias: true, outBias: true)
        // `Attention` registers itself at this path; this wrapper is reachable through `attention`.
    }

    public func callAsFunction(_ x: Variable) -> Variable {
        let b = x.shape[0], c = x.shape[1], h = x.shape[2], w = x.shape[3]
        let tokens = groupNorm(x).reshaped([b, c, h * w]).permuted([0, 2, 1])
        let y = attention(tokens).permuted([0, 2, 1]).reshaped([b, c, h, w])
        return y + x
    }
}

/// diffusers `UNetMidBlock2D` as the VAE uses it (no time embedding): `resnets.0`, then `attentions.0` (when
/// `mid_block_add_attention`) and `resnets.1`.
public final class UNetMidBlock2D: Module {
    public let path: String
    public let resnets: [ResnetBlock2D]
    public let attention: VAEAttention?

    init(_ vb: VarBuilder, channels: Int, groups: Int, eps: Float, addAttention: Bool) {
        path = vb.path
        resnets = (0..<2).map {
            ResnetBlock2D(vb.pp("resnets").pp($0), inChannels: channels, outChannels: channels, tembChannels: nil,
                          groups: groups, eps: eps)
        }
        attention = addAttention ? VAEAttention(vb.pp("attentions").pp(0), channels: channels, groups: groups, eps: eps) : nil
        vb.register(self)
    }

    public func callAsFunction(_ x: Variable) -> Variable {
        var h = resnets[0](x, temb: nil)
        if let attention { h = attention(h) }
        return resnets[1](h, temb: nil)
    }
}

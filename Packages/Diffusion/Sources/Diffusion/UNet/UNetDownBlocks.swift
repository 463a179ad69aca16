import Autodiff
import NN
import Tensor

/// Settings shared by every block of one U-Net (diffusers passes them to each `get_*_block`).
struct UNetBlockSettings {
    var tembChannels: Int
    var groups: Int
    var eps: Float
    var dropout: Float
    var useLinearProjection: Bool
    var downsamplePadding: Int
}

/// The blocks of the U-Net's encoder path: each returns its output and the states it hands to the up path
/// (one per resnet, plus the downsampled output).
public protocol UNetDownBlock: Module {
    var resnets: [ResnetBlock2D] { get }
    func callAsFunction(_ x: Variable, temb: Variable, context: Variable) -> (output: Variable, skips: [Variable])
}

/// diffusers `DownBlock2D`: `resnets` and an optional `downsamplers.0`.
public final class DownBlock2D: UNetDownBlock {
    public let path: String
    public let resnets: [ResnetBlock2D]
    public let downsampler: Downsample2D?

    init(_ vb: VarBuilder, numLayers: Int, inChannels: Int, outChannels: Int, addDownsample: Bool, settings s: UNetBlockSettings) {
        path = vb.path
        resnets = (0..<numLayers).map {
            ResnetBlock2D(vb.pp("resnets").pp($0), inChannels: $0 == 0 ? inChannels : outChannels, outChannels: outChannels,
                          tembChannels: s.tembChannels, groups: s.groups, eps: s.eps, dropout: s.dropout)
        }
        downsampler = addDownsample
            ? Downsample2D(vb.pp("downsamplers").pp(0), channels: outChannels, outChannels: outChannels, padding: s.downsamplePadding)
            : nil
        vb.register(self)
    }

    public func callAsFunction(_ x: Variable, temb: Variable, context: Variable) -> (output: Variable, skips: [Variable]) {
        var h = x
        var skips: [Variable] = []
        for r in resnets {
            h = r(h, temb: temb)
            skips.append(h)
        }
        if let downsampler {
            h = downsampler(h)
            skips.append(h)
        }
        return (h, skips)
    }
}

/// diffusers `CrossAttnDownBlock2D`: `resnets[i]` each followed by `attentions[i]` (a `Transformer2DModel`), and
/// an optional `downsamplers.0`.
public final class CrossAttnDownBlock2D: UNetDownBlock {
    public let path: String
    public let resnets: [ResnetBlock2D]
    public let attentions: [Transformer2DModel]
    public let downsampler: Downsample2D?

    init(_ vb: VarBuilder, numLayers: Int, transformerLayers: Int, inChannels: Int, outChannels: Int, addDownsample: Bool,
         heads: Int, crossAttentionDim: Int, settings s: UNetBlockSettings) {
        path = vb.path
        var rs: [ResnetBlock2D] = []
        var ats: [Transformer2DModel] = []
        for i in 0..<numLayers {
            rs.append(ResnetBlock2D(vb.pp("resnets").pp(i), inChannels: i == 0 ? inChannels : outChannels,
                                    outChannels: outChannels, tembChannels: s.tembChannels, groups: s.groups, eps: s.eps,
                                    dropout: s.dropout))
            ats.append(Transformer2DModel(vb.pp("attentions").pp(i), heads: heads, headDim: outChannels / heads,
                                          inChannels: outChannels, numLayers: transformerLayers,
                                          crossAttentionDim: crossAttentionDim, normGroups: s.groups,
                                          useLinearProjection: s.useLinearProjection, dropout: s.dropout))
        }
        resnets = rs
        attentions = ats
        downsampler = addDownsample
            ? Downsample2D(vb.pp("downsamplers").pp(0), channels: outChannels, outChannels: outChannels, padding: s.downsamplePadding)
            : nil
        vb.register(self)
    }

    public func callAsFunction(_ x: Variable, temb: Variable, context: Variable) -> (output: Variable, skips: [Variable]) {
        var h = x
        var skips: [Variable] = []
        for (r, a) in zip(resnets, attentions) {
            h = a(r(h, temb: temb), context: context)
            skips.append(h)
        }
        if let downsampler {
            h = downsampler(h)
            skips.append(h)
        }
        return (h, skips)
    }
}

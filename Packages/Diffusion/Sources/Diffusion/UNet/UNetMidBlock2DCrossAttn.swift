import Autodiff
import NN
import Tensor

/// diffusers `UNetMidBlock2DCrossAttn`: `resnets.0`, then per layer `attentions[i]` and `resnets[i + 1]`; the
/// resnets divide by `mid_block_scale_factor`.
public final class UNetMidBlock2DCrossAttn: Module {
    public let path: String
    public let resnets: [ResnetBlock2D]
    public let attentions: [Transformer2DModel]

    init(_ vb: VarBuilder, channels: Int, numLayers: Int = 1, transformerLayers: Int, heads: Int, crossAttentionDim: Int,
         outputScaleFactor: Float, settings s: UNetBlockSettings) {
        path = vb.path
        func resnet(_ i: Int) -> ResnetBlock2D {
            ResnetBlock2D(vb.pp("resnets").pp(i), inChannels: channels, outChannels: channels, tembChannels: s.tembChannels,
                          groups: s.groups, eps: s.eps, dropout: s.dropout, outputScaleFactor: outputScaleFactor)
        }
        var rs = [resnet(0)]
        var ats: [Transformer2DModel] = []
        for i in 0..<numLayers {
            ats.append(Transformer2DModel(vb.pp("attentions").pp(i), heads: heads, headDim: channels / heads,
                                          inChannels: channels, numLayers: transformerLayers,
                                          crossAttentionDim: crossAttentionDim, normGroups: s.groups,
                                          useLinearProjection: s.useLinearProjection, dropout: s.dropout))
            rs.append(resnet(i + 1))
        }
        resnets = rs
        attentions = ats
        vb.register(self)
    }

    public func callAsFunction(_ x: Variable, temb: Variable, context: Variable) -> Variable {
        var h = resnets[0](x, temb: temb)
        for (a, r) in zip(attentions, resnets.dropFirst()) {
            h = r(a(h, context: context), temb: temb)
        }
        return h
    }
}

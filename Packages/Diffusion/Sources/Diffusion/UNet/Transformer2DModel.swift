import Autodiff
import NN
import Tensor

/// diffusers `Transformer2DModel` on continuous input, as the SD U-Net uses it: GroupNorm (eps 1e-6), `proj_in`
/// (1x1 conv, or a Linear on the flattened tokens with `use_linear_projection`), `transformer_blocks`,
/// `proj_out` likewise, plus the residual. Inner width = heads · headDim.
public final class Transformer2DModel: Module {
    public let path: String
    public let inChannels: Int
    public let innerDim: Int
    public let useLinearProjection: Bool
    public let norm: GroupNorm
    public let projInConv: Conv2d?
    public let projInLinear: Linear?
    public let transformerBlocks: [BasicTransformerBlock]
    public let projOutConv: Conv2d?
    public let projOutLinear: Linear?

    public init(_ vb: VarBuilder, heads: Int, headDim: Int, inChannels: Int, numLayers: Int, crossAttentionDim: Int,
                normGroups: Int, useLinearProjection: Bool, dropout: Float = 0) {
        path = vb.path
        self.inChannels = inChannels
        innerDim = heads * headDim
        self.useLinearProjection = useLinearProjection
        norm = GroupNorm(vb.pp("norm"), groups: normGroups, channels: inChannels, eps: 1e-6)
        if useLinearProjection {
            projInLinear = Linear(vb.pp("proj_in"), inFeatures: inChannels, outFeatures: innerDim)
            projInConv = nil
        } else {
            projInConv = Conv2d(vb.pp("proj_in"), inChannels: inChannels, outChannels: innerDim, kernelSize: 1)
            projInLinear = nil
        }
        let blocks = vb.pp("transformer_blocks")
        transformerBlocks = (0..<numLayers).map {
            BasicTransformerBlock(blocks.pp($0), dim: heads * headDim, heads: heads, headDim: headDim,
                                  crossAttentionDim: crossAttentionDim, dropout: dropout)
        }
        if useLinearProjection {
            projOutLinear = Linear(vb.pp("proj_out"), inFeatures: innerDim, outFeatures: inChannels)
            projOutConv = nil
        } else {
            projOutConv = Conv2d(vb.pp("proj_out"), inChannels: innerDim, outChannels: inChannels, kernelSize: 1)
            projOutLinear = nil
        }
        vb.register(self)
    }

    /// `x` [B, inChannels, H, W], `context` [B, M, crossAttentionDim] -> [B, inChannels, H, W].
    public func callAsFunction(_ x: Variable, context: Variable) -> Variable {
        tensorCheck(x.rank == 4 && x.shape[1] == inChannels, "Transformer2DModel(\(path))",
                    "input shape \(x.shape) is not [B, \(inChannels), H, W]")
        let b = x.shape[0], h = x.shape[2], w = x.shape[3]
        var t = norm(x)
        if let projInConv {
            t = projInConv(t).permuted([0, 2, 3, 1]).reshaped([b, h * w, innerDim])
        } else {
            t = projInLinear!(t.permuted([0, 2, 3, 1]).reshaped([b, h * w, inChannels]))
        }
        for block in transformerBlocks { t = block(t, context: context) }
        if let projOutConv {
            t = projOutConv(t.reshaped([b, h, w, innerDim]).permuted([0, 3, 1, 2]))
        } else {
            t = projOutLinear!(t).reshaped([b, h, w, inChannels]).permuted([0, 3, 1, 2])
        }
        return t + x
    }
}

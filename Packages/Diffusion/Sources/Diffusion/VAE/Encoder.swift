import Autodiff
import NN
import Tensor

/// diffusers VAE `Encoder` (double_z): `conv_in`, `down_blocks` (DownEncoderBlock2D, eps 1e-6, downsample padding
/// 0), `mid_block`, `conv_norm_out` + SiLU, `conv_out` to 2·latent channels (mean and log-variance).
public final class Encoder: Module {
    public let path: String
    public let inChannels: Int
    public let convIn: Conv2d
    public let downBlocks: [DownEncoderBlock2D]
    public let midBlock: UNetMidBlock2D
    public let convNormOut: GroupNorm
    public let convOut: Conv2d

    init(_ vb: VarBuilder, inChannels: Int, latentChannels: Int, blockOutChannels boc: [Int], layersPerBlock: Int,
         groups: Int, midBlockAddAttention: Bool) {
        path = vb.path
        self.inChannels = inChannels
        convIn = Conv2d(vb.pp("conv_in"), inChannels: inChannels, outChannels: boc[0], kernelSize: 3, padding: 1)
        var blocks: [DownEncoderBlock2D] = []
        var out = boc[0]
        for i in 0..<boc.count {
            let input = out
            out = boc[i]
            blocks.append(DownEncoderBlock2D(vb.pp("down_blocks").pp(i), numLayers: layersPerBlock, inChannels: input,
                                             outChannels: out, addDownsample: i < boc.count - 1, groups: groups, eps: 1e-6))
        }
        downBlocks = blocks
        midBlock = UNetMidBlock2D(vb.pp("mid_block"), channels: boc[boc.count - 1], groups: groups, eps: 1e-6,
                                  addAttention: midBlockAddAttention)
        convNormOut = GroupNorm(vb.pp("conv_norm_out"), groups: groups, channels: boc[boc.count - 1], eps: 1e-6)
        convOut = Conv2d(vb.pp("conv_out"), inChannels: boc[boc.count - 1], outChannels: 2 * latentChannels,
                         kernelSize: 3, padding: 1)
        vb.register(self)
    }

    /// `x` [B, inChannels, H, W] -> moments [B, 2·latent, H/f, W/f].
    public func callAsFunction(_ x: Variable) -> Variable {
        var h = convIn(x)
        for b in downBlocks { h = b(h) }
        h = midBlock(h)
        return convOut(convNormOut(h, silu: true))
    }
}

import Autodiff
import NN
import Tensor

/// diffusers VAE `Decoder` (norm_type "group"): `conv_in`, `mid_block`, `up_blocks` (UpDecoderBlock2D with
/// layers_per_block + 1 resnets, eps 1e-6), `conv_norm_out` + SiLU, `conv_out`.
public final class Decoder: Module {
    public let path: String
    public let latentChannels: Int
    public let convIn: Conv2d
    public let midBlock: UNetMidBlock2D
    public let upBlocks: [UpDecoderBlock2D]
    public let convNormOut: GroupNorm
    public let convOut: Conv2d

    init(_ vb: VarBuilder, latentChannels: Int, outChannels: Int, blockOutChannels boc: [Int], layersPerBlock: Int,
         groups: Int, midBlockAddAttention: Bool) {
        path = vb.path
        self.latentChannels = latentChannels
        let rboc = Array(boc.reversed())
        convIn = Conv2d(vb.pp("conv_in"), inChannels: latentChannels, outChannels: rboc[0], kernelSize: 3, padding: 1)
        midBlock = UNetMidBlock2D(vb.pp("mid_block"), channels: rboc[0], groups: groups, eps: 1e-6,
                                  addAttention: midBlockAddAttention)
        var blocks: [UpDecoderBlock2D] = []
        var out = rboc[0]
        for i in 0..<rboc.count {
            let prev = out
            out = rboc[i]
            blocks.append(UpDecoderBlock2D(vb.pp("up_blocks").pp(i), numLayers: layersPerBlock + 1, inChannels: prev,
                                           outChannels: out, addUpsample: i < rboc.count - 1, groups: groups, eps: 1e-6))
        }
        upBlocks = blocks
        convNormOut = GroupNorm(vb.pp("conv_norm_out"), groups: groups, channels: boc[0], eps: 1e-6)
        convOut = Conv2d(vb.pp("conv_out"), inChannels: boc[0], outChannels: outChannels, kernelSize: 3, padding: 1)
        vb.register(self)
    }

    /// `z` [B, latent, h, w] -> [B, outChannels, h·f, w·f].
    public func callAsFunction(_ z: Variable) -> Variable {
        var h = midBlock(convIn(z))
        for b in upBlocks { h = b(h) }
        return convOut(convNormOut(h, silu: true))
    }
}

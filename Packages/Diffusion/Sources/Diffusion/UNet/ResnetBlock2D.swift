import Autodiff
import NN
import Tensor

/// diffusers `ResnetBlock2D` (time_embedding_norm "default", SiLU): GroupNorm, SiLU, 3x3 conv, plus the projected
/// time embedding, GroupNorm, SiLU, (dropout), 3x3 conv; a 1x1 `conv_shortcut` when the channel count changes;
/// the sum divided by `outputScaleFactor`. `tembChannels` nil (the VAE) means no `time_emb_proj`.
public final class ResnetBlock2D: Module {
    public let path: String
    public let inChannels: Int
    public let outChannels: Int
    public let norm1: GroupNorm
    public let conv1: Conv2d
    public let timeEmbProj: Linear?
    public let norm2: GroupNorm
    public let dropout: Dropout
    public let conv2: Conv2d
    public let convShortcut: Conv2d?
    public let outputScaleFactor: Float

    public init(_ vb: VarBuilder, inChannels: Int, outChannels: Int, tembChannels: Int?, groups: Int, eps: Float,
                dropout: Float = 0, outputScaleFactor: Float = 1) {
        path = vb.path
        self.inChannels = inChannels
        self.outChannels = outChannels
        norm1 = GroupNorm(vb.pp("norm1"), groups: groups, channels: inChannels, eps: eps)
        conv1 = Conv2d(vb.pp("conv1"), inChannels: inChannels, outChannels: outChannels, kernelSize: 3, padding: 1)
        timeEmbProj = tembChannels.map { Linear(vb.pp("time_emb_proj"), inFeatures: $0, outFeatures: outChannels) }
        norm2 = GroupNorm(vb.pp("norm2"), groups: groups, channels: outChannels, eps: eps)
        self.dropout = Dropout(vb.pp("dropout"), p: dropout)
        conv2 = Conv2d(vb.pp("conv2"), inChannels: outChannels, outChannels: outChannels, kernelSize: 3, padding: 1)
        convShortcut = inChannels != outChannels
            ? Conv2d(vb.pp("conv_shortcut"), inChannels: inChannels, outChannels: outChannels, kernelSize: 1) : nil
        self.outputScaleFactor = outputScaleFactor
        vb.register(self)
    }

    /// `x` [B, inChannels, H, W], `temb` [B, tembChannels] (required when the block has a time projection).
    public func callAsFunction(_ x: Variable, temb: Variable?) -> Variable {
        tensorCheck(x.rank == 4 && x.shape[1] == inChannels, "ResnetBlock2D(\(path))",
                    "input shape \(x.shape) is not [B, \(inChannels), H, W]")
        var h = conv1(norm1(x, silu: true))
        if let timeEmbProj {
            guard let temb else {
                tensorCheck(false, "ResnetBlock2D(\(path))", "the block has time_emb_proj but no time embedding was given")
                return x
            }
            let t = timeEmbProj(temb.silu())
            h = h + t.reshaped([t.shape[0], t.shape[1], 1, 1])
        }
        h = conv2(dropout(norm2(h, silu: true)))
        let shortcut = convShortcut.map { $0(x) } ?? x
        let y = shortcut + h
        return outputScaleFactor == 1 ? y : y / outputScaleFactor
    }
}

import Autodiff
import NN
import Tensor

/// The blocks of the U-Net's decoder path: each resnet takes the running state concatenated (on channels) with
/// the last remaining skip state of the down path.
public protocol UNetUpBlock: Module {
    var resnets: [ResnetBlock2D] { get }
    /// `skips` holds exactly `resnets.count` states, consumed from the end.
    func callAsFunction(_ x: Variable, skips: [Variable], temb: Variable, context: Variable,
                        upsampleSize: (Int, Int)?) -> Variable
}

/// Resnet input channels of diffusers' up blocks: running state (prev_output_channel for the first resnet, then
/// out_channels) plus the skip (in_channels for the last resnet, else out_channels).
private func upResnetChannels(_ i: Int, numLayers: Int, inChannels: Int, outChannels: Int, prevOutputChannels: Int) -> Int {
    let skip = i == numLayers - 1 ? inChannels : outChannels
    let running = i == 0 ? prevOutputChannels : outChannels
    return running + skip
}

private func checkSkips(_ op: String, _ skips: [Variable], _ count: Int) {
    tensorCheck(skips.count == count, op, "expected \(count) skip states, got \(skips.count)")
}

/// diffusers `UpBlock2D`: `resnets` and an optional `upsamplers.0`.
public final class UpBlock2D: UNetUpBlock {
    public let path: String
    public let resnets: [ResnetBlock2D]
    public let upsampler: Upsample2D?

    init(_ vb: VarBuilder, numLayers: Int, inChannels: Int, outChannels: Int, prevOutputChannels: Int, addUpsample: Bool,
         settings s: UNetBlockSettings) {
        path = vb.path
        resnets = (0..<numLayers).map {
            ResnetBlock2D(vb.pp("resnets").pp($0),
                          inChannels: upResnetChannels($0, numLayers: numLayers, inChannels: inChannels,
                                                       outChannels: outChannels, prevOutputChannels: prevOutputChannels),
                          outChannels: outChannels, tembChannels: s.tembChannels, groups: s.groups, eps: s.eps,
                          dropout: s.dropout)
        }
        upsampler = addUpsample ? Upsample2D(vb.pp("upsamplers").pp(0), channels: outChannels, outChannels: outChannels) : nil
        vb.register(self)
    }

    public func callAsFunction(_ x: Variable, skips: [Variable], temb: Variable, context: Variable,
                               upsampleSize: (Int, Int)?) -> Variable {
        checkSkips("UpBlock2D(\(path))", skips, resnets.count)
        var h = x
        for (r, skip) in zip(resnets, skips.reversed()) {
            h = r(Variable.concat([h, skip], axis: 1), temb: temb)
        }
        if let upsampler { h = upsampler(h, outputSize: upsampleSize) }
        return h
    }
}

/// diffusers `CrossAttnUpBlock2D`: `resnets[i]` each followed by `attentions[i]`, and an optional `upsamplers.0`.
public final class CrossAttnUpBlock2D: UNetUpBlock {
    public let path: String
    public let resnets: [ResnetBlock2D]
    public let attentions: [Transformer2DModel]
    public let upsampler: Upsample2D?

    init(_ vb: VarBuilder, numLayers: Int, transformerLayers: Int, inChannels: Int, outChannels: Int, prevOutputChannels: Int,
         addUpsample: Bool, heads: Int, crossAttentionDim: Int, settings s: UNetBlockSettings) {
        path = vb.path
        var rs: [ResnetBlock2D] = []
        var ats: [Transformer2DModel] = []
        for i in 0..<numLayers {
            rs.append(ResnetBlock2D(vb.pp("resnets").pp(i),
                                    inChannels: upResnetChannels(i, numLayers: numLayers, inChannels: inChannels,
                                                                 outChannels: outChannels, prevOutputChannels: prevOutputChannels),
                                    outChannels: outChannels, tembChannels: s.tembChannels, groups: s.groups, eps: s.eps,
                                    dropout: s.dropout))
            ats.append(Transformer2DModel(vb.pp("attentions").pp(i), heads: heads, headDim: outChannels / heads,
                                          inChannels: outChannels, numLayers: transformerLayers,
                                          crossAttentionDim: crossAttentionDim, normGroups: s.groups,
                                          useLinearProjection: s.useLinearProjection, dropout: s.dropout))
        }
        resnets = rs
        attentions = ats
        upsampler = addUpsample ? Upsample2D(vb.pp("upsamplers").pp(0), channels: outChannels, outChannels: outChannels) : nil
        vb.register(self)
    }

    public func callAsFunction(_ x: Variable, skips: [Variable], temb: Variable, context: Variable,
                               upsampleSize: (Int, Int)?) -> Variable {
        checkSkips("CrossAttnUpBlock2D(\(path))", skips, resnets.count)
        var h = x
        for ((r, a), skip) in zip(zip(resnets, attentions), skips.reversed()) {
            h = a(r(Variable.concat([h, skip], axis: 1), temb: temb), context: context)
        }
        if let upsampler { h = upsampler(h, outputSize: upsampleSize) }
        return h
    }
}

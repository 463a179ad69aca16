import Autodiff
import NN
import Tensor

/// diffusers `Downsample2D` with a convolution (`use_conv=True`, name "op"): a 3x3 conv `conv` of stride 2 with
/// `padding`; padding 0 (the VAE encoder) first pads one zero row and column at the bottom and right.
public final class Downsample2D: Module {
    public let path: String
    public let channels: Int
    public let padding: Int
    public let conv: Conv2d

    public init(_ vb: VarBuilder, channels: Int, outChannels: Int? = nil, padding: Int = 1) {
        path = vb.path
        self.channels = channels
        self.padding = padding
        conv = Conv2d(vb.pp("conv"), inChannels: channels, outChannels: outChannels ?? channels, kernelSize: 3,
                      stride: 2, padding: padding)
        vb.register(self)
    }

    public func callAsFunction(_ x: Variable) -> Variable {
        tensorCheck(x.rank == 4 && x.shape[1] == channels, "Downsample2D(\(path))",
                    "input shape \(x.shape) is not [B, \(channels), H, W]")
        return conv(padding == 0 ? x.paddedBottomRight() : x)
    }
}

extension Variable {
    /// `F.pad(x, (0, 1, 0, 1))` on [B, C, H, W]: one zero row below and one zero column to the right.
    func paddedBottomRight() -> Variable {
        let h = shape[2], w = shape[3]
        let out = value.padded([(0, 0), (0, 0), (0, 1), (0, 1)])
        return Variable.record("padBottomRight", out, inputs: [self]) { g, _ in
            [g.sliced(axis: 2, start: 0, end: h).sliced(axis: 3, start: 0, end: w).contiguous()]
        }
    }

    /// Nearest-neighbour resize of [B, C, H, W] to `size` (`F.interpolate(mode="nearest", size=...)`: source index
    /// floor(dst · in / out)); exact 2x uses the dedicated kernel.
    func resizedNearest(to size: (Int, Int)) -> Variable {
        let h = shape[2], w = shape[3]
        if size.0 == 2 * h && size.1 == 2 * w { return upsampleNearest2x() }
        func indices(_ n: Int, _ m: Int) -> [Int] {
            let scale = Float(n) / Float(m)
            return (0..<m).map { Swift.min(Int((Float($0) * scale).rounded(.down)), n - 1) }
        }
        return indexSelect(axis: 2, indices: indices(h, size.0)).indexSelect(axis: 3, indices: indices(w, size.1))
    }
}

import Autodiff
import NN
import Tensor

/// diffusers `Upsample2D` with a convolution: nearest-neighbour 2x (or to an explicit size, which the U-Net passes
/// when the sample size is not a multiple of its overall up factor), then a 3x3 conv `conv`.
public final class Upsample2D: Module {
    public let path: String
    public let channels: Int
    public let conv: Conv2d

    public init(_ vb: VarBuilder, channels: Int, outChannels: Int? = nil) {
        path = vb.path
        self.channels = channels
        conv = Conv2d(vb.pp("conv"), inChannels: channels, outChannels: outChannels ?? channels, kernelSize: 3, padding: 1)
        vb.register(self)
    }

    public func callAsFunction(_ x: Variable, outputSize: (Int, Int)? = nil) -> Variable {
        tensorCheck(x.rank == 4 && x.shape[1] == channels, "Upsample2D(\(path))",
                    "input shape \(x.shape) is not [B, \(channels), H, W]")
        let size = outputSize ?? (2 * x.shape[2], 2 * x.shape[3])
        return conv(x.resizedNearest(to: size))
    }
}

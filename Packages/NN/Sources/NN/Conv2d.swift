import Autodiff
import Tensor

/// `nn.Conv2d` with zero padding: parameters `<path>.weight` [out, in/groups, kH, kW] and `<path>.bias` [out],
/// initialised as PyTorch does (kaiming-uniform a = √5 and bias ±1/√fanIn with fanIn = in/groups · kH · kW).
public final class Conv2d: Module {
    public let path: String
    public let inChannels: Int
    public let outChannels: Int
    public let kernelSize: (Int, Int)
    public let stride: (Int, Int)
    public let padding: (Int, Int)
    public let dilation: (Int, Int)
    public let groups: Int
    public let weight: Variable
    public let bias: Variable?

    public init(_ vb: VarBuilder, inChannels: Int, outChannels: Int, kernelSize: (Int, Int), stride: (Int, Int) = (1, 1),
                padding: (Int, Int) = (0, 0), dilation: (Int, Int) = (1, 1), groups: Int = 1, bias: Bool = true) {
        let op = "Conv2d(\(vb.path))"
        tensorCheck(inChannels > 0 && outChannels > 0 && groups > 0, op,
                    "channels and groups must be positive, got in \(inChannels), out \(outChannels), groups \(groups)")
        tensorCheck(inChannels % groups == 0 && outChannels % groups == 0, op,
                    "in \(inChannels) and out \(outChannels) channels must be divisible by groups \(groups)")
        tensorCheck(kernelSize.0 > 0 && kernelSize.1 > 0 && stride.0 > 0 && stride.1 > 0 && padding.0 >= 0 && padding.1 >= 0,
                    op, "invalid kernel \(kernelSize), stride \(stride) or padding \(padding)")
        path = vb.path
        self.inChannels = inChannels
        self.outChannels = outChannels
        self.kernelSize = kernelSize
        self.stride = stride
        self.padding = padding
        self.dilation = dilation
        self.groups = groups
        let fanIn = inChannels / groups * kernelSize.0 * kernelSize.1
        weight = vb.parameter("weight", shape: [outChannels, inChannels / groups, kernelSize.0, kernelSize.1],
                              initializer: .defaultWeight(fanIn: fanIn))
        self.bias = bias ? vb.parameter("bias", shape: [outChannels], initializer: .defaultBias(fanIn: fanIn)) : nil
        vb.register(self)
    }

    /// Square kernel, stride and padding.
    public convenience init(_ vb: VarBuilder, inChannels: Int, outChannels: Int, kernelSize: Int, stride: Int = 1,
                            padding: Int = 0, dilation: Int = 1, groups: Int = 1, bias: Bool = true) {
        self.init(vb, inChannels: inChannels, outChannels: outChannels, kernelSize: (kernelSize, kernelSize),
                  stride: (stride, stride), padding: (padding, padding), dilation: (dilation, dilation),
                  groups: groups, bias: bias)
    }

    /// Applies the convolution to `x` [N, inChannels, H, W].
    public func callAsFunction(_ x: Variable) -> Variable {
        tensorCheck(x.rank == 4 && x.shape[1] == inChannels, "Conv2d(\(path))",
                    "input shape \(x.shape) is not [N, \(inChannels), H, W]")
        return Variable.conv2d(x, weight: weight, bias: bias, stride: stride, padding: padding,
                               dilation: dilation, groups: groups)
    }
}

import Autodiff
import Tensor

/// `nn.GroupNorm`: normalises `[N, C, ...]` over groups of channels; affine `<path>.weight` / `<path>.bias` [C]
/// start at ones / zeros.
public final class GroupNorm: Module {
    public let path: String
    public let groups: Int
    public let channels: Int
    public let eps: Float
    public let weight: Variable?
    public let bias: Variable?

    public init(_ vb: VarBuilder, groups: Int, channels: Int, eps: Float = 1e-5, affine: Bool = true) {
        tensorCheck(groups > 0 && channels % groups == 0, "GroupNorm(\(vb.path))",
                    "channels \(channels) must be divisible by groups \(groups)")
        path = vb.path
        self.groups = groups
        self.channels = channels
        self.eps = eps
        weight = affine ? vb.parameter("weight", shape: [channels], initializer: .ones) : nil
        bias = affine ? vb.parameter("bias", shape: [channels], initializer: .zeros) : nil
        vb.register(self)
    }

    /// The normalised `x`; with `silu`, `silu` of it in the same pass (`norm(x, silu: true)` = `norm(x).silu()`).
    public func callAsFunction(_ x: Variable, silu: Bool = false) -> Variable {
        tensorCheck(x.rank >= 2 && x.shape[1] == channels, "GroupNorm(\(path))",
                    "input shape \(x.shape) does not have \(channels) channels on axis 1")
        return Variable.groupNorm(x, groups: groups, weight: weight, bias: bias, eps: eps, silu: silu)
    }
}

/// `nn.LayerNorm` over the last axis: `<path>.weight` / `<path>.bias` [dim] start at ones / zeros.
public final class LayerNorm: Module {
    public let path: String
    public let dim: Int
    public let eps: Float
    public let weight: Variable?
    public let bias: Variable?

    public init(_ vb: VarBuilder, dim: Int, eps: Float = 1e-5, elementwiseAffine: Bool = true, bias: Bool = true) {
        tensorCheck(dim > 0, "LayerNorm(\(vb.path))", "dimension must be positive, got \(dim)")
        path = vb.path
        self.dim = dim
        self.eps = eps
        weight = elementwiseAffine ? vb.parameter("weight", shape: [dim], initializer: .ones) : nil
        self.bias = elementwiseAffine && bias ? vb.parameter("bias", shape: [dim], initializer: .zeros) : nil
        vb.register(self)
    }

    public func callAsFunction(_ x: Variable) -> Variable {
        tensorCheck(x.shape.last == dim, "LayerNorm(\(path))", "input shape \(x.shape) does not end in \(dim)")
        return Variable.layerNorm(x, weight: weight, bias: bias, eps: eps)
    }
}

/// A seeded source of random tensors, so that code can be generic over the generator.
///
/// `TorchGenerator` is the implementation that reproduces PyTorch; a test double or another stream only needs
/// these three methods and `next()`. There is no global generator: every random tensor is drawn from an
/// explicit `inout` source.
public protocol TensorRandomSource: RandomNumberGenerator {
    /// Standard normal float32 samples of the given shape.
    mutating func randn(_ shape: [Int]) -> Tensor
    /// Float32 uniforms in [0, 1) of the given shape.
    mutating func rand(_ shape: [Int]) -> Tensor
    /// Normal float32 samples with the given mean and standard deviation.
    mutating func normal(mean: Double, std: Double, shape: [Int]) -> Tensor
}

extension Tensor {
    /// Standard normal samples (`torch.randn(shape, generator=g)` when `G` is `TorchGenerator`).
    public static func randn<G: TensorRandomSource>(_ shape: [Int], generator: inout G) -> Tensor {
        generator.randn(shape)
    }

    /// Uniforms in [0, 1) (`torch.rand(shape, generator=g)` when `G` is `TorchGenerator`).
    public static func rand<G: TensorRandomSource>(_ shape: [Int], generator: inout G) -> Tensor {
        generator.rand(shape)
    }

    /// Normal samples with the given mean and standard deviation (`torch.normal(mean, std, size=shape)`).
    public static func normal<G: TensorRandomSource>(mean: Double, std: Double, shape: [Int],
                                                     generator: inout G) -> Tensor {
        generator.normal(mean: mean, std: std, shape: shape)
    }

    /// Standard normal samples shaped like `other` (`torch.randn_like`).
    public static func randn<G: TensorRandomSource>(like other: Tensor, generator: inout G) -> Tensor {
        generator.randn(other.shape)
    }
}

import Autodiff
import Tensor

/// diffusers `DiagonalGaussianDistribution`: the VAE encoder's latent distribution, from `moments`
/// [B, 2·C, H, W] split on channels into mean and log-variance (clamped to [-30, 20]).
public struct DiagonalGaussianDistribution {
    public let mean: Variable
    /// log σ², clamped to [-30, 20] as diffusers does.
    public let logvar: Variable
    /// True for a point mass at `mean` (σ = 0), e.g. the identity autoencoder.
    public let deterministic: Bool

    /// Splits `moments` [B, 2·C, H, W] into mean and log-variance.
    public init(moments: Variable) {
        tensorCheck(moments.rank == 4 && moments.shape[1] % 2 == 0, "DiagonalGaussianDistribution",
                    "moments shape \(moments.shape) is not [B, 2·C, H, W]")
        let halves = moments.chunk(2, axis: 1)
        mean = halves[0]
        logvar = halves[1].clamped(min: -30, max: 20)
        deterministic = false
    }

    /// A point mass at `mean` (σ = 0).
    public init(pointMass mean: Variable) {
        self.mean = mean
        logvar = Variable(Tensor(shape: mean.shape, repeating: -Float.infinity))
        deterministic = true
    }

    /// σ = exp(logvar / 2) (zero when deterministic).
    public var std: Variable { deterministic ? Variable(Tensor.zeros(mean.shape)) : (logvar * 0.5).exp() }
    /// σ² (zero when deterministic).
    public var variance: Variable { deterministic ? Variable(Tensor.zeros(mean.shape)) : logvar.exp() }

    /// mean + σ · ε with ε = `generator.randn(mean.shape)`: the same draw as diffusers' `sample(generator)` with a
    /// CPU `torch.Generator` in the same state. A point mass returns the mean and draws nothing.
    public func sample<G: TensorRandomSource>(generator: inout G) -> Variable {
        if deterministic { return mean }
        let eps = Tensor.randn(mean.shape, generator: &generator)
        return mean + std * eps
    }

    /// The mode (= mean).
    public func mode() -> Variable { mean }

    /// KL divergence to the standard normal, summed over C, H, W: [B] (diffusers' `kl()`).
    public func kl() -> Variable {
        if deterministic { return Variable(Tensor.zeros([mean.shape[0]])) }
        return ((mean.square() + variance - 1 - logvar) * 0.5).sum(axes: [1, 2, 3])
    }
}

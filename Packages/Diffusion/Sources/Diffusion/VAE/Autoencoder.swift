import Autodiff
import Tensor

/// What the pipeline needs from a first-stage model: images in [-1, 1] <-> latents. `AutoencoderKL` for latent
/// diffusion, `IdentityAutoencoder` for pixel-space models (a folder without `vae/`).
public protocol Autoencoder: AnyObject {
    /// Channels of the images (3 for RGB).
    var imageChannels: Int { get }
    /// Channels of the latents the denoiser works on.
    var latentChannels: Int { get }
    /// Image size / latent size (8 for SD's VAE, 1 for the identity).
    var downscaleFactor: Int { get }
    /// `scaling_factor`: latents seen by the denoiser = (sample − shift) · scalingFactor.
    var scalingFactor: Float { get }
    /// `shift_factor` (0 when the config has none).
    var shiftFactor: Float { get }
    /// The latent distribution of `images` [B, imageChannels, H, W] in [-1, 1] (unscaled latent space).
    func encode(_ images: Variable) -> DiagonalGaussianDistribution
    /// Images [B, imageChannels, H, W] (about [-1, 1]) from unscaled latents [B, latentChannels, h, w].
    func decode(_ latents: Variable) -> Variable
}

extension Autoencoder {
    /// Denoiser-space latents of `images`: a draw from the latent distribution, shifted and scaled
    /// ((sample − shift) · scalingFactor), as diffusers' training scripts and img2img do.
    public func latents<G: TensorRandomSource>(ofImages images: Variable, generator: inout G) -> Variable {
        scaleLatents(encode(images).sample(generator: &generator))
    }

    /// Images from denoiser-space latents: decode(latents / scalingFactor + shift), as the SD pipeline does.
    public func images(fromLatents latents: Variable) -> Variable {
        decode(unscaleLatents(latents))
    }

    /// (z − shift) · scalingFactor.
    public func scaleLatents(_ z: Variable) -> Variable {
        let shifted = shiftFactor == 0 ? z : z - shiftFactor
        return scalingFactor == 1 ? shifted : shifted * scalingFactor
    }

    /// z / scalingFactor + shift.
    public func unscaleLatents(_ z: Variable) -> Variable {
        let scaled = scalingFactor == 1 ? z : z / scalingFactor
        return shiftFactor == 0 ? scaled : scaled + shiftFactor
    }
}

/// The autoencoder of a pixel-space model: latents are the images themselves (factor 1, scaling 1), encoding is a
/// point mass.
public final class IdentityAutoencoder: Autoencoder {
    public let imageChannels: Int
    public var latentChannels: Int { imageChannels }
    public let downscaleFactor = 1
    public let scalingFactor: Float = 1
    public let shiftFactor: Float = 0

    public init(channels: Int = 3) {
        tensorCheck(channels > 0, "IdentityAutoencoder", "channels must be positive, got \(channels)")
        imageChannels = channels
    }

    public func encode(_ images: Variable) -> DiagonalGaussianDistribution {
        tensorCheck(images.rank == 4 && images.shape[1] == imageChannels, "IdentityAutoencoder.encode",
                    "image shape \(images.shape) is not [B, \(imageChannels), H, W]")
        return DiagonalGaussianDistribution(pointMass: images)
    }

    public func decode(_ latents: Variable) -> Variable {
        tensorCheck(latents.rank == 4 && latents.shape[1] == imageChannels, "IdentityAutoencoder.decode",
                    "latent shape \(latents.shape) is not [B, \(imageChannels), H, W]")
        return latents
    }
}

import Autodiff
import Diffusion
import Tensor

/// A minimal `AlignmentScorer`: cosine between a linear map of the spatially mean-pooled U-Net tap and the pooled
/// text embedding, s = cos(W * mean_hw(F_tap(z, t, y)), e_y). The shape of DPT's ITM score without the adapter's
/// transformer (one "query"); for tests, benchmarks and as a probe baseline. `weight` [D_text, C_tap] is frozen.
public final class PooledCosineScorer: AlignmentScorer {
    public let denoiser: any Denoiser
    public let tap: String
    public let weight: Variable

    public init(denoiser: any Denoiser, tap: String, weight: Tensor) throws {
        try denoiser.validateTaps([tap])
        guard weight.rank == 2 else {
            throw SelfCorrectionError("scorer weight", "weight of shape \(weight.shape) is not [D_text, C_tap]")
        }
        self.denoiser = denoiser
        self.tap = tap
        self.weight = Variable(weight)
    }

    public func score(latents: Variable, timestep: Float, text: AlignmentText) -> Variable {
        let op = "PooledCosineScorer.score"
        guard let pooled = text.pooled else {
            tensorCheck(false, op, "needs pooled text embeddings (AlignmentText.pooled)")
            fatalError()
        }
        let features = denoiser.features(latents, timesteps: [timestep], context: Variable(text.context), taps: [tap])[tap]!
        tensorCheck(features.shape[1] == weight.shape[1], op,
                    "tap \(tap) has \(features.shape[1]) channels, the weight \(weight.shape) expects \(weight.shape[1])")
        tensorCheck(pooled.shape == [latents.shape[0], weight.shape[0]], op,
                    "pooled text embeddings of shape \(pooled.shape) are not [\(latents.shape[0]), \(weight.shape[0])]")
        let m = Variable.linear(features.mean(axes: [2, 3]), weight: weight)           // [B, D]
        let e = Variable(pooled)
        let dot = (m * e).sum(axes: [1])
        let mNorm = ((m * m).sum(axes: [1]) + 1e-12).sqrt()
        let eNorm = ((e * e).sum(axes: [1]) + 1e-12).sqrt()
        return dot / (mNorm * eNorm)
    }
}

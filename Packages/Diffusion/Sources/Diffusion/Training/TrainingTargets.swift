import Tensor

/// Training helpers for the denoising objective (diffusers' `train_text_to_image.py` recipe): sample timesteps,
/// noise the clean latents, build the target for the model's prediction type, and weight the loss (min-SNR).
public enum DiffusionTraining {
    /// Timesteps uniform in `0..<numTrainTimesteps`, one per batch item: `torch.randint(0, T, (count,),
    /// generator=g)` draw for draw.
    public static func sampleTimesteps(count: Int, numTrainTimesteps: Int, generator: inout TorchGenerator) -> [Int] {
        tensorCheck(numTrainTimesteps >= 1, "DiffusionTraining.sampleTimesteps",
                    "numTrainTimesteps must be positive, got \(numTrainTimesteps)")
        return generator.randint(low: 0, high: numTrainTimesteps, count: count)
    }

    /// x_t = sqrt(alpha_bar_t) * x0 + sqrt(1 - alpha_bar_t) * noise per batch item.
    public static func addNoise(original: Tensor, noise: Tensor, timesteps: [Int], schedule: NoiseSchedule) -> Tensor {
        schedule.addNoise(original: original, noise: noise, timesteps: timesteps)
    }

    /// The regression target of a prediction type: the noise (`epsilon`), the velocity
    /// sqrt(alpha_bar) * noise - sqrt(1 - alpha_bar) * x0 (`v_prediction`), or x0 (`sample`).
    public static func target(predictionType: PredictionType, original: Tensor, noise: Tensor, timesteps: [Int],
                              schedule: NoiseSchedule) -> Tensor {
        switch predictionType {
        case .epsilon: return noise
        case .vPrediction: return schedule.velocity(sample: original, noise: noise, timesteps: timesteps)
        case .sample: return original
        }
    }
}

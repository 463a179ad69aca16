import Autodiff
import Tensor

extension DiffusionTraining {
    /// Signal-to-noise ratio alpha_bar / (1 - alpha_bar) per timestep, as diffusers' `compute_snr`
    /// ((sqrt(alpha_bar) / sqrt(1 - alpha_bar))^2 in float32).
    public static func snr(timesteps: [Int], schedule: NoiseSchedule) -> [Float] {
        schedule.lookup(timesteps, op: "DiffusionTraining.snr").map { ab in
            let r = ab.squareRoot() / (1 - ab).squareRoot()
            return r * r
        }
    }

    /// Min-SNR-gamma loss weights (Hang et al. 2023) as in diffusers' training scripts: min(SNR, gamma) divided by
    /// SNR for `epsilon`, by SNR + 1 for `v_prediction`, and left as is for `sample`.
    public static func minSNRWeights(timesteps: [Int], schedule: NoiseSchedule, gamma: Float,
                                     predictionType: PredictionType) -> [Float] {
        tensorCheck(gamma > 0, "DiffusionTraining.minSNRWeights", "gamma must be positive, got \(gamma)")
        return snr(timesteps: timesteps, schedule: schedule).map { s in
            let w = Swift.min(s, gamma)
            switch predictionType {
            case .epsilon: return w / s
            case .vPrediction: return w / (s + 1)
            case .sample: return w
            }
        }
    }

    /// The denoising loss: mean squared error, or with per-item `weights` the mean over the batch of
    /// weight_b * mean((prediction_b - target_b)^2).
    public static func loss(prediction: Variable, target: Tensor, weights: [Float]? = nil) -> Variable {
        let op = "DiffusionTraining.loss"
        tensorCheck(prediction.shape == target.shape, op,
                    "prediction \(prediction.shape) and target \(target.shape) differ")
        guard let weights else { return Variable.mseLoss(prediction, target) }
        let shape = prediction.shape
        tensorCheck(shape.count >= 1 && weights.count == shape[0], op,
                    "\(weights.count) weights for a batch of \(shape.first ?? 0)")
        let perItem: Variable
        if shape.count == 1 {
            perItem = (prediction - target).square()
        } else {
            perItem = (prediction - target).square().mean(axes: Array(1..<shape.count))
        }
        return (perItem * Tensor(weights)).mean()
    }
}

import Foundation
import Tensor

/// diffusers' `beta_schedule`.
public enum BetaScheduleKind: String, Sendable, CaseIterable {
    /// Betas evenly spaced from `beta_start` to `beta_end` (DDPM).
    case linear
    /// Square roots evenly spaced, then squared (Stable Diffusion: 0.00085 ... 0.012).
    case scaledLinear = "scaled_linear"
    /// The cosine schedule of Nichol & Dhariwal, betas capped at 0.999.
    case squaredcosCapV2 = "squaredcos_cap_v2"
}

/// The training noise schedule, computed with the float32 arithmetic diffusers uses so that alpha_bar matches
/// to the last bit.
public enum BetaSchedule {
    /// The betas of a configuration (`trained_betas` when given), rescaled to zero terminal SNR when asked.
    public static func betas(for config: SchedulerConfiguration) -> [Float] {
        var betas: [Float]
        if let trained = config.trainedBetas {
            betas = trained.map { Float($0) }
        } else {
            switch config.betaSchedule {
            case .linear:
                betas = torchLinspace(config.betaStart, config.betaEnd, count: config.numTrainTimesteps)
            case .scaledLinear:
                betas = torchLinspace(config.betaStart.squareRoot(), config.betaEnd.squareRoot(),
                                      count: config.numTrainTimesteps).map { $0 * $0 }
            case .squaredcosCapV2:
                betas = squaredCosCapV2(count: config.numTrainTimesteps)
            }
        }
        if config.rescaleBetasZeroSNR { betas = rescaleZeroTerminalSNR(betas) }
        return betas
    }

    /// `torch.linspace(start, end, count, dtype=torch.float32)` bit for bit: float32 endpoints and step, the first
    /// half counted up from `start` and the second half down from `end`, each value one fused multiply-add (the
    /// vectorised CPU kernel's `fmadd`).
    public static func torchLinspace(_ start: Double, _ end: Double, count: Int) -> [Float] {
        precondition(count >= 0, "torchLinspace: negative count \(count)")
        if count == 0 { return [] }
        let s = Float(start), e = Float(end)
        if count == 1 { return [s] }
        let step = (e - s) / Float(count - 1)
        let halfway = count / 2
        var out = [Float](repeating: 0, count: count)
        for i in 0..<count {
            out[i] = i < halfway ? s.addingProduct(step, Float(i)) : e.addingProduct(-step, Float(count - i - 1))
        }
        return out
    }

    /// diffusers' `betas_for_alpha_bar` with the cosine transform: beta_i = min(1 - abar((i+1)/T) / abar(i/T),
    /// maxBeta) in double precision, stored as float32.
    public static func squaredCosCapV2(count: Int, maxBeta: Double = 0.999) -> [Float] {
        func alphaBar(_ t: Double) -> Double {
            let c = cos((t + 0.008) / 1.008 * Double.pi / 2)
            return c * c
        }
        return (0..<count).map { i in
            let t1 = Double(i) / Double(count), t2 = Double(i + 1) / Double(count)
            return Float(Swift.min(1 - alphaBar(t2) / alphaBar(t1), maxBeta))
        }
    }

    /// `torch.cumprod(1 - betas)` on float32: the running product is kept in double (torch's CPU accumulator type)
    /// and each value rounded to float32.
    public static func alphasCumprod(betas: [Float]) -> [Float] {
        var acc = 1.0
        return betas.map { b in
            acc *= Double(1 - b)
            return Float(acc)
        }
    }

    /// diffusers' `rescale_zero_terminal_snr` (Lin et al. 2023, algorithm 1): shifts and scales sqrt(alpha_bar) so
    /// that the last timestep has zero signal, keeping the first one.
    public static func rescaleZeroTerminalSNR(_ betas: [Float]) -> [Float] {
        let cumprod = alphasCumprod(betas: betas)
        var sqrtBar = cumprod.map { $0.squareRoot() }
        guard let first = sqrtBar.first, let last = sqrtBar.last else { return betas }
        let scale = first / (first - last)
        for i in sqrtBar.indices { sqrtBar[i] = (sqrtBar[i] - last) * scale }
        let bar = sqrtBar.map { $0 * $0 }
        var out = [Float](repeating: 0, count: bar.count)
        out[0] = 1 - bar[0]
        for i in 1..<bar.count { out[i] = 1 - bar[i] / bar[i - 1] }
        return out
    }
}

/// A training noise schedule: betas and alpha_bar (`alphas_cumprod`), with the forward process on it.
public struct NoiseSchedule: Sendable, Equatable {
    public let betas: [Float]
    public let alphasCumprod: [Float]

    /// The schedule of a configuration (its betas; `alphas_cumprod` as diffusers computes it).
    public init(config: SchedulerConfiguration) {
        self.init(betas: BetaSchedule.betas(for: config))
    }

    public init(betas: [Float]) {
        self.betas = betas
        self.alphasCumprod = BetaSchedule.alphasCumprod(betas: betas)
    }

    public var numTrainTimesteps: Int { betas.count }

    /// sqrt(alpha_bar_t) * x0 + sqrt(1 - alpha_bar_t) * noise per batch item (diffusers' `add_noise`).
    public func addNoise(original: Tensor, noise: Tensor, timesteps: [Int]) -> Tensor {
        let ab = lookup(timesteps, op: "addNoise")
        return SchedulerKernels.batchCombine(original, ab.map { $0.squareRoot() }, noise,
                                             ab.map { (1 - $0).squareRoot() }, op: "addNoise")
    }

    /// v = sqrt(alpha_bar_t) * noise - sqrt(1 - alpha_bar_t) * x0 per batch item (diffusers' `get_velocity`).
    public func velocity(sample: Tensor, noise: Tensor, timesteps: [Int]) -> Tensor {
        let ab = lookup(timesteps, op: "velocity")
        return SchedulerKernels.batchCombine(noise, ab.map { $0.squareRoot() }, sample,
                                             ab.map { -(1 - $0).squareRoot() }, op: "velocity")
    }

    /// The clean-sample estimate x0 from a model output at `timesteps` (one per batch item or one for all), in the
    /// alpha-space of DDPM/DDIM/PNDM/DPM-Solver samples: (x - sqrt(1 - abar) eps) / sqrt(abar) for epsilon,
    /// sqrt(abar) x - sqrt(1 - abar) v for v-prediction, the output itself for sample prediction.
    public func predictOriginalSample(modelOutput: Tensor, sample: Tensor, timesteps: [Int],
                                      predictionType: PredictionType) -> Tensor {
        let op = "NoiseSchedule.predictOriginalSample"
        let ab = lookup(timesteps, op: op)
        switch predictionType {
        case .epsilon:
            return SchedulerKernels.batchCombine(sample, ab.map { 1 / $0.squareRoot() }, modelOutput,
                                                 ab.map { -(1 - $0).squareRoot() / $0.squareRoot() }, op: op)
        case .vPrediction:
            return SchedulerKernels.batchCombine(sample, ab.map { $0.squareRoot() }, modelOutput,
                                                 ab.map { -(1 - $0).squareRoot() }, op: op)
        case .sample:
            tensorCheck(modelOutput.shape == sample.shape, op,
                        "model output \(modelOutput.shape) does not match the sample \(sample.shape)")
            return modelOutput
        }
    }

    /// The noise estimate from a model output at `timesteps`: the output for epsilon, sqrt(abar) v +
    /// sqrt(1 - abar) x for v-prediction, (x - sqrt(abar) x0) / sqrt(1 - abar) for sample prediction.
    public func predictNoise(modelOutput: Tensor, sample: Tensor, timesteps: [Int],
                             predictionType: PredictionType) -> Tensor {
        let op = "NoiseSchedule.predictNoise"
        let ab = lookup(timesteps, op: op)
        switch predictionType {
        case .epsilon:
            tensorCheck(modelOutput.shape == sample.shape, op,
                        "model output \(modelOutput.shape) does not match the sample \(sample.shape)")
            return modelOutput
        case .vPrediction:
            return SchedulerKernels.batchCombine(modelOutput, ab.map { $0.squareRoot() }, sample,
                                                 ab.map { (1 - $0).squareRoot() }, op: op)
        case .sample:
            return SchedulerKernels.batchCombine(sample, ab.map { 1 / (1 - $0).squareRoot() }, modelOutput,
                                                 ab.map { -$0.squareRoot() / (1 - $0).squareRoot() }, op: op)
        }
    }

    func lookup(_ timesteps: [Int], op: String) -> [Float] {
        timesteps.map { t in
            tensorCheck(t >= 0 && t < alphasCumprod.count, op,
                        "timestep \(t) outside the training range 0..<\(alphasCumprod.count)")
            return alphasCumprod[t]
        }
    }
}

/// The integer timestep of a `Float` timestep of an integer scheduler (stops on a fractional one).
@inline(__always)
func integerTimestep(_ t: Float, _ op: String) -> Int {
    let i = Int(t)
    tensorCheck(Float(i) == t, op, "expects a whole-number timestep, got \(t)")
    return i
}

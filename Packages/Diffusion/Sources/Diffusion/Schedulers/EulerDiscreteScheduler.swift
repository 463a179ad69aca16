import DataIO
import Foundation
import Tensor

/// Karras et al.'s Euler sampler in sigma space (diffusers' `EulerDiscreteScheduler`, k-diffusion's `sample_euler`).
///
/// The sample lives at scale sqrt(sigma^2 + 1): the starting noise is multiplied by `initNoiseSigma` and the model
/// sees `scaleModelInput(x, t)` = x / sqrt(sigma^2 + 1). Supports Karras sigmas, `final_sigmas_type` and the
/// stochastic "churn" (`sChurn`, `sTmin`, `sTmax`, `sNoise`, off by default as in diffusers).
public final class EulerDiscreteScheduler: Scheduler {
    public let config: SchedulerConfiguration
    public let schedule: NoiseSchedule
    public let order = 1
    public private(set) var timesteps: [Float]
    /// sigma per step, plus the final sigma (0 or sigma_min): `timesteps.count + 1` values.
    public private(set) var sigmas: [Float]
    public private(set) var numInferenceSteps: Int?
    /// The index of the next step (set by the first `scaleModelInput`/`step` from its timestep, or `beginIndex`).
    public private(set) var stepIndex: Int?
    /// The first step index, for pipelines that start mid-schedule (diffusers' `set_begin_index`).
    public private(set) var beginIndex: Int?
    /// Churn parameters of k-diffusion's Euler (diffusers' `step` keywords `s_churn`, `s_tmin`, `s_tmax`, `s_noise`).
    public var sChurn: Float = 0
    public var sTmin: Float = 0
    public var sTmax: Float = .infinity
    public var sNoise: Float = 1

    let alphasCumprodValues: [Float]
    public var alphasCumprod: [Float] { alphasCumprodValues }
    public var isStochastic: Bool { sChurn > 0 }

    /// An Euler scheduler; a configuration of another class is read with Euler's defaults (diffusers' `from_config`).
    public init(config: SchedulerConfiguration) throws {
        let config = config.kind == .eulerDiscrete
            ? config : try config.converted(to: SchedulerKind.eulerDiscrete.rawValue)
        let name = "EulerDiscreteScheduler"
        try rejectUnsupportedSigmaOptions(config, scheduler: name)
        if config.interpolationType != "linear" {
            throw SchedulerError.unsupported(scheduler: name, key: "interpolation_type",
                                             value: "\"\(config.interpolationType)\"", reason: "only \"linear\"")
        }
        if config.timestepType != "discrete" {
            throw SchedulerError.unsupported(scheduler: name, key: "timestep_type", value: "\"\(config.timestepType)\"",
                                             reason: "only \"discrete\"")
        }
        self.config = config
        schedule = NoiseSchedule(config: config)
        alphasCumprodValues = sigmaSchedulerAlphasCumprod(schedule, config)
        let trainSigmas = SigmaMath.sigmas(alphasCumprod: alphasCumprodValues)
        sigmas = trainSigmas.reversed() + [0]
        timesteps = (0..<config.numTrainTimesteps).reversed().map(Float.init)
    }

    /// An Euler scheduler from diffusers keys over its defaults.
    public convenience init(_ values: [String: JSONValue] = [:]) throws {
        try self.init(config: SchedulerConfiguration(kind: .eulerDiscrete, values: values))
    }

    public var initNoiseSigma: Float {
        let maxSigma = sigmas.max() ?? 1
        switch config.timestepSpacing {
        case .linspace, .trailing: return maxSigma
        case .leading: return (maxSigma * maxSigma + 1).squareRoot()
        }
    }

    public func setTimesteps(_ n: Int) throws {
        try checkSteps(n, numTrain: config.numTrainTimesteps, scheduler: "EulerDiscreteScheduler")
        numInferenceSteps = n
        var ts = sigmaSchedulerTimesteps(config, n)
        let trainSigmas = SigmaMath.sigmas(alphasCumprod: alphasCumprodValues)
        let fp = trainSigmas.map(Double.init)
        var s = ts.map { NumPy.interp(Double($0), fp) }
        if config.useKarrasSigmas {
            let logSigmas = SigmaMath.logSigmas(trainSigmas)
            s = SigmaMath.karras(sigmaMin: config.sigmaMin ?? s[s.count - 1], sigmaMax: config.sigmaMax ?? s[0],
                                 count: n)
            ts = s.map { Float(SigmaMath.sigmaToT($0, logSigmas: logSigmas)) }
        }
        let last: Float = config.finalSigmasType == .sigmaMin ? trainSigmas[0] : 0
        sigmas = s.map { Float($0) } + [last]
        timesteps = ts
        stepIndex = nil
        beginIndex = nil
    }

    /// Starts stepping at `index` instead of locating the first timestep (diffusers' `set_begin_index`).
    public func setBeginIndex(_ index: Int) { beginIndex = index }

    private func initStepIndex(_ timestep: Float, _ op: String) {
        if let b = beginIndex { stepIndex = b; return }
        guard let i = indexForTimestep(timestep, in: timesteps) else {
            tensorCheck(false, op, "timestep \(timestep) is not in the schedule (pass one of `timesteps`)")
            return
        }
        stepIndex = i
    }

    public func scaleModelInput(_ sample: Tensor, timestep: Float) -> Tensor {
        if stepIndex == nil { initStepIndex(timestep, "EulerDiscreteScheduler.scaleModelInput") }
        let sigma = sigmas[stepIndex!]
        let d = (sigma * sigma + 1).squareRoot()
        return SchedulerKernels.map(sample) { $0 / d }
    }

    public func step(modelOutput: Tensor, timestep: Float, sample: Tensor, generator: inout TorchGenerator)
        -> SchedulerStepOutput {
        let op = "EulerDiscreteScheduler.step"
        tensorCheck(modelOutput.shape == sample.shape, op,
                    "model output \(modelOutput.shape) does not match the sample \(sample.shape)")
        if stepIndex == nil { initStepIndex(timestep, op) }
        let i = stepIndex!
        tensorCheck(i + 1 < sigmas.count, op, "stepped past the end of the schedule (\(timesteps.count) steps)")
        let sigma = sigmas[i]
        let sigmaD = Double(sigma)
        let gamma: Double = Double(sTmin) <= sigmaD && sigmaD <= Double(sTmax)
            ? Swift.min(Double(sChurn) / Double(sigmas.count - 1), 2.0.squareRoot() - 1) : 0
        let sigmaHat = sigma * Float(gamma + 1)
        var x = sample
        if gamma > 0 {
            let noise = generator.randn(modelOutput.shape)
            let sn = sNoise
            let scale = (sigmaHat * sigmaHat - sigma * sigma).squareRoot()
            x = SchedulerKernels.map(sample, noise, op) { $0 + ($1 * sn) * scale }
        }
        let x0: Tensor
        switch config.predictionType {
        case .sample: x0 = modelOutput
        case .epsilon: x0 = SchedulerKernels.map(x, modelOutput, op) { $0 - sigmaHat * $1 }
        case .vPrediction:
            let c = -sigma / (sigma * sigma + 1).squareRoot()
            let d = sigma * sigma + 1
            x0 = SchedulerKernels.map(x, modelOutput, op) { $1 * c + $0 / d }
        }
        let dt = sigmas[i + 1] - sigmaHat
        let prev = SchedulerKernels.map(x, x0, op) { s, p in s + ((s - p) / sigmaHat) * dt }
        stepIndex = i + 1
        return SchedulerStepOutput(prevSample: prev, predOriginalSample: x0)
    }

    /// x + sigma * noise, sigma looked up from each timestep's place in the schedule (diffusers' `add_noise`).
    public func addNoise(original: Tensor, noise: Tensor, timesteps ts: [Float]) -> Tensor {
        let s = sigmaForAddNoise(ts, timesteps: timesteps, sigmas: sigmas, stepIndex: stepIndex,
                                 beginIndex: beginIndex, op: "EulerDiscreteScheduler.addNoise", missing: nil)
        return SchedulerKernels.batchCombine(original, [1], noise, s, op: "EulerDiscreteScheduler.addNoise")
    }
}

// MARK: Shared by the sigma schedulers

/// alpha_bar of a sigma scheduler: zero terminal SNR replaces the final 0 by 2^-24 so that sigma stays finite.
func sigmaSchedulerAlphasCumprod(_ schedule: NoiseSchedule, _ config: SchedulerConfiguration) -> [Float] {
    var ac = schedule.alphasCumprod
    if config.rescaleBetasZeroSNR, !ac.isEmpty { ac[ac.count - 1] = Float(1.0 / 16_777_216.0) }
    return ac
}

/// Euler-type inference timesteps (float32, descending) per `timestep_spacing`.
func sigmaSchedulerTimesteps(_ config: SchedulerConfiguration, _ n: Int) -> [Float] {
    let T = config.numTrainTimesteps
    switch config.timestepSpacing {
    case .linspace:
        return NumPy.linspace(0, Double(T - 1), n).reversed().map { Float($0) }
    case .leading:
        let ratio = T / n
        return (0..<n).reversed().map { Float($0 * ratio) + Float(config.stepsOffset) }
    case .trailing:
        let ratio = Double(T) / Double(n)
        return NumPy.arange(Double(T), 0, -ratio).map { Float(NumPy.round($0)) - 1 }
    }
}

/// Rejects sigma options this package does not implement.
func rejectUnsupportedSigmaOptions(_ config: SchedulerConfiguration, scheduler: String) throws {
    if config.useExponentialSigmas {
        throw SchedulerError.unsupported(scheduler: scheduler, key: "use_exponential_sigmas", value: "true",
                                         reason: "not implemented")
    }
    if config.useBetaSigmas {
        throw SchedulerError.unsupported(scheduler: scheduler, key: "use_beta_sigmas", value: "true",
                                         reason: "not implemented")
    }
}

/// The sigma of each `add_noise` timestep: the begin/step index when set, else the timestep's place in the
/// schedule (`missing` when it is not there, or a stop when `missing` is nil).
func sigmaForAddNoise(_ ts: [Float], timesteps: [Float], sigmas: [Float], stepIndex: Int?, beginIndex: Int?,
                      op: String, missing: Int?) -> [Float] {
    if beginIndex != nil {
        let i = stepIndex ?? beginIndex!
        return ts.map { _ in sigmas[i] }
    }
    return ts.map { t in
        if let i = indexForTimestep(t, in: timesteps) { return sigmas[i] }
        guard let m = missing else {
            tensorCheck(false, op, "timestep \(t) is not in the schedule")
            return 0
        }
        return sigmas[m]
    }
}

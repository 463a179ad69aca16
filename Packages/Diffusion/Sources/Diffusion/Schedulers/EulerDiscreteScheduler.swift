import DataIO
import Foundation
import Tensor

/// Karras et al.'s Euler sampler in sigma space (diffusers' `EulerDiscreteScheduler`, k-diffusion's `sample_euler`).
///
/// The sample lives at scale sqrt(sigma^2 + 1): the starting noise is multiplied by `initNoiseSigma` and the model
/// sees `scaleModelInput(x, t)` = x / sqrt(sigma^2 + 1). Supports Karras sigmas, `final_sigmas_type` and the
/// stochastic "churn" (`sChurn`, `sTmin`, `sTmax`, `sNoise`, off by default as in diffusers).
public final class EulerDiscreteScheduler: SigmaScheduler {
    public let config: SchedulerConfiguration
    public let schedule: NoiseSchedule
    public let order = 1
    /// The schedule and the step index (`SigmaSteps`; `timesteps`, `sigmas`, `stepIndex` and `beginIndex` read it).
    public internal(set) var steps: SigmaSteps
    public private(set) var numInferenceSteps: Int?
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
        steps = SigmaSteps(timesteps: (0..<config.numTrainTimesteps).reversed().map(Float.init), sigmas: trainSigmas.reversed() + [0])
    }

    /// An Euler scheduler from diffusers keys over its defaults.
    public convenience init(_ values: [String: JSONValue] = [:]) throws {
        try self.init(config: SchedulerConfiguration(kind: .eulerDiscrete, values: values))
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
        steps = SigmaSteps(timesteps: ts, sigmas: s.map { Float($0) } + [last])
    }

    public func step(modelOutput: Tensor, timestep: Float, sample: Tensor, generator: inout TorchGenerator)
        -> SchedulerStepOutput {
        let op = "EulerDiscreteScheduler.step"
        tensorCheck(modelOutput.shape == sample.shape, op,
                    "model output \(modelOutput.shape) does not match the sample \(sample.shape)")
        let i = steps.stepping(timestep, op)
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
        steps.stepIndex = i + 1
        return SchedulerStepOutput(prevSample: prev, predOriginalSample: x0)
    }
}

// MARK: Shared by the sigma schedulers

/// The Euler schedulers: what they share is their `SigmaSteps` and everything read from it.
public protocol SigmaScheduler: Scheduler {
    var steps: SigmaSteps { get }
}

extension SigmaScheduler {
    public var timesteps: [Float] { steps.timesteps }
    /// sigma per step plus the final sigma: `timesteps.count + 1` values.
    public var sigmas: [Float] { steps.sigmas }
    /// The index of the next step (set by the first `scaleModelInput`/`step` from its timestep, or `beginIndex`).
    public var stepIndex: Int? { steps.stepIndex }
    /// The first step index, for pipelines that start mid-schedule (diffusers' `set_begin_index`).
    public var beginIndex: Int? { steps.beginIndex }
    public var initNoiseSigma: Float { steps.initNoiseSigma(config.timestepSpacing) }

    /// Starts stepping at `index` instead of locating the first timestep (diffusers' `set_begin_index`).
    public func setBeginIndex(_ index: Int) { steps.beginIndex = index }

    /// x / sqrt(sigma^2 + 1) at the current step.
    public func scaleModelInput(_ sample: Tensor, timestep: Float) -> Tensor {
        steps.scaleModelInput(sample, timestep: timestep, "\(className).scaleModelInput")
    }

    /// x + sigma * noise, sigma looked up from each timestep's place in the schedule (diffusers' `add_noise`).
    public func addNoise(original: Tensor, noise: Tensor, timesteps ts: [Float]) -> Tensor {
        steps.addNoise(original: original, noise: noise, timesteps: ts, op: "\(className).addNoise")
    }
}

/// The step bookkeeping both Euler schedulers share: the schedule, which step comes next (located from the first
/// timestep seen, or `beginIndex`), and the lookups on it.
public final class SigmaSteps {
    /// The inference timesteps, and sigma per step plus the final sigma: `timesteps.count + 1` values.
    var timesteps: [Float]
    var sigmas: [Float]
    var stepIndex: Int?
    var beginIndex: Int?

    init(timesteps: [Float], sigmas: [Float]) {
        self.timesteps = timesteps
        self.sigmas = sigmas
    }

    /// The starting noise scale: the largest sigma, or sqrt(sigma^2 + 1) of it for `leading` spacing.
    func initNoiseSigma(_ spacing: TimestepSpacing) -> Float {
        let maxSigma = sigmas.max() ?? 1
        switch spacing {
        case .linspace, .trailing: return maxSigma
        case .leading: return (maxSigma * maxSigma + 1).squareRoot()
        }
    }

    /// The index of the current step, located from `timestep` (or `beginIndex`) on first use.
    func current(_ timestep: Float, _ op: String) -> Int {
        if stepIndex == nil {
            if let b = beginIndex {
                stepIndex = b
            } else if let i = indexForTimestep(timestep, in: timesteps) {
                stepIndex = i
            } else {
                tensorCheck(false, op, "timestep \(timestep) is not in the schedule (pass one of `timesteps`)")
            }
        }
        return stepIndex!
    }

    /// The current step index for a `step` call, checked against the end of the schedule.
    func stepping(_ timestep: Float, _ op: String) -> Int {
        let i = current(timestep, op)
        tensorCheck(i + 1 < sigmas.count, op, "stepped past the end of the schedule (\(timesteps.count) steps)")
        return i
    }

    /// x / sqrt(sigma^2 + 1) at the current step.
    func scaleModelInput(_ sample: Tensor, timestep: Float, _ op: String) -> Tensor {
        let sigma = sigmas[current(timestep, op)]
        let d = (sigma * sigma + 1).squareRoot()
        return SchedulerKernels.map(sample) { $0 / d }
    }

    /// x + sigma * noise, sigma looked up from each timestep's place in the schedule (diffusers' `add_noise`).
    func addNoise(original: Tensor, noise: Tensor, timesteps ts: [Float], op: String) -> Tensor {
        let s = sigmaForAddNoise(ts, timesteps: timesteps, sigmas: sigmas, stepIndex: stepIndex,
                                 beginIndex: beginIndex, op: op, missing: nil)
        return SchedulerKernels.batchCombine(original, [1], noise, s, op: op)
    }
}

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

import DataIO
import Tensor

/// The ancestral Euler sampler (diffusers' `EulerAncestralDiscreteScheduler`, k-diffusion's
/// `sample_euler_ancestral`): each step goes deterministically down to sigma_down and adds fresh noise of size
/// sigma_up, with sigma_down^2 + sigma_up^2 = sigma_next^2. Supports `epsilon` and `v_prediction` (diffusers does
/// not implement `sample` for it).
public final class EulerAncestralDiscreteScheduler: Scheduler {
    public let config: SchedulerConfiguration
    public let schedule: NoiseSchedule
    public let order = 1
    public private(set) var timesteps: [Float]
    /// sigma per step plus a final 0: `timesteps.count + 1` values.
    public private(set) var sigmas: [Float]
    public private(set) var numInferenceSteps: Int?
    public private(set) var stepIndex: Int?
    public private(set) var beginIndex: Int?

    let alphasCumprodValues: [Float]
    public var alphasCumprod: [Float] { alphasCumprodValues }
    public var isStochastic: Bool { true }

    /// An ancestral Euler scheduler; a configuration of another class is read with this class's defaults.
    public init(config: SchedulerConfiguration) throws {
        let name = SchedulerKind.eulerAncestralDiscrete.rawValue
        let config = config.kind == .eulerAncestralDiscrete ? config : try config.converted(to: name)
        if config.predictionType == .sample {
            throw SchedulerError.unsupported(scheduler: name, key: "prediction_type", value: "\"sample\"",
                                             reason: "diffusers implements epsilon and v_prediction only")
        }
        self.config = config
        schedule = NoiseSchedule(config: config)
        alphasCumprodValues = sigmaSchedulerAlphasCumprod(schedule, config)
        sigmas = SigmaMath.sigmas(alphasCumprod: alphasCumprodValues).reversed() + [0]
        timesteps = (0..<config.numTrainTimesteps).reversed().map(Float.init)
    }

    /// An ancestral Euler scheduler from diffusers keys over its defaults.
    public convenience init(_ values: [String: JSONValue] = [:]) throws {
        try self.init(config: SchedulerConfiguration(kind: .eulerAncestralDiscrete, values: values))
    }

    public var initNoiseSigma: Float {
        let maxSigma = sigmas.max() ?? 1
        switch config.timestepSpacing {
        case .linspace, .trailing: return maxSigma
        case .leading: return (maxSigma * maxSigma + 1).squareRoot()
        }
    }

    public func setTimesteps(_ n: Int) throws {
        try checkSteps(n, numTrain: config.numTrainTimesteps, scheduler: "EulerAncestralDiscreteScheduler")
        numInferenceSteps = n
        let ts = sigmaSchedulerTimesteps(config, n)
        let fp = SigmaMath.sigmas(alphasCumprod: alphasCumprodValues).map(Double.init)
        sigmas = ts.map { Float(NumPy.interp(Double($0), fp)) } + [0]
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
        if stepIndex == nil { initStepIndex(timestep, "EulerAncestralDiscreteScheduler.scaleModelInput") }
        let sigma = sigmas[stepIndex!]
        let d = (sigma * sigma + 1).squareRoot()
        return SchedulerKernels.map(sample) { $0 / d }
    }

    public func step(modelOutput: Tensor, timestep: Float, sample: Tensor, generator: inout TorchGenerator)
        -> SchedulerStepOutput {
        let op = "EulerAncestralDiscreteScheduler.step"
        tensorCheck(modelOutput.shape == sample.shape, op,
                    "model output \(modelOutput.shape) does not match the sample \(sample.shape)")
        if stepIndex == nil { initStepIndex(timestep, op) }
        let i = stepIndex!
        tensorCheck(i + 1 < sigmas.count, op, "stepped past the end of the schedule (\(timesteps.count) steps)")
        let sigma = sigmas[i]
        let x0: Tensor
        switch config.predictionType {
        case .epsilon: x0 = SchedulerKernels.map(sample, modelOutput, op) { $0 - sigma * $1 }
        case .vPrediction:
            let c = -sigma / (sigma * sigma + 1).squareRoot()
            let d = sigma * sigma + 1
            x0 = SchedulerKernels.map(sample, modelOutput, op) { $1 * c + $0 / d }
        case .sample:
            tensorCheck(false, op, "prediction_type sample is not supported")
            x0 = modelOutput
        }
        let sigmaFrom = sigma, sigmaTo = sigmas[i + 1]
        let sigmaUp = (sigmaTo * sigmaTo * (sigmaFrom * sigmaFrom - sigmaTo * sigmaTo) / (sigmaFrom * sigmaFrom))
            .squareRoot()
        let sigmaDown = (sigmaTo * sigmaTo - sigmaUp * sigmaUp).squareRoot()
        let dt = sigmaDown - sigma
        let noise = generator.randn(modelOutput.shape)
        let prev = SchedulerKernels.map(sample, x0, noise, op) { s, p, n in
            (s + ((s - p) / sigma) * dt) + n * sigmaUp
        }
        stepIndex = i + 1
        return SchedulerStepOutput(prevSample: prev, predOriginalSample: x0)
    }

    /// x + sigma * noise, sigma looked up from each timestep's place in the schedule (diffusers' `add_noise`).
    public func addNoise(original: Tensor, noise: Tensor, timesteps ts: [Float]) -> Tensor {
        let s = sigmaForAddNoise(ts, timesteps: timesteps, sigmas: sigmas, stepIndex: stepIndex,
                                 beginIndex: beginIndex, op: "EulerAncestralDiscreteScheduler.addNoise", missing: nil)
        return SchedulerKernels.batchCombine(original, [1], noise, s, op: "EulerAncestralDiscreteScheduler.addNoise")
    }
}

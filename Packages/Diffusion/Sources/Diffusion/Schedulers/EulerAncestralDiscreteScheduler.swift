import DataIO
import Tensor

/// The ancestral Euler sampler (diffusers' `EulerAncestralDiscreteScheduler`, k-diffusion's
/// `sample_euler_ancestral`): each step goes deterministically down to sigma_down and adds fresh noise of size
/// sigma_up, with sigma_down^2 + sigma_up^2 = sigma_next^2. Supports `epsilon` and `v_prediction` (diffusers does
/// not implement `sample` for it).
public final class EulerAncestralDiscreteScheduler: SigmaScheduler {
    public let config: SchedulerConfiguration
    public let schedule: NoiseSchedule
    public let order = 1
    /// The schedule and the step index (`SigmaSteps`; `timesteps`, `sigmas`, `stepIndex` and `beginIndex` read it).
    public internal(set) var steps: SigmaSteps
    public private(set) var numInferenceSteps: Int?

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
        steps = SigmaSteps(timesteps: (0..<config.numTrainTimesteps).reversed().map(Float.init),
                           sigmas: SigmaMath.sigmas(alphasCumprod: alphasCumprodValues).reversed() + [0])
    }

    /// An ancestral Euler scheduler from diffusers keys over its defaults.
    public convenience init(_ values: [String: JSONValue] = [:]) throws {
        try self.init(config: SchedulerConfiguration(kind: .eulerAncestralDiscrete, values: values))
    }

    public func setTimesteps(_ n: Int) throws {
        try checkSteps(n, numTrain: config.numTrainTimesteps, scheduler: "EulerAncestralDiscreteScheduler")
        numInferenceSteps = n
        let ts = sigmaSchedulerTimesteps(config, n)
        let fp = SigmaMath.sigmas(alphasCumprod: alphasCumprodValues).map(Double.init)
        steps = SigmaSteps(timesteps: ts, sigmas: ts.map { Float(NumPy.interp(Double($0), fp)) } + [0])
    }

    public func step(modelOutput: Tensor, timestep: Float, sample: Tensor, generator: inout TorchGenerator)
        -> SchedulerStepOutput {
        let op = "EulerAncestralDiscreteScheduler.step"
        tensorCheck(modelOutput.shape == sample.shape, op,
                    "model output \(modelOutput.shape) does not match the sample \(sample.shape)")
        let i = steps.stepping(timestep, op)
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
        steps.stepIndex = i + 1
        return SchedulerStepOutput(prevSample: prev, predOriginalSample: x0)
    }
}

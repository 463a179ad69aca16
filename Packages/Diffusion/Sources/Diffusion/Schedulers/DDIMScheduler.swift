import DataIO
import Tensor

/// Song et al.'s denoising diffusion implicit models (diffusers' `DDIMScheduler`).
///
/// `eta` = 0 is the deterministic DDIM sampler, `eta` = 1 DDPM's variance. The previous timestep is always
/// `t - num_train_timesteps / num_inference_steps`; below zero the step lands on `finalAlphaCumprod`, which is 1
/// with `set_alpha_to_one` (a clean final sample) and alpha_bar_0 otherwise (SD's configs).
public final class DDIMScheduler: Scheduler {
    public let config: SchedulerConfiguration
    public let schedule: NoiseSchedule
    public let order = 1
    /// The alpha_bar a step uses when its previous timestep is below zero.
    public let finalAlphaCumprod: Float
    public private(set) var timesteps: [Float]
    public private(set) var numInferenceSteps: Int?
    /// The amount of stochasticity (diffusers passes it to `step`; here it stays set between steps).
    public var eta: Float = 0
    /// Recompute epsilon from the clipped x0 (diffusers' `use_clipped_model_output`).
    public var useClippedModelOutput = false

    public var alphasCumprod: [Float] { schedule.alphasCumprod }
    public var initNoiseSigma: Float { 1 }
    public var isStochastic: Bool { eta > 0 }

    /// A DDIM scheduler; a configuration of another class is read with DDIM's defaults (diffusers' `from_config`).
    public init(config: SchedulerConfiguration) throws {
        let config = config.kind == .ddim ? config : try config.converted(to: SchedulerKind.ddim.rawValue)
        self.config = config
        schedule = NoiseSchedule(config: config)
        finalAlphaCumprod = config.setAlphaToOne ? 1 : schedule.alphasCumprod[0]
        timesteps = (0..<config.numTrainTimesteps).reversed().map(Float.init)
    }

    /// A DDIM scheduler from diffusers keys over its defaults.
    public convenience init(_ values: [String: JSONValue] = [:]) throws {
        try self.init(config: SchedulerConfiguration(kind: .ddim, values: values))
    }

    public func setTimesteps(_ numInferenceSteps: Int) throws {
        try checkSteps(numInferenceSteps, numTrain: config.numTrainTimesteps, scheduler: "DDIMScheduler")
        self.numInferenceSteps = numInferenceSteps
        let ts = descendingTimesteps(spacing: config.timestepSpacing, numTrain: config.numTrainTimesteps,
                                     steps: numInferenceSteps, stepsOffset: config.stepsOffset)
        try checkTimestepRange(ts, numTrain: config.numTrainTimesteps, stepsOffset: config.stepsOffset)
        timesteps = ts.map(Float.init)
    }

    /// The timestep a step from `t` lands on (`t - num_train_timesteps / num_inference_steps`).
    public func previousTimestep(_ t: Int) -> Int {
        guard let n = numInferenceSteps else { return t - 1 }
        return t - config.numTrainTimesteps / n
    }

    /// alpha_bar at `t`, or `finalAlphaCumprod` below zero.
    public func alphaProd(_ t: Int) -> Float { t >= 0 ? alphasCumprod[t] : finalAlphaCumprod }

    public func scaleModelInput(_ sample: Tensor, timestep: Float) -> Tensor { sample }

    public func step(modelOutput: Tensor, timestep: Float, sample: Tensor, generator: inout TorchGenerator)
        -> SchedulerStepOutput {
        step(modelOutput: modelOutput, timestep: timestep, sample: sample, eta: eta,
             useClippedModelOutput: useClippedModelOutput, generator: &generator)
    }

    /// A step with an explicit `eta` (and `use_clipped_model_output`), diffusers' `step` keywords.
    public func step(modelOutput: Tensor, timestep: Float, sample: Tensor, eta: Float, useClippedModelOutput: Bool,
                     generator: inout TorchGenerator) -> SchedulerStepOutput {
        let op = "DDIMScheduler.step"
        tensorCheck(numInferenceSteps != nil, op, "call setTimesteps before step")
        tensorCheck(modelOutput.shape == sample.shape, op,
                    "model output \(modelOutput.shape) does not match the sample \(sample.shape)")
        let t = integerTimestep(timestep, op)
        tensorCheck(t >= 0 && t < alphasCumprod.count, op, "timestep \(t) outside 0..<\(alphasCumprod.count)")
        let prevT = previousTimestep(t)
        let alphaProdT = alphasCumprod[t]
        let alphaProdPrev = alphaProd(prevT)
        let betaProdT = 1 - alphaProdT
        let sa = alphaProdT.squareRoot(), sb = betaProdT.squareRoot()

        var x0: Tensor
        var eps: Tensor
        switch config.predictionType {
        case .epsilon:
            x0 = SchedulerKernels.map(sample, modelOutput, op) { ($0 - sb * $1) / sa }
            eps = modelOutput
        case .sample:
            x0 = modelOutput
            eps = SchedulerKernels.map(sample, x0, op) { ($0 - sa * $1) / sb }
        case .vPrediction:
            x0 = SchedulerKernels.map(sample, modelOutput, op) { sa * $0 - sb * $1 }
            eps = SchedulerKernels.map(sample, modelOutput, op) { sa * $1 + sb * $0 }
        }
        if config.thresholding {
            x0 = SchedulerKernels.dynamicThreshold(x0, ratio: config.dynamicThresholdingRatio,
                                                   maxValue: config.sampleMaxValue)
        } else if config.clipSample {
            let r = Float(config.clipSampleRange)
            x0 = SchedulerKernels.clamp(x0, -r, r)
        }

        // diffusers' `_get_variance` (with the same alpha_bar_prev rule as the step).
        let betaProdPrev = 1 - alphaProdPrev
        let variance = (betaProdPrev / betaProdT) * (1 - alphaProdT / alphaProdPrev)
        let std = eta * variance.squareRoot()
        if useClippedModelOutput {
            eps = SchedulerKernels.map(sample, x0, op) { ($0 - sa * $1) / sb }
        }
        let directionCoeff = (1 - alphaProdPrev - std * std).squareRoot()
        let x0Coeff = alphaProdPrev.squareRoot()
        var prev = SchedulerKernels.map(x0, eps, op) { x0Coeff * $0 + directionCoeff * $1 }
        if eta > 0 {
            let noise = generator.randn(modelOutput.shape)
            prev = SchedulerKernels.map(prev, noise, op) { $0 + std * $1 }
        }
        return SchedulerStepOutput(prevSample: prev, predOriginalSample: x0)
    }

    public func addNoise(original: Tensor, noise: Tensor, timesteps: [Float]) -> Tensor {
        schedule.addNoise(original: original, noise: noise,
                          timesteps: timesteps.map { integerTimestep($0, "DDIMScheduler.addNoise") })
    }

    /// diffusers' `get_velocity`: the v-prediction target for `sample` noised with `noise`.
    public func velocity(sample: Tensor, noise: Tensor, timesteps: [Float]) -> Tensor {
        schedule.velocity(sample: sample, noise: noise,
                          timesteps: timesteps.map { integerTimestep($0, "DDIMScheduler.velocity") })
    }
}

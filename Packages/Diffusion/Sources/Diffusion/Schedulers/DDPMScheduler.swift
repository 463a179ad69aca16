import DataIO
import Foundation
import Tensor

/// Ho et al.'s ancestral sampler (diffusers' `DDPMScheduler`), also the usual training noise schedule.
///
/// Supports the variance types `fixed_small`, `fixed_small_log`, `fixed_large`, `learned` and `learned_range`
/// (for the learned ones the model output carries the variance in its second channel half), `clip_sample`,
/// dynamic thresholding, custom timesteps and every beta schedule and timestep spacing.
public final class DDPMScheduler: Scheduler {
    public let config: SchedulerConfiguration
    public let schedule: NoiseSchedule
    public let order = 1
    public private(set) var timesteps: [Float]
    public private(set) var numInferenceSteps: Int?
    private var integerTimesteps: [Int]
    private var customTimesteps = false

    public var alphasCumprod: [Float] { schedule.alphasCumprod }
    public var betas: [Float] { schedule.betas }
    public var initNoiseSigma: Float { 1 }
    public var isStochastic: Bool { true }

    /// A DDPM scheduler; a configuration of another class is read with DDPM's defaults (diffusers' `from_config`).
    public init(config: SchedulerConfiguration) throws {
        let config = config.kind == .ddpm ? config : try config.converted(to: SchedulerKind.ddpm.rawValue)
        if config.varianceType == .fixedLargeLog {
            throw SchedulerError.unsupported(scheduler: "DDPMScheduler", key: "variance_type",
                                             value: "\"fixed_large_log\"",
                                             reason: "diffusers takes the square root of a log variance there")
        }
        self.config = config
        self.schedule = NoiseSchedule(config: config)
        integerTimesteps = Array((0..<config.numTrainTimesteps).reversed())
        timesteps = integerTimesteps.map(Float.init)
    }

    /// A DDPM scheduler from diffusers keys over its defaults, e.g. `DDPMScheduler(["beta_schedule": "scaled_linear"])`.
    public convenience init(_ values: [String: JSONValue] = [:]) throws {
        try self.init(config: SchedulerConfiguration(kind: .ddpm, values: values))
    }

    public func setTimesteps(_ numInferenceSteps: Int) throws {
        try checkSteps(numInferenceSteps, numTrain: config.numTrainTimesteps, scheduler: "DDPMScheduler")
        self.numInferenceSteps = numInferenceSteps
        customTimesteps = false
        integerTimesteps = descendingTimesteps(spacing: config.timestepSpacing, numTrain: config.numTrainTimesteps,
                                               steps: numInferenceSteps, stepsOffset: config.stepsOffset)
        try checkTimestepRange(integerTimesteps, numTrain: config.numTrainTimesteps, stepsOffset: config.stepsOffset)
        timesteps = integerTimesteps.map(Float.init)
    }

    /// Custom timesteps (strictly descending, below `num_train_timesteps`), diffusers' `set_timesteps(timesteps=)`.
    public func setTimesteps(custom: [Int]) throws {
        guard let first = custom.first else {
            throw SchedulerError.invalidValue(key: "timesteps", value: "[]", expected: "at least one timestep")
        }
        for i in 1..<custom.count where custom[i] >= custom[i - 1] {
            throw SchedulerError.invalidValue(key: "timesteps", value: "\(custom)", expected: "strictly descending")
        }
        guard first < config.numTrainTimesteps, custom.last! >= 0 else {
            throw SchedulerError.invalidValue(key: "timesteps", value: "\(custom)",
                                              expected: "values in 0..<\(config.numTrainTimesteps)")
        }
        customTimesteps = true
        numInferenceSteps = custom.count
        integerTimesteps = custom
        timesteps = custom.map(Float.init)
    }

    /// The timestep after `t` in the schedule (-1 after the last), diffusers' `previous_timestep`.
    public func previousTimestep(_ t: Int) -> Int {
        guard customTimesteps || numInferenceSteps != nil else { return t - 1 }
        guard let index = integerTimesteps.firstIndex(of: t) else {
            tensorCheck(false, "DDPMScheduler.step", "timestep \(t) is not in the schedule \(integerTimesteps)")
            return -1
        }
        return index == integerTimesteps.count - 1 ? -1 : integerTimesteps[index + 1]
    }

    public func scaleModelInput(_ sample: Tensor, timestep: Float) -> Tensor { sample }

    public func step(modelOutput: Tensor, timestep: Float, sample: Tensor, generator: inout TorchGenerator)
        -> SchedulerStepOutput {
        let op = "DDPMScheduler.step"
        let t = integerTimestep(timestep, op)
        tensorCheck(t >= 0 && t < alphasCumprod.count, op, "timestep \(t) outside 0..<\(alphasCumprod.count)")
        let prevT = previousTimestep(t)
        let learned = config.varianceType == .learned || config.varianceType == .learnedRange
        var output = modelOutput
        var predictedVariance: Tensor? = nil
        if learned, sample.rank >= 2, modelOutput.rank == sample.rank, modelOutput.shape[1] == sample.shape[1] * 2 {
            output = SchedulerKernels.channels(modelOutput, start: 0, count: sample.shape[1])
            predictedVariance = SchedulerKernels.channels(modelOutput, start: sample.shape[1], count: sample.shape[1])
        }
        tensorCheck(output.shape == sample.shape, op,
                    "model output \(modelOutput.shape) does not match the sample \(sample.shape)"
                        + (learned ? " (nor twice its channels, for the learned variance)" : ""))

        let alphaProd = alphasCumprod[t]
        let alphaProdPrev: Float = prevT >= 0 ? alphasCumprod[prevT] : 1
        let betaProd = 1 - alphaProd
        let betaProdPrev = 1 - alphaProdPrev
        let currentAlpha = alphaProd / alphaProdPrev
        let currentBeta = 1 - currentAlpha

        let sa = alphaProd.squareRoot(), sb = betaProd.squareRoot()
        var x0: Tensor
        switch config.predictionType {
        case .epsilon: x0 = SchedulerKernels.map(sample, output, op) { ($0 - sb * $1) / sa }
        case .sample: x0 = output
        case .vPrediction: x0 = SchedulerKernels.map(sample, output, op) { sa * $0 - sb * $1 }
        }
        if config.thresholding {
            x0 = SchedulerKernels.dynamicThreshold(x0, ratio: config.dynamicThresholdingRatio,
                                                   maxValue: config.sampleMaxValue)
        } else if config.clipSample {
            let r = Float(config.clipSampleRange)
            x0 = SchedulerKernels.clamp(x0, -r, r)
        }

        let x0Coeff = (alphaProdPrev.squareRoot() * currentBeta) / betaProd
        let sampleCoeff = currentAlpha.squareRoot() * betaProdPrev / betaProd
        var prev = SchedulerKernels.map(x0, sample, op) { x0Coeff * $0 + sampleCoeff * $1 }

        if t > 0 {
            let noise = generator.randn(output.shape)
            // diffusers' `_get_variance`: the posterior variance, clamped at 1e-20.
            let variance = Swift.max((1 - alphaProdPrev) / (1 - alphaProd) * currentBeta, 1e-20)
            switch config.varianceType {
            case .fixedSmall:
                let std = variance.squareRoot()
                prev = SchedulerKernels.map(prev, noise, op) { $0 + std * $1 }
            case .fixedSmallLog:
                let std = Foundation.exp(0.5 * Foundation.log(variance))
                prev = SchedulerKernels.map(prev, noise, op) { $0 + std * $1 }
            case .fixedLarge:
                let std = currentBeta.squareRoot()
                prev = SchedulerKernels.map(prev, noise, op) { $0 + std * $1 }
            case .learned:
                guard let pv = predictedVariance else { return missingVariance(op, modelOutput, sample) }
                prev = SchedulerKernels.map(prev, pv, noise, op) { $0 + $1.squareRoot() * $2 }
            case .learnedRange:
                guard let pv = predictedVariance else { return missingVariance(op, modelOutput, sample) }
                let minLog = Foundation.log(variance), maxLog = Foundation.log(currentBeta)
                prev = SchedulerKernels.map(prev, pv, noise, op) { p, v, n in
                    let frac = (v + 1) / 2
                    let logVariance = frac * maxLog + (1 - frac) * minLog
                    return p + Foundation.exp(0.5 * logVariance) * n
                }
            case .fixedLargeLog:
                tensorCheck(false, op, "variance_type fixed_large_log is not supported")
            }
        }
        return SchedulerStepOutput(prevSample: prev, predOriginalSample: x0)
    }

    private func missingVariance(_ op: String, _ modelOutput: Tensor, _ sample: Tensor) -> SchedulerStepOutput {
        tensorCheck(false, op, "variance_type \(config.varianceType.rawValue) needs a model output with twice the "
                        + "sample's channels, got \(modelOutput.shape) for a sample \(sample.shape)")
        return SchedulerStepOutput(prevSample: sample, predOriginalSample: nil)
    }

    public func addNoise(original: Tensor, noise: Tensor, timesteps: [Float]) -> Tensor {
        schedule.addNoise(original: original, noise: noise,
                          timesteps: timesteps.map { integerTimestep($0, "DDPMScheduler.addNoise") })
    }

    /// diffusers' `get_velocity`: the v-prediction target for `sample` noised with `noise`.
    public func velocity(sample: Tensor, noise: Tensor, timesteps: [Float]) -> Tensor {
        schedule.velocity(sample: sample, noise: noise,
                          timesteps: timesteps.map { integerTimestep($0, "DDPMScheduler.velocity") })
    }
}

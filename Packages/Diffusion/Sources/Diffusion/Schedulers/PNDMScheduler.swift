import DataIO
import Tensor

/// Liu et al.'s pseudo numerical methods (diffusers' `PNDMScheduler`): linear multistep (PLMS) steps, preceded by
/// Runge-Kutta (PRK) warm-up steps unless `skip_prk_steps` (Stable Diffusion's setting).
///
/// With `skip_prk_steps` the schedule repeats its second timestep: the first two calls form a second-order
/// (Heun-like) warm-up, after which the model outputs of the last four steps combine with the Adams-Bashforth
/// weights. Only `epsilon` and `v_prediction` are supported, as in diffusers.
public final class PNDMScheduler: Scheduler {
    public let config: SchedulerConfiguration
    public let schedule: NoiseSchedule
    public let order = 1
    /// The alpha_bar a step uses when its previous timestep is below zero.
    public let finalAlphaCumprod: Float
    public private(set) var timesteps: [Float]
    public private(set) var numInferenceSteps: Int?
    /// The Runge-Kutta warm-up timesteps (empty with `skip_prk_steps`).
    public private(set) var prkTimesteps: [Int] = []
    /// The linear multistep timesteps.
    public private(set) var plmsTimesteps: [Int] = []

    private let pndmOrder = 4
    private var counter = 0
    private var ets: [Tensor] = []
    private var currentModelOutput: Tensor?
    private var currentSample: Tensor?

    public var alphasCumprod: [Float] { schedule.alphasCumprod }
    public var initNoiseSigma: Float { 1 }
    public var isStochastic: Bool { false }

    /// A PNDM scheduler; a configuration of another class is read with PNDM's defaults (diffusers' `from_config`).
    public init(config: SchedulerConfiguration) throws {
        let config = config.kind == .pndm ? config : try config.converted(to: SchedulerKind.pndm.rawValue)
        if config.predictionType == .sample {
            throw SchedulerError.unsupported(scheduler: "PNDMScheduler", key: "prediction_type", value: "\"sample\"",
                                             reason: "PNDM supports epsilon and v_prediction")
        }
        self.config = config
        schedule = NoiseSchedule(config: config)
        finalAlphaCumprod = config.setAlphaToOne ? 1 : schedule.alphasCumprod[0]
        timesteps = []
    }

    /// A PNDM scheduler from diffusers keys over its defaults.
    public convenience init(_ values: [String: JSONValue] = [:]) throws {
        try self.init(config: SchedulerConfiguration(kind: .pndm, values: values))
    }

    public func setTimesteps(_ n: Int) throws {
        let T = config.numTrainTimesteps
        try checkSteps(n, numTrain: T, scheduler: "PNDMScheduler")
        if !config.skipPrkSteps && n < pndmOrder {
            throw SchedulerError.invalidSteps(scheduler: "PNDMScheduler (Runge-Kutta warm-up needs at least 4 steps)",
                                              requested: n, maximum: T)
        }
        numInferenceSteps = n
        // Ascending base timesteps.
        let base: [Int]
        switch config.timestepSpacing {
        case .linspace:
            base = NumPy.linspace(0, Double(T - 1), n).map { Int(NumPy.round($0)) }
        case .leading:
            let ratio = T / n
            base = (0..<n).map { $0 * ratio + config.stepsOffset }
            try checkTimestepRange(base, numTrain: T, stepsOffset: config.stepsOffset)
        case .trailing:
            let ratio = Double(T) / Double(n)
            base = NumPy.arange(Double(T), 0, -ratio).reversed().map { Int(NumPy.round($0)) - 1 }
        }
        if config.skipPrkSteps {
            prkTimesteps = []
            let m = base.count
            let plms = Array(base[0..<(m - 1)]) + (m >= 2 ? [base[m - 2]] : []) + [base[m - 1]]
            plmsTimesteps = plms.reversed()
        } else {
            let half = T / n / 2
            var prk: [Int] = []
            for t in base[(base.count - pndmOrder)...] { prk += [t, t + half] }
            // prk[:-1].repeat(2)[1:-1][::-1]
            var repeated: [Int] = []
            for t in prk.dropLast() { repeated += [t, t] }
            prkTimesteps = Array(repeated.dropFirst().dropLast().reversed())
            plmsTimesteps = Array(base.dropLast(3).reversed())
        }
        timesteps = (prkTimesteps + plmsTimesteps).map(Float.init)
        ets = []
        counter = 0
        currentModelOutput = nil
        currentSample = nil
    }

    public func scaleModelInput(_ sample: Tensor, timestep: Float) -> Tensor { sample }

    public func step(modelOutput: Tensor, timestep: Float, sample: Tensor, generator: inout TorchGenerator)
        -> SchedulerStepOutput {
        let op = "PNDMScheduler.step"
        tensorCheck(numInferenceSteps != nil, op, "call setTimesteps before step")
        tensorCheck(modelOutput.shape == sample.shape, op,
                    "model output \(modelOutput.shape) does not match the sample \(sample.shape)")
        let t = integerTimestep(timestep, op)
        let prev = counter < prkTimesteps.count && !config.skipPrkSteps
            ? stepPRK(modelOutput: modelOutput, timestep: t, sample: sample)
            : stepPLMS(modelOutput: modelOutput, timestep: t, sample: sample)
        return SchedulerStepOutput(prevSample: prev, predOriginalSample: nil)
    }

    private func stepPRK(modelOutput: Tensor, timestep: Int, sample: Tensor) -> Tensor {
        let n = numInferenceSteps!
        let diffToPrev = counter % 2 != 0 ? 0 : config.numTrainTimesteps / n / 2
        let prevTimestep = timestep - diffToPrev
        let t = prkTimesteps[counter / 4 * 4]
        var output = modelOutput
        let sixth = Float(1.0 / 6.0), third = Float(1.0 / 3.0)
        switch counter % 4 {
        case 0:
            currentModelOutput = accumulate(currentModelOutput, sixth, modelOutput)
            ets.append(modelOutput)
            currentSample = sample
        case 1, 2:
            currentModelOutput = accumulate(currentModelOutput, third, modelOutput)
        default:
            output = accumulate(currentModelOutput, sixth, modelOutput)
            currentModelOutput = nil
        }
        let cur = currentSample ?? sample
        counter += 1
        return previousSample(cur, t, prevTimestep, output)
    }

    /// `acc + w * x` (acc = 0 when nil), as diffusers' running Runge-Kutta sum.
    private func accumulate(_ acc: Tensor?, _ w: Float, _ x: Tensor) -> Tensor {
        guard let acc else { return SchedulerKernels.map(x) { 0 + w * $0 } }
        return SchedulerKernels.map(acc, x, "PNDMScheduler.step") { $0 + w * $1 }
    }

    private func stepPLMS(modelOutput: Tensor, timestep: Int, sample: Tensor) -> Tensor {
        let op = "PNDMScheduler.step"
        tensorCheck(config.skipPrkSteps || ets.count >= 3, op,
                    "linear multistep steps need the 12 Runge-Kutta warm-up steps first")
        let stride = config.numTrainTimesteps / numInferenceSteps!
        var t = timestep
        var prevTimestep = timestep - stride
        if counter != 1 {
            ets = Array(ets.suffix(3))
            ets.append(modelOutput)
        } else {
            prevTimestep = timestep
            t = timestep + stride
        }
        var output: Tensor
        var x = sample
        let e = ets
        if e.count == 1 && counter == 0 {
            output = modelOutput
            currentSample = sample
        } else if e.count == 1 && counter == 1 {
            output = SchedulerKernels.map(modelOutput, e[0], op) { ($0 + $1) / 2 }
            x = currentSample ?? sample
            currentSample = nil
        } else if e.count == 2 {
            output = SchedulerKernels.map(e[1], e[0], op) { (3 * $0 - $1) / 2 }
        } else if e.count == 3 {
            output = SchedulerKernels.map(e[2], e[1], e[0], op) { (23 * $0 - 16 * $1 + 5 * $2) / 12 }
        } else {
            let w = Float(1.0 / 24.0)
            output = SchedulerKernels.map(e[3], e[2], e[1], e[0], op) { a, b, c, d in
                w * (55 * a - 59 * b + 37 * c - 9 * d)
            }
        }
        counter += 1
        return previousSample(x, t, prevTimestep, output)
    }

    /// diffusers' `_get_prev_sample` (formula (9) of the PNDM paper).
    private func previousSample(_ sample: Tensor, _ t: Int, _ prevT: Int, _ modelOutput: Tensor) -> Tensor {
        let op = "PNDMScheduler.step"
        tensorCheck(t >= 0 && t < alphasCumprod.count, op, "timestep \(t) outside 0..<\(alphasCumprod.count)")
        let alphaProdT = alphasCumprod[t]
        let alphaProdPrev = prevT >= 0 ? alphasCumprod[prevT] : finalAlphaCumprod
        let betaProdT = 1 - alphaProdT
        let betaProdPrev = 1 - alphaProdPrev
        var output = modelOutput
        if config.predictionType == .vPrediction {
            let sa = alphaProdT.squareRoot(), sb = betaProdT.squareRoot()
            output = SchedulerKernels.map(modelOutput, sample, op) { sa * $0 + sb * $1 }
        }
        let sampleCoeff = (alphaProdPrev / alphaProdT).squareRoot()
        let denom = alphaProdT * betaProdPrev.squareRoot() + (alphaProdT * betaProdT * alphaProdPrev).squareRoot()
        let diff = alphaProdPrev - alphaProdT
        return SchedulerKernels.map(sample, output, op) { sampleCoeff * $0 - diff * $1 / denom }
    }

    public func addNoise(original: Tensor, noise: Tensor, timesteps: [Float]) -> Tensor {
        schedule.addNoise(original: original, noise: noise,
                          timesteps: timesteps.map { integerTimestep($0, "PNDMScheduler.addNoise") })
    }
}

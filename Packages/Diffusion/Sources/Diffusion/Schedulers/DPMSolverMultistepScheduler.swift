import DataIO
import Foundation
import Tensor

/// Lu et al.'s multistep DPM-Solver (diffusers' `DPMSolverMultistepScheduler`); the default configuration is
/// DPM-Solver++(2M): `algorithm_type` dpmsolver++, `solver_order` 2, midpoint updates, first order on the last
/// step (`lower_order_final`, and always with `final_sigmas_type` zero).
///
/// Also implemented: orders 1 to 3, the `dpmsolver` (noise-prediction) and SDE variants (`sde-dpmsolver++`,
/// `sde-dpmsolver`, noise drawn from the generator every step), Heun updates, Karras sigmas, `lambda_min_clipped`,
/// `euler_at_final`, thresholding. The model output is converted to an x0 (dpmsolver++) or epsilon (dpmsolver)
/// estimate and the last `solver_order` of them are kept between steps.
public final class DPMSolverMultistepScheduler: Scheduler {
    public let config: SchedulerConfiguration
    public let schedule: NoiseSchedule
    public let order = 1
    public private(set) var timesteps: [Float]
    /// sigma per step plus the final sigma: `timesteps.count + 1` values (training sigmas before `setTimesteps`).
    public private(set) var sigmas: [Float]
    public private(set) var numInferenceSteps: Int?
    public private(set) var stepIndex: Int?
    public private(set) var beginIndex: Int?

    private var modelOutputs: [Tensor?]
    private var lowerOrderNums = 0
    let alphasCumprodValues: [Float]
    /// lambda_t = log(alpha_t) - log(sigma_t) per training timestep (float32).
    let lambdas: [Float]

    public var alphasCumprod: [Float] { alphasCumprodValues }
    public var initNoiseSigma: Float { 1 }
    public var isStochastic: Bool {
        config.algorithmType == .sdeDPMSolver || config.algorithmType == .sdeDPMSolverPlusPlus
    }

    /// A DPM-Solver scheduler; a configuration of another class is read with this class's defaults.
    public init(config: SchedulerConfiguration) throws {
        let name = SchedulerKind.dpmSolverMultistep.rawValue
        let config = config.kind == .dpmSolverMultistep ? config : try config.converted(to: name)
        try rejectUnsupportedSigmaOptions(config, scheduler: name)
        if config.useLuLambdas {
            throw SchedulerError.unsupported(scheduler: name, key: "use_lu_lambdas", value: "true",
                                             reason: "not implemented")
        }
        if config.useFlowSigmas {
            throw SchedulerError.unsupported(scheduler: name, key: "use_flow_sigmas", value: "true",
                                             reason: "not implemented")
        }
        guard (1...3).contains(config.solverOrder) else {
            throw SchedulerError.invalidValue(key: "solver_order", value: "\(config.solverOrder)", expected: "1, 2 or 3")
        }
        if config.algorithmType == .sdeDPMSolver && config.solverOrder == 3 {
            throw SchedulerError.unsupported(scheduler: name, key: "solver_order", value: "3",
                                             reason: "diffusers has no third-order sde-dpmsolver update")
        }
        if (config.algorithmType == .dpmSolver || config.algorithmType == .sdeDPMSolver)
            && config.finalSigmasType == .zero {
            throw SchedulerError.unsupported(scheduler: name, key: "final_sigmas_type", value: "\"zero\"",
                                             reason: "algorithm_type \(config.algorithmType.rawValue) needs "
                                                 + "\"sigma_min\" (as in diffusers)")
        }
        self.config = config
        schedule = NoiseSchedule(config: config)
        let ac = sigmaSchedulerAlphasCumprod(schedule, config)
        alphasCumprodValues = ac
        lambdas = ac.map { Foundation.log($0.squareRoot()) - Foundation.log((1 - $0).squareRoot()) }
        sigmas = SigmaMath.sigmas(alphasCumprod: ac)
        timesteps = NumPy.linspace(0, Double(config.numTrainTimesteps - 1), config.numTrainTimesteps).reversed()
            .map { Float($0) }
        modelOutputs = Array(repeating: nil, count: config.solverOrder)
    }

    /// A DPM-Solver scheduler from diffusers keys over its defaults.
    public convenience init(_ values: [String: JSONValue] = [:]) throws {
        try self.init(config: SchedulerConfiguration(kind: .dpmSolverMultistep, values: values))
    }

    public func setTimesteps(_ n: Int) throws {
        let T = config.numTrainTimesteps
        try checkSteps(n, numTrain: T, scheduler: "DPMSolverMultistepScheduler")
        // Timesteps whose lambda is below lambda_min_clipped are cut from the top of the range.
        let clipped = lambdas.reversed().prefix { Double($0) < config.lambdaMinClipped }.count
        let lastTimestep = T - clipped
        var ts: [Int]
        switch config.timestepSpacing {
        case .linspace:
            ts = NumPy.linspace(0, Double(lastTimestep - 1), n + 1).reversed().dropLast().map { Int(NumPy.round($0)) }
        case .leading:
            let ratio = lastTimestep / (n + 1)
            ts = (0...n).reversed().dropLast().map { $0 * ratio + config.stepsOffset }
            try checkTimestepRange(ts, numTrain: T, stepsOffset: config.stepsOffset)
        case .trailing:
            let ratio = Double(T) / Double(n)
            ts = NumPy.arange(Double(lastTimestep), 0, -ratio).map { Int(NumPy.round($0)) - 1 }
        }
        let trainSigmas = SigmaMath.sigmas(alphasCumprod: alphasCumprodValues)
        var s: [Double]
        if config.useKarrasSigmas {
            let logSigmas = SigmaMath.logSigmas(trainSigmas)
            s = SigmaMath.karras(sigmaMin: config.sigmaMin ?? Double(trainSigmas[0]),
                                 sigmaMax: config.sigmaMax ?? Double(trainSigmas[trainSigmas.count - 1]), count: n)
            ts = s.map { sigma in
                let t = SigmaMath.sigmaToT(sigma, logSigmas: logSigmas)
                return Int(config.betaSchedule == .squaredcosCapV2 ? t : NumPy.round(t))
            }
        } else {
            let fp = trainSigmas.map(Double.init)
            s = ts.map { NumPy.interp(Double($0), fp) }
        }
        let last: Float = config.finalSigmasType == .sigmaMin ? trainSigmas[0] : 0
        sigmas = s.map { Float($0) } + [last]
        timesteps = ts.map(Float.init)
        numInferenceSteps = ts.count
        modelOutputs = Array(repeating: nil, count: config.solverOrder)
        lowerOrderNums = 0
        stepIndex = nil
        beginIndex = nil
    }

    /// Starts stepping at `index` instead of locating the first timestep (diffusers' `set_begin_index`).
    public func setBeginIndex(_ index: Int) { beginIndex = index }

    public func scaleModelInput(_ sample: Tensor, timestep: Float) -> Tensor { sample }

    /// The model output as diffusers' `convert_model_output`: x0 for dpmsolver++, epsilon for dpmsolver.
    private func convert(_ modelOutput: Tensor, sample: Tensor, _ op: String) -> Tensor {
        var output = modelOutput
        if config.dpmVarianceType != nil, config.predictionType == .epsilon, modelOutput.rank >= 2,
           sample.rank >= 2, modelOutput.shape[1] == 2 * sample.shape[1] {
            output = SchedulerKernels.channels(modelOutput, start: 0, count: sample.shape[1])
        }
        tensorCheck(output.shape == sample.shape, op,
                    "model output \(modelOutput.shape) does not match the sample \(sample.shape)")
        let (alphaT, sigmaT) = SigmaMath.alphaSigma(sigmas[stepIndex!])
        let thresholdRatio = config.dynamicThresholdingRatio, maxValue = config.sampleMaxValue
        switch config.algorithmType {
        case .dpmSolverPlusPlus, .sdeDPMSolverPlusPlus:
            var x0: Tensor
            switch config.predictionType {
            case .epsilon: x0 = SchedulerKernels.map(sample, output, op) { ($0 - sigmaT * $1) / alphaT }
            case .sample: x0 = output
            case .vPrediction: x0 = SchedulerKernels.map(sample, output, op) { alphaT * $0 - sigmaT * $1 }
            }
            if config.thresholding {
                x0 = SchedulerKernels.dynamicThreshold(x0, ratio: thresholdRatio, maxValue: maxValue)
            }
            return x0
        case .dpmSolver, .sdeDPMSolver:
            var eps: Tensor
            switch config.predictionType {
            case .epsilon: eps = output
            case .sample: eps = SchedulerKernels.map(sample, output, op) { ($0 - alphaT * $1) / sigmaT }
            case .vPrediction: eps = SchedulerKernels.map(sample, output, op) { alphaT * $1 + sigmaT * $0 }
            }
            if config.thresholding {
                var x0 = SchedulerKernels.map(sample, eps, op) { ($0 - sigmaT * $1) / alphaT }
                x0 = SchedulerKernels.dynamicThreshold(x0, ratio: thresholdRatio, maxValue: maxValue)
                eps = SchedulerKernels.map(sample, x0, op) { ($0 - alphaT * $1) / sigmaT }
            }
            return eps
        }
    }

    public func step(modelOutput: Tensor, timestep: Float, sample: Tensor, generator: inout TorchGenerator)
        -> SchedulerStepOutput {
        let op = "DPMSolverMultistepScheduler.step"
        tensorCheck(numInferenceSteps != nil, op, "call setTimesteps before step")
        if stepIndex == nil {
            stepIndex = beginIndex ?? indexForTimestep(timestep, in: timesteps) ?? (timesteps.count - 1)
        }
        let i = stepIndex!
        tensorCheck(i + 1 < sigmas.count, op, "stepped past the end of the schedule (\(timesteps.count) steps)")
        let count = timesteps.count
        let shortRun = config.lowerOrderFinal && count < 15
        let lowerOrderFinal = i == count - 1
            && (config.eulerAtFinal || shortRun || config.finalSigmasType == .zero)
        let lowerOrderSecond = i == count - 2 && shortRun

        let converted = convert(modelOutput, sample: sample, op)
        for k in 0..<(config.solverOrder - 1) { modelOutputs[k] = modelOutputs[k + 1] }
        modelOutputs[config.solverOrder - 1] = converted

        let noise: Tensor? = isStochastic ? generator.randn(converted.shape) : nil
        let prev: Tensor
        if config.solverOrder == 1 || lowerOrderNums < 1 || lowerOrderFinal {
            prev = firstOrderUpdate(converted, sample: sample, noise: noise, i: i)
        } else if config.solverOrder == 2 || lowerOrderNums < 2 || lowerOrderSecond {
            prev = secondOrderUpdate(sample: sample, noise: noise, i: i)
        } else {
            prev = thirdOrderUpdate(sample: sample, noise: noise, i: i)
        }
        if lowerOrderNums < config.solverOrder { lowerOrderNums += 1 }
        stepIndex = i + 1
        return SchedulerStepOutput(prevSample: prev, predOriginalSample: nil)
    }

    /// alpha, sigma and lambda at schedule position `j` (float32, diffusers' order of operations).
    private func point(_ j: Int) -> (alpha: Float, sigma: Float, lambda: Float) {
        let (a, s) = SigmaMath.alphaSigma(sigmas[j])
        return (a, s, Foundation.log(a) - Foundation.log(s))
    }

    private func firstOrderUpdate(_ m: Tensor, sample x: Tensor, noise: Tensor?, i: Int) -> Tensor {
        let op = "DPMSolverMultistepScheduler.step"
        let t = point(i + 1), s = point(i)
        let h = t.lambda - s.lambda
        switch config.algorithmType {
        case .dpmSolverPlusPlus:
            let c1 = t.sigma / s.sigma, c2 = t.alpha * (Foundation.exp(-h) - 1)
            return SchedulerKernels.map(x, m, op) { c1 * $0 - c2 * $1 }
        case .dpmSolver:
            let c1 = t.alpha / s.alpha, c2 = t.sigma * (Foundation.exp(h) - 1)
            return SchedulerKernels.map(x, m, op) { c1 * $0 - c2 * $1 }
        case .sdeDPMSolverPlusPlus:
            let c1 = t.sigma / s.sigma * Foundation.exp(-h)
            let c2 = t.alpha * (1 - Foundation.exp(-2 * h))
            let c3 = t.sigma * (1 - Foundation.exp(-2 * h)).squareRoot()
            return SchedulerKernels.map(x, m, noise!, op) { c1 * $0 + c2 * $1 + c3 * $2 }
        case .sdeDPMSolver:
            let c1 = t.alpha / s.alpha, c2 = 2 * (t.sigma * (Foundation.exp(h) - 1))
            let c3 = t.sigma * (Foundation.exp(2 * h) - 1).squareRoot()
            return SchedulerKernels.map(x, m, noise!, op) { c1 * $0 - c2 * $1 + c3 * $2 }
        }
    }

    private func secondOrderUpdate(sample x: Tensor, noise: Tensor?, i: Int) -> Tensor {
        let op = "DPMSolverMultistepScheduler.step"
        let n = config.solverOrder
        let m0 = modelOutputs[n - 1]!, m1 = modelOutputs[n - 2]!
        let t = point(i + 1), s0 = point(i), s1 = point(i - 1)
        let h = t.lambda - s0.lambda, h0 = s0.lambda - s1.lambda
        let r0 = h0 / h
        let invR0 = 1 / r0
        let midpoint = config.solverType == .midpoint
        switch config.algorithmType {
        case .dpmSolverPlusPlus:
            let c1 = t.sigma / s0.sigma, c2 = t.alpha * (Foundation.exp(-h) - 1)
            if midpoint {
                let c3 = 0.5 * (t.alpha * (Foundation.exp(-h) - 1))
                return SchedulerKernels.map(x, m0, m1, op) { s, a, b in c1 * s - c2 * a - c3 * (invR0 * (a - b)) }
            }
            let c3 = t.alpha * ((Foundation.exp(-h) - 1) / h + 1)
            return SchedulerKernels.map(x, m0, m1, op) { s, a, b in c1 * s - c2 * a + c3 * (invR0 * (a - b)) }
        case .dpmSolver:
            let c1 = t.alpha / s0.alpha, c2 = t.sigma * (Foundation.exp(h) - 1)
            let c3 = midpoint ? 0.5 * (t.sigma * (Foundation.exp(h) - 1)) : t.sigma * ((Foundation.exp(h) - 1) / h - 1)
            return SchedulerKernels.map(x, m0, m1, op) { s, a, b in c1 * s - c2 * a - c3 * (invR0 * (a - b)) }
        case .sdeDPMSolverPlusPlus:
            let e2 = Foundation.exp(-2 * h)
            let c1 = t.sigma / s0.sigma * Foundation.exp(-h)
            let c2 = t.alpha * (1 - e2)
            let c3 = midpoint ? 0.5 * (t.alpha * (1 - e2)) : t.alpha * ((1 - e2) / (-2 * h) + 1)
            let c4 = t.sigma * (1 - e2).squareRoot()
            let z = noise!
            let d = SchedulerKernels.map(x, m0, m1, op) { s, a, b in c1 * s + c2 * a + c3 * (invR0 * (a - b)) }
            return SchedulerKernels.map(d, z, op) { $0 + c4 * $1 }
        case .sdeDPMSolver:
            let eh = Foundation.exp(h)
            let c1 = t.alpha / s0.alpha, c2 = 2 * (t.sigma * (eh - 1))
            let c3 = midpoint ? t.sigma * (eh - 1) : 2 * (t.sigma * ((eh - 1) / h - 1))
            let c4 = t.sigma * (Foundation.exp(2 * h) - 1).squareRoot()
            let z = noise!
            let d = SchedulerKernels.map(x, m0, m1, op) { s, a, b in c1 * s - c2 * a - c3 * (invR0 * (a - b)) }
            return SchedulerKernels.map(d, z, op) { $0 + c4 * $1 }
        }
    }

    private func thirdOrderUpdate(sample x: Tensor, noise: Tensor?, i: Int) -> Tensor {
        let op = "DPMSolverMultistepScheduler.step"
        let m0 = modelOutputs[2]!, m1 = modelOutputs[1]!, m2 = modelOutputs[0]!
        let t = point(i + 1), s0 = point(i), s1 = point(i - 1), s2 = point(i - 2)
        let h = t.lambda - s0.lambda, h0 = s0.lambda - s1.lambda, h1 = s1.lambda - s2.lambda
        let r0 = h0 / h, r1 = h1 / h
        let invR0 = 1 / r0, invR1 = 1 / r1
        let w1 = r0 / (r0 + r1), w2 = 1 / (r0 + r1)
        // D1_0, D1_1, then D1 = D1_0 + w1 (D1_0 - D1_1) and D2 = w2 (D1_0 - D1_1), elementwise as in diffusers.
        let d10 = SchedulerKernels.map(m0, m1, op) { invR0 * ($0 - $1) }
        let d11 = SchedulerKernels.map(m1, m2, op) { invR1 * ($0 - $1) }
        let d1 = SchedulerKernels.map(d10, d11, op) { $0 + w1 * ($0 - $1) }
        let d2 = SchedulerKernels.map(d10, d11, op) { w2 * ($0 - $1) }
        switch config.algorithmType {
        case .dpmSolverPlusPlus:
            let em = Foundation.exp(-h)
            let c1 = t.sigma / s0.sigma, c2 = t.alpha * (em - 1)
            let c3 = t.alpha * ((em - 1) / h + 1), c4 = t.alpha * ((em - 1 + h) / (h * h) - 0.5)
            let a = SchedulerKernels.map(x, m0, op) { c1 * $0 - c2 * $1 }
            return SchedulerKernels.map(a, d1, d2, op) { $0 + c3 * $1 - c4 * $2 }
        case .dpmSolver:
            let ep = Foundation.exp(h)
            let c1 = t.alpha / s0.alpha, c2 = t.sigma * (ep - 1)
            let c3 = t.sigma * ((ep - 1) / h - 1), c4 = t.sigma * ((ep - 1 - h) / (h * h) - 0.5)
            let a = SchedulerKernels.map(x, m0, op) { c1 * $0 - c2 * $1 }
            return SchedulerKernels.map(a, d1, d2, op) { $0 - c3 * $1 - c4 * $2 }
        case .sdeDPMSolverPlusPlus:
            let e2 = Foundation.exp(-2 * h)
            let c1 = t.sigma / s0.sigma * Foundation.exp(-h), c2 = t.alpha * (1 - e2)
            let c3 = t.alpha * ((1 - e2) / (-2 * h) + 1)
            let c4 = t.alpha * ((1 - e2 - 2 * h) / ((2 * h) * (2 * h)) - 0.5)
            let c5 = t.sigma * (1 - e2).squareRoot()
            let a = SchedulerKernels.map(x, m0, op) { c1 * $0 + c2 * $1 }
            let b = SchedulerKernels.map(a, d1, d2, op) { $0 + c3 * $1 + c4 * $2 }
            return SchedulerKernels.map(b, noise!, op) { $0 + c5 * $1 }
        case .sdeDPMSolver:
            tensorCheck(false, op, "no third-order sde-dpmsolver update")
            return x
        }
    }

    /// alpha_t * x + sigma_t * noise with sigma from each timestep's place in the schedule (the last sigma when
    /// a timestep is not in it), diffusers' `add_noise`.
    public func addNoise(original: Tensor, noise: Tensor, timesteps ts: [Float]) -> Tensor {
        let s = sigmaForAddNoise(ts, timesteps: timesteps, sigmas: sigmas, stepIndex: stepIndex,
                                 beginIndex: beginIndex, op: "DPMSolverMultistepScheduler.addNoise",
                                 missing: timesteps.count - 1)
        let pairs = s.map { SigmaMath.alphaSigma($0) }
        return SchedulerKernels.batchCombine(original, pairs.map(\.alpha), noise, pairs.map(\.sigma),
                                             op: "DPMSolverMultistepScheduler.addNoise")
    }
}

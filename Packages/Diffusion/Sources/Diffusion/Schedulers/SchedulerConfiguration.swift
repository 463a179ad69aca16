import DataIO
import Foundation

/// The schedulers this package implements, by their diffusers class names.
public enum SchedulerKind: String, Sendable, CaseIterable {
    case ddpm = "DDPMScheduler"
    case ddim = "DDIMScheduler"
    case pndm = "PNDMScheduler"
    case eulerDiscrete = "EulerDiscreteScheduler"
    case eulerAncestralDiscrete = "EulerAncestralDiscreteScheduler"
    case dpmSolverMultistep = "DPMSolverMultistepScheduler"

    /// The known class names, for error messages.
    public static var knownNames: [String] { allCases.map(\.rawValue) }

    /// The kind for a diffusers class name; unknown names throw, listing the known ones.
    public init(className: String) throws {
        guard let kind = SchedulerKind(rawValue: className) else {
            throw SchedulerError.unknownScheduler(className, known: SchedulerKind.knownNames)
        }
        self = kind
    }
}

/// Errors of scheduler configuration and construction.
public enum SchedulerError: Error, CustomStringConvertible, Equatable {
    case unknownScheduler(String, known: [String])
    case invalidValue(key: String, value: String, expected: String)
    case unsupported(scheduler: String, key: String, value: String, reason: String)
    case missingClassName
    case invalidJSON(String)
    case invalidSteps(scheduler: String, requested: Int, maximum: Int)

    public var description: String {
        switch self {
        case let .unknownScheduler(name, known):
            return "scheduler_config: unknown scheduler '\(name)' (_class_name); known schedulers: "
                + known.joined(separator: ", ")
        case let .invalidValue(key, value, expected):
            return "scheduler_config: key '\(key)' has value \(value), expected \(expected)"
        case let .unsupported(scheduler, key, value, reason):
            return "\(scheduler): '\(key)' = \(value) is not supported (\(reason))"
        case .missingClassName:
            return "scheduler_config: no '_class_name' and no scheduler class given"
        case let .invalidJSON(message):
            return "scheduler_config: not valid JSON: \(message)"
        case let .invalidSteps(scheduler, requested, maximum):
            return "\(scheduler).setTimesteps: \(requested) inference steps requested, must be in 1...\(maximum) "
                + "(num_train_timesteps)"
        }
    }
}

/// A scheduler configuration: diffusers' `scheduler_config.json` keys (snake_case) with diffusers' per-class
/// defaults.
///
/// Not a plain Codable struct with one set of defaults, because exact diffusers behaviour needs to know which keys a
/// file gave: an absent `timestep_spacing` means "linspace" for
/// Euler but "leading" for DDIM, an absent `set_alpha_to_one` false for PNDM but true for DDIM.
///
/// The keys given explicitly are kept in `explicitValues`; every typed field is the explicit value or, where
/// absent, the default of the class named by `className`. `converted(to:)` re-resolves the defaults for another
/// class, which is what diffusers' `OtherScheduler.from_config(pipe.scheduler.config)` does (keys that were
/// defaults in the old class take the new class's defaults). Keys that no scheduler here reads are ignored, as
/// diffusers ignores them; a known key with a wrong type or an unknown option value throws, naming the key.
public struct SchedulerConfiguration: Equatable, Sendable {
    /// diffusers' class name (`_class_name`).
    public private(set) var className: String
    /// The scheduler kind for `className`.
    public private(set) var kind: SchedulerKind
    /// The keys given explicitly (without the `_`-prefixed metadata).
    public private(set) var explicitValues: [String: JSONValue]

    // Noise schedule.
    public var numTrainTimesteps = 1000
    public var betaStart = 0.0001
    public var betaEnd = 0.02
    public var betaSchedule = BetaScheduleKind.linear
    public var trainedBetas: [Double]? = nil
    public var rescaleBetasZeroSNR = false
    // Prediction and timesteps.
    public var predictionType = PredictionType.epsilon
    public var timestepSpacing = TimestepSpacing.leading
    public var stepsOffset = 0
    // Clipping and thresholding (DDPM, DDIM, DPM-Solver).
    public var clipSample = true
    public var clipSampleRange = 1.0
    public var thresholding = false
    public var dynamicThresholdingRatio = 0.995
    public var sampleMaxValue = 1.0
    // DDIM / PNDM.
    public var setAlphaToOne = true
    public var skipPrkSteps = false
    // DDPM.
    public var varianceType = DDPMVarianceType.fixedSmall
    // Euler / DPM-Solver sigmas.
    public var useKarrasSigmas = false
    public var finalSigmasType = FinalSigmasType.zero
    public var sigmaMin: Double? = nil
    public var sigmaMax: Double? = nil
    public var interpolationType = "linear"
    public var timestepType = "discrete"
    public var useExponentialSigmas = false
    public var useBetaSigmas = false
    // DPM-Solver.
    public var solverOrder = 2
    public var algorithmType = DPMSolverAlgorithm.dpmSolverPlusPlus
    public var solverType = DPMSolverType.midpoint
    public var lowerOrderFinal = true
    public var eulerAtFinal = false
    public var lambdaMinClipped = -Double.infinity
    public var dpmVarianceType: String? = nil
    public var useLuLambdas = false
    public var useFlowSigmas = false

    /// The configuration of `className` with the given explicit keys over its defaults.
    public init(className: String, values: [String: JSONValue] = [:]) throws {
        let kind = try SchedulerKind(className: className)
        self.className = className
        self.kind = kind
        // Metadata keys (`_class_name`, `_diffusers_version`, ...) are not options; keys listed in
        // `_use_default_values` were defaults of the class that wrote them and are dropped, as diffusers does.
        let usedDefaults = Set(values["_use_default_values"]?.arrayValue?.compactMap(\.stringValue) ?? [])
        self.explicitValues = values.filter { !$0.key.hasPrefix("_") && !usedDefaults.contains($0.key) }
        applyClassDefaults()
        try applyExplicitValues()
    }

    /// The configuration of a scheduler kind with its diffusers defaults.
    public init(kind: SchedulerKind, values: [String: JSONValue] = [:]) throws {
        try self.init(className: kind.rawValue, values: values)
    }

    /// Parses a `scheduler_config.json` object; `className` overrides (or stands in for a missing) `_class_name`.
    public init(json: JSONValue, className: String? = nil) throws {
        guard let object = json.objectValue else {
            throw SchedulerError.invalidJSON("the top level is not an object")
        }
        var name = className
        if name == nil, let given = object["_class_name"] {
            guard let s = given.stringValue else {
                throw SchedulerError.invalidValue(key: "_class_name", value: Self.render(given), expected: "a string")
            }
            name = s
        }
        guard let resolved = name else { throw SchedulerError.missingClassName }
        try self.init(className: resolved, values: object)
    }

    /// Parses `scheduler_config.json` bytes.
    public init(data: Data, className: String? = nil) throws {
        let json: JSONValue
        do { json = try JSONValue.parse(data, maxDepth: JSONValue.maxConfigDepth) } catch { throw SchedulerError.invalidJSON("\(error)") }
        try self.init(json: json, className: className)
    }

    /// Reads a `scheduler_config.json` file.
    public init(contentsOf url: URL, className: String? = nil) throws {
        let data: Data
        do { data = try FileBytes.readSmallFile(url) } catch {   // files over FileBytes.maxConfigFileSize are refused unread
            throw SchedulerError.invalidJSON("cannot read \(url.path): \(error)")
        }
        try self.init(data: data, className: className)
    }

    /// Reads the `scheduler_config.json` of a model folder's `scheduler/` component.
    public init(component: ComponentFolder, className: String? = nil) throws {
        try self.init(contentsOf: component.configURL, className: className)
    }

    /// The same explicit keys read as another scheduler class (diffusers' `from_config` across classes).
    public func converted(to className: String) throws -> SchedulerConfiguration {
        try SchedulerConfiguration(className: className, values: explicitValues)
    }

    /// Builds the scheduler named by `className`.
    public func makeScheduler() throws -> any Scheduler {
        switch kind {
        case .ddpm: return try DDPMScheduler(config: self)
        case .ddim: return try DDIMScheduler(config: self)
        case .pndm: return try PNDMScheduler(config: self)
        case .eulerDiscrete: return try EulerDiscreteScheduler(config: self)
        case .eulerAncestralDiscrete: return try EulerAncestralDiscreteScheduler(config: self)
        case .dpmSolverMultistep: return try DPMSolverMultistepScheduler(config: self)
        }
    }

    // MARK: Defaults and parsing

    private mutating func applyClassDefaults() {
        switch kind {
        case .ddpm, .ddim, .pndm: timestepSpacing = .leading
        case .eulerDiscrete, .eulerAncestralDiscrete, .dpmSolverMultistep: timestepSpacing = .linspace
        }
        setAlphaToOne = kind == .ddim
        clipSample = kind == .ddpm || kind == .ddim
    }

    private mutating func applyExplicitValues() throws {
        let v = explicitValues
        if let x = v["num_train_timesteps"] { numTrainTimesteps = try Self.int(x, "num_train_timesteps") }
        if let x = v["beta_start"] { betaStart = try Self.double(x, "beta_start") }
        if let x = v["beta_end"] { betaEnd = try Self.double(x, "beta_end") }
        if let x = v["beta_schedule"] { betaSchedule = try Self.option(x, "beta_schedule") }
        if let x = v["trained_betas"], x != .null {
            guard let a = x.arrayValue else {
                throw SchedulerError.invalidValue(key: "trained_betas", value: Self.render(x),
                                                  expected: "null or an array of numbers")
            }
            trainedBetas = try a.map { try Self.double($0, "trained_betas") }
        }
        if let x = v["rescale_betas_zero_snr"] { rescaleBetasZeroSNR = try Self.bool(x, "rescale_betas_zero_snr") }
        if let x = v["prediction_type"] { predictionType = try Self.option(x, "prediction_type") }
        if let x = v["timestep_spacing"] { timestepSpacing = try Self.option(x, "timestep_spacing") }
        if let x = v["steps_offset"] { stepsOffset = try Self.int(x, "steps_offset") }
        if let x = v["clip_sample"] { clipSample = try Self.bool(x, "clip_sample") }
        if let x = v["clip_sample_range"] { clipSampleRange = try Self.double(x, "clip_sample_range") }
        if let x = v["thresholding"] { thresholding = try Self.bool(x, "thresholding") }
        if let x = v["dynamic_thresholding_ratio"] {
            dynamicThresholdingRatio = try Self.double(x, "dynamic_thresholding_ratio")
        }
        if let x = v["sample_max_value"] { sampleMaxValue = try Self.double(x, "sample_max_value") }
        if let x = v["set_alpha_to_one"] { setAlphaToOne = try Self.bool(x, "set_alpha_to_one") }
        if let x = v["skip_prk_steps"] { skipPrkSteps = try Self.bool(x, "skip_prk_steps") }
        if let x = v["use_karras_sigmas"], x != .null { useKarrasSigmas = try Self.bool(x, "use_karras_sigmas") }
        if let x = v["use_exponential_sigmas"], x != .null {
            useExponentialSigmas = try Self.bool(x, "use_exponential_sigmas")
        }
        if let x = v["use_beta_sigmas"], x != .null { useBetaSigmas = try Self.bool(x, "use_beta_sigmas") }
        if let x = v["final_sigmas_type"] { finalSigmasType = try Self.option(x, "final_sigmas_type") }
        if let x = v["sigma_min"], x != .null { sigmaMin = try Self.double(x, "sigma_min") }
        if let x = v["sigma_max"], x != .null { sigmaMax = try Self.double(x, "sigma_max") }
        if let x = v["interpolation_type"] { interpolationType = try Self.string(x, "interpolation_type") }
        if let x = v["timestep_type"] { timestepType = try Self.string(x, "timestep_type") }
        if let x = v["solver_order"] { solverOrder = try Self.int(x, "solver_order") }
        if let x = v["algorithm_type"] { algorithmType = try Self.option(x, "algorithm_type") }
        if let x = v["solver_type"] { solverType = try Self.option(x, "solver_type") }
        if let x = v["lower_order_final"] { lowerOrderFinal = try Self.bool(x, "lower_order_final") }
        if let x = v["euler_at_final"] { eulerAtFinal = try Self.bool(x, "euler_at_final") }
        if let x = v["lambda_min_clipped"] { lambdaMinClipped = try Self.double(x, "lambda_min_clipped") }
        if let x = v["use_lu_lambdas"] { useLuLambdas = try Self.bool(x, "use_lu_lambdas") }
        if let x = v["use_flow_sigmas"] { useFlowSigmas = try Self.bool(x, "use_flow_sigmas") }
        if let x = v["variance_type"], x != .null {
            // DDPM's variance types; DPM-Solver's own `variance_type` (learned / learned_range or null).
            if kind == .dpmSolverMultistep {
                let s = try Self.string(x, "variance_type")
                guard s == "learned" || s == "learned_range" else {
                    throw SchedulerError.invalidValue(key: "variance_type", value: "\"\(s)\"",
                                                      expected: "null, \"learned\" or \"learned_range\"")
                }
                dpmVarianceType = s
            } else {
                varianceType = try Self.option(x, "variance_type")
            }
        }
        if numTrainTimesteps < 1 || numTrainTimesteps > ConfigLimits.timesteps {
            throw SchedulerError.invalidValue(key: "num_train_timesteps", value: "\(numTrainTimesteps)",
                                              expected: "an integer in 1...\(ConfigLimits.timesteps)")
        }
        if stepsOffset < 0 || stepsOffset >= numTrainTimesteps {
            throw SchedulerError.invalidValue(key: "steps_offset", value: "\(stepsOffset)",
                                              expected: "an integer in 0..<num_train_timesteps (\(numTrainTimesteps))")
        }
        if !(1...3).contains(solverOrder) {
            throw SchedulerError.invalidValue(key: "solver_order", value: "\(solverOrder)", expected: "1, 2 or 3")
        }
        if let b = trainedBetas, b.count != numTrainTimesteps {
            throw SchedulerError.invalidValue(key: "trained_betas", value: "\(b.count) values",
                                              expected: "num_train_timesteps = \(numTrainTimesteps) values")
        }
    }

    static func render(_ v: JSONValue) -> String {
        switch v {
        case .null: return "null"
        case let .bool(b): return "\(b)"
        case let .int(i): return "\(i)"
        case let .double(d): return "\(d)"
        case let .string(s): return "\"\(s)\""
        case .array: return "an array"
        case .object: return "an object"
        }
    }

    static func int(_ v: JSONValue, _ key: String) throws -> Int {
        if let i = v.intValue { return i }
        if let d = v.doubleValue, d == d.rounded(), abs(d) < 1e15 { return Int(d) }
        throw SchedulerError.invalidValue(key: key, value: render(v), expected: "an integer")
    }

    static func double(_ v: JSONValue, _ key: String) throws -> Double {
        if let d = v.doubleValue { return d }
        throw SchedulerError.invalidValue(key: key, value: render(v), expected: "a number")
    }

    static func bool(_ v: JSONValue, _ key: String) throws -> Bool {
        if let b = v.boolValue { return b }
        throw SchedulerError.invalidValue(key: key, value: render(v), expected: "true or false")
    }

    static func string(_ v: JSONValue, _ key: String) throws -> String {
        if let s = v.stringValue { return s }
        throw SchedulerError.invalidValue(key: key, value: render(v), expected: "a string")
    }

    static func option<T: RawRepresentable & CaseIterable>(_ v: JSONValue, _ key: String) throws -> T
        where T.RawValue == String {
        if let s = v.stringValue, let t = T(rawValue: s) { return t }
        let allowed = T.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: ", ")
        throw SchedulerError.invalidValue(key: key, value: render(v), expected: "one of \(allowed)")
    }
}

/// DDPM's `variance_type`.
public enum DDPMVarianceType: String, Sendable, CaseIterable {
    case fixedSmall = "fixed_small"
    case fixedSmallLog = "fixed_small_log"
    case fixedLarge = "fixed_large"
    case fixedLargeLog = "fixed_large_log"
    case learned
    case learnedRange = "learned_range"
}

/// The last sigma of Euler / DPM-Solver schedules (`final_sigmas_type`).
public enum FinalSigmasType: String, Sendable, CaseIterable {
    case zero
    case sigmaMin = "sigma_min"
}

/// DPM-Solver's `algorithm_type`.
public enum DPMSolverAlgorithm: String, Sendable, CaseIterable {
    case dpmSolver = "dpmsolver"
    case dpmSolverPlusPlus = "dpmsolver++"
    case sdeDPMSolver = "sde-dpmsolver"
    case sdeDPMSolverPlusPlus = "sde-dpmsolver++"
}

/// DPM-Solver's `solver_type` for the second-order update.
public enum DPMSolverType: String, Sendable, CaseIterable {
    case midpoint, heun
}

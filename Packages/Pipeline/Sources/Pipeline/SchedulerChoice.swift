import DataIO
import Diffusion

/// Scheduler names for command lines (`--scheduler`), mapped to the Diffusion package's classes.
public enum SchedulerChoice: String, CaseIterable, Sendable {
    case ddim, pndm, ddpm, euler
    case eulerAncestral = "euler-ancestral"
    case dpmSolverPlusPlus = "dpmsolver++"

    /// The short names, for help and error messages.
    public static var names: [String] { allCases.map(\.rawValue) }

    /// A short name (case-insensitive) or a diffusers class name (`DDIMScheduler`, ...); unknown names throw,
    /// listing the known ones.
    public init(name: String) throws {
        if let c = SchedulerChoice(rawValue: name.lowercased()) { self = c; return }
        if let kind = SchedulerKind(rawValue: name) {
            switch kind {
            case .ddim: self = .ddim
            case .pndm: self = .pndm
            case .ddpm: self = .ddpm
            case .eulerDiscrete: self = .euler
            case .eulerAncestralDiscrete: self = .eulerAncestral
            case .dpmSolverMultistep: self = .dpmSolverPlusPlus
            }
            return
        }
        throw PipelineError("scheduler", "unknown scheduler '\(name)'; known: \(Self.names.joined(separator: ", ")) (or a diffusers class name: \(SchedulerKind.knownNames.joined(separator: ", ")))")
    }

    public var kind: SchedulerKind {
        switch self {
        case .ddim: return .ddim
        case .pndm: return .pndm
        case .ddpm: return .ddpm
        case .euler: return .eulerDiscrete
        case .eulerAncestral: return .eulerAncestralDiscrete
        case .dpmSolverPlusPlus: return .dpmSolverMultistep
        }
    }

    /// This scheduler built from a folder's scheduler configuration, as diffusers'
    /// `NewScheduler.from_config(pipe.scheduler.config)` does (the noise schedule and prediction type carry over;
    /// keys that were class defaults take the new class's defaults). `dpmsolver++` also sets
    /// `algorithm_type` "dpmsolver++" (2M).
    public func makeScheduler(from config: SchedulerConfiguration) throws -> any Scheduler {
        var values = config.explicitValues
        if self == .dpmSolverPlusPlus { values["algorithm_type"] = .string("dpmsolver++") }
        return try SchedulerConfiguration(className: kind.rawValue, values: values).makeScheduler()
    }
}

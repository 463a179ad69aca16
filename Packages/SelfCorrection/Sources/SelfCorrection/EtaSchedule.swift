import Foundation

/// The correction strength eta per sampling step (step index 0 is the noisiest step).
public enum EtaSchedule: Equatable, Sendable {
    /// The same eta at every step (the release: 0.5 at all 50 steps).
    case constant(Float)
    /// eta for the first `count` steps, 0 afterwards.
    case firstSteps(Float, count: Int)
    /// Linear in the step index from `from` at the first step to `to` at the last (both included);
    /// `from` when the run has one step.
    case linear(from: Float, to: Float)
    /// One value per step; the run must have exactly that many steps.
    case perStep([Float])

    /// eta at step `step` (0-based) of a run of `count` steps.
    public func eta(step: Int, of count: Int) -> Float {
        precondition(step >= 0 && step < count, "EtaSchedule.eta: step \(step) outside 0..<\(count)")
        switch self {
        case let .constant(e): return e
        case let .firstSteps(e, k): return step < k ? e : 0
        case let .linear(a, b):
            guard count > 1 else { return a }
            let f = Float(step) / Float(count - 1)
            return a + (b - a) * f
        case let .perStep(values):
            precondition(values.count == count,
                         "EtaSchedule.perStep: \(values.count) values for a run of \(count) steps")
            return values[step]
        }
    }

    /// All values of a run of `count` steps.
    public func values(steps count: Int) -> [Float] { (0..<count).map { eta(step: $0, of: count) } }

    /// Throws unless the schedule fits a run of `steps` steps and every value is finite.
    public func validate(steps: Int) throws {
        guard steps > 0 else { throw SelfCorrectionError("eta schedule", "a run needs at least one step, got \(steps)") }
        switch self {
        case let .constant(e), let .firstSteps(e, _):
            guard e.isFinite else { throw SelfCorrectionError("eta", "eta must be finite, got \(e)") }
        case let .linear(a, b):
            guard a.isFinite, b.isFinite else { throw SelfCorrectionError("eta", "linear eta from \(a) to \(b) must be finite") }
        case let .perStep(v):
            guard v.count == steps else {
                throw SelfCorrectionError("eta schedule", "\(v.count) per-step values for a run of \(steps) steps")
            }
            guard v.allSatisfy(\.isFinite) else { throw SelfCorrectionError("eta schedule", "per-step values must be finite") }
        }
        if case let .firstSteps(_, k) = self, k < 0 {
            throw SelfCorrectionError("eta schedule", "first-steps count must be at least 0, got \(k)")
        }
    }

    /// Parses a command-line schedule with base strength `eta`:
    /// `constant` (eta everywhere), `first:K` (eta for the first K steps, then 0), `linear` (eta down to 0 over the
    /// run), `linear:END` (eta to END), `list:v0,v1,...` (explicit per-step values; `eta` is ignored).
    public static func parse(_ spec: String, eta: Float) throws -> EtaSchedule {
        let s = spec.trimmingCharacters(in: .whitespaces)
        let parts = s.split(separator: ":", maxSplits: 1).map(String.init)
        func number(_ text: String, _ what: String) throws -> Float {
            guard let v = Float(text.trimmingCharacters(in: .whitespaces)), v.isFinite else {
                throw SelfCorrectionError("eta schedule", "'\(text)' in '\(spec)' is not a finite number (\(what))")
            }
            return v
        }
        switch parts.first ?? "" {
        case "constant" where parts.count == 1:
            return .constant(eta)
        case "first" where parts.count == 2:
            guard let k = Int(parts[1]), k >= 0 else {
                throw SelfCorrectionError("eta schedule", "'\(parts[1])' in '\(spec)' is not a step count >= 0")
            }
            return .firstSteps(eta, count: k)
        case "linear":
            return .linear(from: eta, to: parts.count == 2 ? try number(parts[1], "end value") : 0)
        case "list" where parts.count == 2:
            let values = try parts[1].split(separator: ",", omittingEmptySubsequences: false).map { try number(String($0), "per-step value") }
            guard !values.isEmpty else { throw SelfCorrectionError("eta schedule", "'\(spec)' lists no value") }
            return .perStep(values)
        default:
            throw SelfCorrectionError("eta schedule",
                                      "unknown schedule '\(spec)'; expected constant, first:K, linear, linear:END or list:v0,v1,...")
        }
    }
}

extension EtaSchedule: CustomStringConvertible {
    /// "constant 0.5", "first 10 steps at 0.5", "linear 0.5 to 0", "per step [0.5, 0]".
    public var description: String {
        func number(_ x: Float) -> String {
            let d = Double(x)
            return d == d.rounded() && abs(d) < 1e9 ? String(Int(d)) : String(format: "%g", d)
        }
        switch self {
        case let .constant(e): return "constant \(number(e))"
        case let .firstSteps(e, k): return "first \(k) steps at \(number(e))"
        case let .linear(a, b): return "linear \(number(a)) to \(number(b))"
        case let .perStep(v): return "per step [\(v.map(number).joined(separator: ", "))]"
        }
    }
}

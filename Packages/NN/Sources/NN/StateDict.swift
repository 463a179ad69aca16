import Autodiff
import Tensor

/// What a state-dict load found: keys the model expects but the dict lacks, keys the dict has but the model
/// does not, and keys present on both sides with different shapes.
public struct StateDictReport: Equatable, CustomStringConvertible {
    public struct Mismatch: Equatable {
        public let name: String
        public let expected: [Int]
        public let found: [Int]
    }
    public var missing: [String] = []
    public var unexpected: [String] = []
    public var mismatched: [Mismatch] = []
    /// Names whose values were replaced.
    public var loaded: [String] = []

    public var isClean: Bool { missing.isEmpty && unexpected.isEmpty && mismatched.isEmpty }

    public var description: String {
        var parts: [String] = []
        if !missing.isEmpty {
            parts.append("\(missing.count) missing key\(missing.count == 1 ? "" : "s"): \(missing.joined(separator: ", "))")
        }
        if !unexpected.isEmpty {
            parts.append("\(unexpected.count) unexpected key\(unexpected.count == 1 ? "" : "s"): \(unexpected.joined(separator: ", "))")
        }
        if !mismatched.isEmpty {
            let s = mismatched.map { "\($0.name) (model \($0.expected), state dict \($0.found))" }
            parts.append("\(mismatched.count) shape mismatch\(mismatched.count == 1 ? "" : "es"): \(s.joined(separator: ", "))")
        }
        return parts.isEmpty ? "all \(loaded.count) keys matched" : parts.joined(separator: "; ")
    }
}

/// A strict state-dict load failed; the message lists every missing, unexpected and mis-shaped key.
public struct StateDictError: Error, CustomStringConvertible {
    public let context: String
    public let report: StateDictReport
    public var description: String { "\(context): \(report)" }
}

extension ParameterStore {
    /// Which part of the store a state dict covers.
    public enum StateDictScope {
        /// Parameters and persistent buffers (PyTorch's `model.state_dict()`), without adapters.
        case model
        /// Adapter (LoRA) parameters only.
        case adapters
        /// Both.
        case all

        func includes(_ kind: Kind) -> Bool {
            switch (self, kind) {
            case (_, .nonPersistentBuffer): return false
            case (.model, .adapter): return false
            case (.adapters, .adapter): return true
            case (.adapters, _): return false
            default: return true
            }
        }
    }

    /// Names covered by `scope`, in registration order.
    public func stateDictNames(_ scope: StateDictScope = .model) -> [String] {
        allNames.filter { scope.includes(kind(of: $0)!) }
    }

    /// The current values by full name (`keyPrefix` prepended to every key). Tensors share storage with the
    /// parameters (copy-on-write), so exporting costs no copy.
    public func stateDict(_ scope: StateDictScope = .model, keyPrefix: String = "") -> [String: Tensor] {
        var d: [String: Tensor] = [:]
        for n in stateDictNames(scope) { d[keyPrefix + n] = self[n]!.value }
        return d
    }

    /// Replaces values by name. Only keys starting with `keyPrefix` are considered (the prefix is stripped), so
    /// one file holding several models can feed each. Strict (the default): any missing, unexpected or
    /// mis-shaped key throws `StateDictError` listing all of them and nothing is loaded. Non-strict: every
    /// matching key is loaded and the report lists the rest.
    @discardableResult
    public func loadStateDict(_ dict: [String: Tensor], scope: StateDictScope = .model, keyPrefix: String = "",
                              strict: Bool = true) throws -> StateDictReport {
        var report = StateDictReport()
        let names = stateDictNames(scope)
        let expected = Set(names)
        var matched: [(String, Tensor)] = []
        for name in names {
            guard let t = dict[keyPrefix + name] else { report.missing.append(name); continue }
            let shape = self[name]!.value.shape
            if t.shape != shape {
                report.mismatched.append(.init(name: name, expected: shape, found: t.shape))
            } else {
                matched.append((name, t))
            }
        }
        for key in dict.keys.sorted() where key.hasPrefix(keyPrefix) {
            let name = String(key.dropFirst(keyPrefix.count))
            if !expected.contains(name) { report.unexpected.append(key) }
        }
        if strict && !report.isClean {
            throw StateDictError(context: "loadStateDict(\(scope)\(keyPrefix.isEmpty ? "" : ", keyPrefix: \"\(keyPrefix)\""))",
                                 report: report)
        }
        for (name, t) in matched {
            assign(name, t)
            report.loaded.append(name)
        }
        return report
    }
}

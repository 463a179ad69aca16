/// Errors from building a text encoder out of outside data (configs, weight files) or from bad inputs.
public enum TextEncoderError: Error, CustomStringConvertible, Equatable {
    /// A config value this implementation cannot honour (names the field and the value).
    case invalidConfig(String)
    /// A weight file does not match the model: lists every missing, unexpected and mis-shaped key.
    case weightMismatch(file: String, report: CLIPWeightReport)
    /// Token ids, masks or indices that do not fit the model.
    case invalidInput(String)

    public var description: String {
        switch self {
        case .invalidConfig(let m): return "CLIPTextModel config: \(m)"
        case .weightMismatch(let file, let report): return "\(file): \(report)"
        case .invalidInput(let m): return "CLIPTextModel input: \(m)"
        }
    }
}

/// What a weight load found, in checkpoint key names (`text_model.…`, `text_projection.weight`).
public struct CLIPWeightReport: Equatable, CustomStringConvertible, Sendable {
    public struct Mismatch: Equatable, Sendable {
        public let key: String
        public let expected: [Int]
        public let found: [Int]
    }
    /// Keys the model has and the file lacks.
    public var missing: [String] = []
    /// Keys the file has and the model does not (the ignored `position_ids` buffer is not listed).
    public var unexpected: [String] = []
    /// Keys on both sides with different shapes.
    public var mismatched: [Mismatch] = []
    /// Keys whose values were loaded.
    public var loaded: [String] = []

    public var isClean: Bool { missing.isEmpty && unexpected.isEmpty && mismatched.isEmpty }

    public var description: String {
        var parts: [String] = []
        if !missing.isEmpty { parts.append("\(missing.count) missing key(s): \(missing.joined(separator: ", "))") }
        if !unexpected.isEmpty { parts.append("\(unexpected.count) unexpected key(s): \(unexpected.joined(separator: ", "))") }
        if !mismatched.isEmpty {
            let s = mismatched.map { "\($0.key) (model \($0.expected), file \($0.found))" }
            parts.append("\(mismatched.count) shape mismatch(es): \(s.joined(separator: ", "))")
        }
        return parts.isEmpty ? "all \(loaded.count) keys matched" : parts.joined(separator: "; ")
    }
}

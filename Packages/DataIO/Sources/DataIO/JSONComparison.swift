/// Comparisons of JSON values the way Python reads them, for config round-trip and parity checks.
extension JSONValue {
    /// Numbers compare by value (1 == 1.0); everything else structurally.
    public static func equivalent(_ a: JSONValue, _ b: JSONValue) -> Bool {
        switch (a, b) {
        case let (.array(x), .array(y)): return x.count == y.count && zip(x, y).allSatisfy { equivalent($0, $1) }
        case let (.object(x), .object(y)):
            return Set(x.keys) == Set(y.keys) && x.allSatisfy { k, v in y[k].map { equivalent(v, $0) } ?? false }
        default:
            if let p = a.doubleValue, let q = b.doubleValue { return p == q }
            return a == b
        }
    }

    /// The key paths where `reference` holds a double and `written` an integer: Python would read an int where the
    /// library wrote a float (transformers 5 refuses that in its strict config classes).
    public static func floatsWrittenAsInts(reference: JSONValue, written: JSONValue, path: String = "") -> [String] {
        switch (reference, written) {
        case let (.array(x), .array(y)):
            return zip(x, y).enumerated().flatMap {
                floatsWrittenAsInts(reference: $0.element.0, written: $0.element.1, path: "\(path)[\($0.offset)]")
            }
        case let (.object(x), .object(y)):
            return x.keys.sorted().flatMap { k in
                y[k].map { floatsWrittenAsInts(reference: x[k]!, written: $0, path: path.isEmpty ? k : "\(path).\(k)") } ?? []
            }
        case (.double, .int): return [path]
        default: return []
        }
    }
}

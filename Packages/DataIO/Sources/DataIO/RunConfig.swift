import Foundation

/// A run's settings (train-t2i, the adapter stages): a `Codable` struct written as one JSON object with snake_case
/// keys, in which a file or `--set KEY=VALUE` may set any subset of the keys over a base (the defaults). Conformers
/// encode every key (optionals as null), so the keys of `Self().json()` are exactly the keys a file may set.
public protocol RunConfig: Codable {
    /// The defaults.
    init()
    /// Names the config in errors: "config", "tune config", ...
    static var errorLabel: String { get }
    /// Allowed ranges of integer keys (sizes, counts, step numbers), checked on every value a file or override sets,
    /// before the config is built: a value outside names the key. For list values each entry is checked. Default: none.
    static var integerLimits: [String: ClosedRange<Int>] { get }
}

/// A config file or override that cannot be used; the message names the key.
public struct RunConfigError: Error, CustomStringConvertible, Equatable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

extension RunConfig {
    public static var errorLabel: String { "config" }
    public static var integerLimits: [String: ClosedRange<Int>] { [:] }

    /// Every key a config file may set, sorted.
    public static var keys: [String] {
        guard case .object(let o)? = try? Self().json() else { return [] }
        return o.keys.sorted()
    }

    /// The config as a JSON object.
    public func json() throws -> JSONValue {
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys]
        return try JSONValue.parse(enc.encode(self))
    }

    /// `base` with the keys of a JSON object replaced; unknown keys and ill-typed values throw naming the key.
    public static func decode(overrides: JSONValue, base: Self = Self()) throws -> Self {
        let label = errorLabel
        guard case .object(let over) = overrides else { throw RunConfigError("\(label): the top level is not a JSON object") }
        guard case .object(var merged) = try base.json() else { throw RunConfigError("\(label): cannot encode the base config") }
        for (k, v) in over {
            guard merged[k] != nil else {
                throw RunConfigError("\(label): unknown key '\(k)'; known keys: \(keys.joined(separator: ", "))")
            }
            try checkFinite(k, v, label: label)
            if let range = integerLimits[k] { try checkLimit(k, v, range, label: label) }
            merged[k] = v
        }
        func path(_ ctx: DecodingError.Context) -> String { ctx.codingPath.map(\.stringValue).joined(separator: ".") }
        do {
            return try JSONDecoder().decode(Self.self, from: Data(JSONValue.object(merged).serialized().utf8))
        } catch let DecodingError.typeMismatch(_, ctx) {
            throw RunConfigError("\(label): key '\(path(ctx))' has the wrong type (\(ctx.debugDescription))")
        } catch let DecodingError.dataCorrupted(ctx) {
            throw RunConfigError("\(label): key '\(path(ctx))' has an invalid value (\(ctx.debugDescription))")
        } catch {
            throw RunConfigError("\(label): \(error)")
        }
    }

    /// Reads a JSON config file (any subset of the keys) over `base`. Files over `FileBytes.maxConfigFileSize` and
    /// JSON nested deeper than `JSONValue.maxConfigDepth` are refused.
    public static func load(contentsOf url: URL, base: Self = Self()) throws -> Self {
        let data: Data
        do { data = try FileBytes.readSmallFile(url) } catch let e as DataIOError {
            throw RunConfigError("cannot read config file \(url.path): \(e.message)")
        }
        let json: JSONValue
        do { json = try JSONValue.parse(data, maxDepth: JSONValue.maxConfigDepth) } catch {
            throw RunConfigError("config file \(url.path) is not valid JSON: \(error)")
        }
        do { return try decode(overrides: json, base: base) } catch let e as RunConfigError {
            throw RunConfigError("config file \(url.path): \(e.description)")   // name the file, not only the key
        }
    }

    /// Refuses NaN and infinities anywhere in a value (an override built in code or from `--set`, or a file with
    /// Python's `NaN`/`Infinity`, which `JSONValue.parse` accepts), naming the key and list index.
    private static func checkFinite(_ key: String, _ v: JSONValue, label: String) throws {
        switch v {
        case .double(let d) where !d.isFinite:
            throw RunConfigError("\(label): key '\(key)' = \(d) is not a finite number")
        case .array(let a):
            for (i, x) in a.enumerated() { try checkFinite("\(key).\(i)", x, label: label) }
        case .object(let o):
            for (name, x) in o { try checkFinite("\(key).\(name)", x, label: label) }
        default:
            return
        }
    }

    /// Checks an integer (or each integer of a list) against its allowed range; a non-integral number is left to
    /// the decoder's type check.
    private static func checkLimit(_ key: String, _ v: JSONValue, _ range: ClosedRange<Int>, label: String) throws {
        func check(_ x: JSONValue, _ what: String) throws {
            let bad: String?
            switch x {
            case let .int(i): bad = range.contains(i) ? nil : String(i)
            case let .double(d) where d.rounded() == d: bad = d >= Double(range.lowerBound) && d <= Double(range.upperBound) ? nil : "\(d)"
            case .double(let d) where !d.isFinite: bad = "\(d)"
            default: bad = nil
            }
            if let bad {
                throw RunConfigError("\(label): key '\(what)' = \(bad) is outside \(range.lowerBound)...\(range.upperBound)")
            }
        }
        if case let .array(a) = v {
            for (i, x) in a.enumerated() { try check(x, "\(key).\(i)") }
        } else {
            try check(v, key)
        }
    }
}

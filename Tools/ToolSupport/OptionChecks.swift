// Range checks of command-line option values shared by every tool: a number must be finite (Float and Double
// parse "nan" and "inf") and inside the range its use needs; errors name the option and the value.
import ArgumentParser
import DataIO
import Foundation

/// The values an option accepts: an optional lower and upper bound, each inclusive or not.
public struct Bounds<Value: Comparable> {
    public var lower: Value?
    public var lowerIncluded = true
    public var upper: Value?
    public var upperIncluded = true

    /// Any value (for floats: any finite value).
    public static var any: Bounds { Bounds() }
    /// `value >= v`.
    public static func atLeast(_ v: Value) -> Bounds { Bounds(lower: v) }
    /// `value > v`.
    public static func above(_ v: Value) -> Bounds { Bounds(lower: v, lowerIncluded: false) }
    /// `value <= v`.
    public static func atMost(_ v: Value) -> Bounds { Bounds(upper: v) }
    /// `range.lowerBound <= value <= range.upperBound`.
    public static func within(_ range: ClosedRange<Value>) -> Bounds { Bounds(lower: range.lowerBound, upper: range.upperBound) }
    /// `range.lowerBound <= value < range.upperBound`.
    public static func within(_ range: Range<Value>) -> Bounds {
        Bounds(lower: range.lowerBound, upper: range.upperBound, upperIncluded: false)
    }

    public func contains(_ v: Value) -> Bool {
        if let lower, lowerIncluded ? v < lower : v <= lower { return false }
        if let upper, upperIncluded ? v > upper : v >= upper { return false }
        return true
    }

    /// ">= 1", "> 0", "in 0...1", "in [0, 1)", or "" for `any` (floats without a trailing ".0").
    public var text: String {
        func show(_ v: Value) -> String {
            let s = "\(v)"
            return s.hasSuffix(".0") ? String(s.dropLast(2)) : s
        }
        switch (lower.map(show), upper.map(show)) {
        case (nil, nil): return ""
        case let (l?, nil): return (lowerIncluded ? ">= " : "> ") + "\(l)"
        case let (nil, u?): return (upperIncluded ? "<= " : "< ") + "\(u)"
        case let (l?, u?):
            if lowerIncluded && upperIncluded { return "in \(l)...\(u)" }
            return "in \(lowerIncluded ? "[" : "(")\(l), \(u)\(upperIncluded ? "]" : ")")"
        }
    }
}

/// Checks of option values; each throws a `ValidationError` (ArgumentParser prints "Error: ..." and exits with 64)
/// whose message names the option and the rejected value. nil (an option not given) passes.
public enum OptionCheck {
    /// The most images or samples a count option accepts: larger values are typos, and products of them with the
    /// prompt or category counts must not overflow.
    public static let maxCount = 1_000_000
    /// The longest image side in pixels an option accepts (8x Stable Diffusion's largest native size).
    public static let maxImageSide = 8192
    /// Seeds that configs store: run configs are JSON, whose integers this project keeps exact as `Int`.
    public static let maxConfigSeed = UInt64(Int.max)

    /// The sampling options every sampling tool takes: `--steps` >= 1 (the upper bound is the scheduler's
    /// num_train_timesteps, checked once the model is loaded), `--guidance` >= 0 (<= 1: no guidance),
    /// `--guidance-rescale` in 0...1 (nil: the tool has no such option or it was not given).
    public static func sampling(steps: Int?, guidance: Float?, guidanceRescale: Float? = nil) throws {
        try integer("--steps", steps, .atLeast(1))
        try number("--guidance", guidance, .atLeast(0))
        try number("--guidance-rescale", guidanceRescale, .within(0...1))
    }

    /// Throws unless `value` is finite and within `bounds`.
    public static func number<T: BinaryFloatingPoint>(_ option: String, _ value: T?, _ bounds: Bounds<T> = .any) throws {
        guard let value else { return }
        if !value.isFinite || !bounds.contains(value) {
            throw ValidationError("\(option) \(value): expected a finite number\(bounds.text.isEmpty ? "" : " " + bounds.text)")
        }
    }

    /// Throws unless `value` is within `bounds` and, when given, a multiple of `multipleOf`.
    public static func integer<T: BinaryInteger>(_ option: String, _ value: T?, _ bounds: Bounds<T>, multipleOf: T? = nil) throws {
        guard let value else { return }
        let multipleOK = multipleOf.map { value % $0 == 0 } ?? true
        if !bounds.contains(value) || !multipleOK {
            let what = multipleOf.map { "a multiple of \($0)" } ?? "an integer"
            throw ValidationError("\(option) \(value): expected \(what)\(bounds.text.isEmpty ? "" : " " + bounds.text)")
        }
    }

    /// A seed that goes into a run config: at most `Int.max`.
    public static func configSeed(_ option: String, _ value: UInt64?) throws {
        try integer(option, value, .atMost(maxConfigSeed))
    }

    /// Parses and checks an integer option of a hand-parsed command line.
    public static func parseInteger(_ option: String, _ text: String, _ bounds: Bounds<Int>) throws -> Int {
        guard let v = Int(text) else {
            throw ValidationError("\(option) \(text): expected an integer\(bounds.text.isEmpty ? "" : " " + bounds.text)")
        }
        try integer(option, v, bounds)
        return v
    }

    /// Parses and checks a Float option of a hand-parsed command line.
    public static func parseNumber(_ option: String, _ text: String, _ bounds: Bounds<Float> = .any) throws -> Float {
        guard let v = Float(text) else {
            throw ValidationError("\(option) \(text): expected a finite number\(bounds.text.isEmpty ? "" : " " + bounds.text)")
        }
        try number(option, v, bounds)
        return v
    }
}

/// `--set KEY=VALUE` config overrides and `--config` files, checked for NaN and infinities before a run config
/// decodes them (the decoder would reject them without naming the key).
public enum ConfigOverrides {
    /// Parses `KEY=VALUE` pairs into an object: VALUE as JSON, else as a bare string. A value that is or holds
    /// NaN or an infinity (`nan`, `inf`, `Infinity`, `1e999`, `[1, NaN]`) throws naming the key.
    public static func parse(_ sets: [String]) throws -> [String: JSONValue] {
        var over: [String: JSONValue] = [:]
        for s in sets {
            guard let eq = s.firstIndex(of: "=") else { throw ValidationError("--set \(s): expected KEY=VALUE") }
            let key = String(s[..<eq]), raw = String(s[s.index(after: eq)...])
            if let d = Double(raw.trimmingCharacters(in: .whitespaces)), !d.isFinite {
                throw ValidationError("--set \(s): \(key) must be a finite number")
            }
            let value = (try? JSONValue.parse(raw)) ?? .string(raw)
            if let path = nonFinitePath(value) {
                throw ValidationError("--set \(s): \(key)\(path) must be a finite number")
            }
            over[key] = value
        }
        return over
    }

    /// Throws naming the key when the JSON file at `path` holds NaN or an infinity; other problems (unreadable,
    /// not JSON, unknown keys) are left to the config's own loader, which reports them.
    public static func checkFile(_ path: String, option: String = "--config") throws {
        // Read through the config size cap: an endless or multi-GB file must not be slurped by a pre-check.
        guard let data = try? FileBytes.readSmallFile(URL(fileURLWithPath: path)),
              let json = try? JSONValue.parse(data, maxDepth: JSONValue.maxConfigDepth) else { return }
        if let p = nonFinitePath(json) {
            throw ValidationError("\(option) \(path): \(p.hasPrefix(".") ? String(p.dropFirst()) : p) must be a finite number")
        }
    }

    /// The path (".key", "[2]") of the first NaN or infinite number in `v`, "" for `v` itself; nil when every
    /// number is finite.
    static func nonFinitePath(_ v: JSONValue) -> String? {
        switch v {
        case let .double(d): return d.isFinite ? nil : ""
        case let .array(a):
            for (i, e) in a.enumerated() { if let p = nonFinitePath(e) { return "[\(i)]" + p } }
            return nil
        case let .object(o):
            for k in o.keys.sorted() { if let p = nonFinitePath(o[k]!) { return ".\(k)" + p } }
            return nil
        default: return nil
        }
    }
}

import Foundation

/// A config value that diffusers allows as one value or one per block (`attention_head_dim: 8` or `[5, 10, 20, 20]`).
public enum OneOrMany<T: Codable & Equatable & Sendable>: Codable, Equatable, Sendable {
    case one(T)
    case many([T])

    /// The value for each of `count` blocks (a single value repeats).
    public func perBlock(_ count: Int) -> [T] {
        switch self {
        case let .one(v): return Array(repeating: v, count: count)
        case let .many(vs): return vs
        }
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let v = try? c.decode(T.self) { self = .one(v) } else { self = .many(try c.decode([T].self)) }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case let .one(v): try c.encode(v)
        case let .many(vs): try c.encode(vs)
        }
    }
}

/// Upper bounds on each size a model config may ask for, far above any released model (SDXL's U-Net, CLIP ViT-bigG),
/// so that no single field can overflow a shape product. A config beyond one fails to decode with a `limitExceeded`
/// error naming the key (`hidden_size: 1e15`, `num_hidden_layers: 1099511627776`). Fields within their limits can
/// still multiply past memory; the model loaders bound that product by the weights file
/// (`SafetensorsFile.elementBudget(strict:)`, `ParameterStore(initialization:elementBudget:)`).
public enum ConfigLimits {
    /// Channels, hidden sizes, attention heads and head sizes, group counts.
    public static let dimension = 1 << 18
    /// Intermediate (MLP) sizes, embedding input sizes, position counts.
    public static let wideDimension = 1 << 20
    /// Vocabulary sizes and class-embedding counts.
    public static let vocabulary = 1 << 22
    /// Layers per block and transformer layers.
    public static let layers = 1024
    /// Entries of a per-block list (block types, channels per block).
    public static let blocks = 64
    /// Training timesteps of a scheduler (it allocates per-timestep tables), `trained_betas` entries.
    public static let timesteps = 1 << 20
    /// A sample size in pixels or latents.
    public static let sampleSize = 1 << 16
    /// Convolution kernel sizes and paddings.
    public static let kernel = 63
}

/// Reads config fields by their snake_case key with a default when absent or null, and collects the keys that
/// the typed config does not model (kept in `extras` so that a config written back loses nothing).
public struct ConfigReader {
    let container: KeyedDecodingContainer<AnyCodingKey>
    private(set) var known: Set<String> = []

    public init(_ decoder: Decoder) throws { container = try decoder.container(keyedBy: AnyCodingKey.self) }

    /// Whether the file has `key` at all (an explicit null included): diffusers tells "absent" from null for some keys.
    public func contains(_ key: String) -> Bool { container.contains(AnyCodingKey(key)) }

    public mutating func callAsFunction<T: Decodable>(_ key: String, _ defaultValue: T) throws -> T {
        known.insert(key)
        return try named(key) { try container.decodeIfPresent(T.self, forKey: AnyCodingKey(key)) } ?? defaultValue
    }

    public mutating func optional<T: Decodable>(_ key: String) throws -> T? {
        known.insert(key)
        return try named(key) { try container.decodeIfPresent(T.self, forKey: AnyCodingKey(key)) }
    }

    /// Runs a decode of `key`, turning a decoding error into one that names the key even where Foundation gives no
    /// coding path (a number too large for Int, such as `1e300`).
    private func named<R>(_ key: String, _ body: () throws -> R) throws -> R {
        do { return try body() } catch let error as DecodingError {
            let ctx: DecodingError.Context
            let kind: DataIOError.Kind
            switch error {
            case let .typeMismatch(_, c), let .valueNotFound(_, c), let .keyNotFound(_, c): ctx = c; kind = .invalidHeader
            case let .dataCorrupted(c): ctx = c; kind = .invalidJSON
            @unknown default: throw error
            }
            func names(_ keys: [CodingKey]) -> [String] { keys.map { $0.intValue.map(String.init) ?? $0.stringValue } }
            var path = names(ctx.codingPath)
            if !path.contains(key) { path = names(container.codingPath) + [key] }
            throw DataIOError(kind, file: ConfigReader.unnamed, item: path.joined(separator: "."), ctx.debugDescription)
        }
    }

    /// An integer size or count; outside `range` it throws `limitExceeded` naming the key.
    public mutating func size(_ key: String, _ defaultValue: Int, _ range: ClosedRange<Int>) throws -> Int {
        let v: Int = try self(key, defaultValue)
        try ConfigReader.check(key, v, range)
        return v
    }

    /// An optional integer size (null or absent: nil).
    public mutating func optionalSize(_ key: String, _ range: ClosedRange<Int>) throws -> Int? {
        let v: Int? = try optional(key)
        if let v { try ConfigReader.check(key, v, range) }
        return v
    }

    /// A list of sizes, one per block: at most `maxCount` entries, each in `range`.
    public mutating func sizes(_ key: String, _ defaultValue: [Int], _ range: ClosedRange<Int>,
                        maxCount: Int = ConfigLimits.blocks) throws -> [Int] {
        let v = try list(key, defaultValue, maxCount: maxCount)
        for (i, x) in v.enumerated() { try ConfigReader.check("\(key).\(i)", x, range) }
        return v
    }

    /// One size or one per block.
    public mutating func sizes(_ key: String, _ defaultValue: OneOrMany<Int>, _ range: ClosedRange<Int>) throws -> OneOrMany<Int> {
        try ConfigReader.check(key, try self(key, defaultValue), range)
    }

    /// An optional size or one per block.
    public mutating func optionalSizes(_ key: String, _ range: ClosedRange<Int>) throws -> OneOrMany<Int>? {
        let v: OneOrMany<Int>? = try optional(key)
        if let v { try ConfigReader.check(key, v, range) }
        return v
    }

    /// A list of at most `maxCount` entries.
    public mutating func list<T: Decodable>(_ key: String, _ defaultValue: [T], maxCount: Int = ConfigLimits.blocks) throws -> [T] {
        let v: [T] = try self(key, defaultValue)
        try ConfigReader.checkCount(key, v.count, maxCount)
        return v
    }

    /// An optional list of at most `maxCount` entries.
    public mutating func optionalList<T: Decodable>(_ key: String, maxCount: Int) throws -> [T]? {
        let v: [T]? = try optional(key)
        if let v { try ConfigReader.checkCount(key, v.count, maxCount) }
        return v
    }

    /// A one-or-per-block value whose list form holds at most `ConfigLimits.blocks` entries.
    public mutating func oneOrMany<T>(_ key: String, _ defaultValue: OneOrMany<T>) throws -> OneOrMany<T> {
        let v: OneOrMany<T> = try self(key, defaultValue)
        if case let .many(a) = v { try ConfigReader.checkCount(key, a.count, ConfigLimits.blocks) }
        return v
    }

    static func check(_ key: String, _ v: Int, _ range: ClosedRange<Int>) throws {
        guard range.contains(v) else {
            throw DataIOError(.limitExceeded, file: ConfigReader.unnamed, item: key,
                              "value \(v) is outside \(range.lowerBound)...\(range.upperBound)")
        }
    }

    @discardableResult
    static func check(_ key: String, _ v: OneOrMany<Int>, _ range: ClosedRange<Int>) throws -> OneOrMany<Int> {
        switch v {
        case let .one(x): try check(key, x, range)
        case let .many(a):
            try checkCount(key, a.count, ConfigLimits.blocks)
            for (i, x) in a.enumerated() { try check("\(key).\(i)", x, range) }
        }
        return v
    }

    static func checkCount(_ key: String, _ count: Int, _ maxCount: Int) throws {
        guard count <= maxCount else {
            throw DataIOError(.limitExceeded, file: ConfigReader.unnamed, item: key,
                              "list of \(count) entries exceeds the limit of \(maxCount)")
        }
    }

    /// The file name of limit errors thrown while decoding; `ConfigFile.decode` replaces it with the real name.
    static let unnamed = "<config>"

    public func extras() throws -> [String: JSONValue] {
        var out: [String: JSONValue] = [:]
        for k in container.allKeys where !known.contains(k.stringValue) {
            out[k.stringValue] = try container.decode(JSONValue.self, forKey: k)
        }
        return out
    }
}

/// Writes config fields by key; optionals are written as null, like diffusers' `save_config`.
public struct ConfigWriter {
    var container: KeyedEncodingContainer<AnyCodingKey>

    public init(_ encoder: Encoder) { container = encoder.container(keyedBy: AnyCodingKey.self) }

    public mutating func callAsFunction<T: Encodable>(_ key: String, _ value: T?) throws {
        if let value { try container.encode(value, forKey: AnyCodingKey(key)) } else { try container.encodeNil(forKey: AnyCodingKey(key)) }
    }

    public mutating func extras(_ extras: [String: JSONValue]) throws {
        for (k, v) in extras { try container.encode(v, forKey: AnyCodingKey(k)) }
    }
}

/// JSON reading and writing of configs with the file named in errors.
public enum ConfigFile {
    /// Decodes a config file; errors name the file and the key path at fault. Files over
    /// `FileBytes.maxConfigFileSize` are refused before they are read.
    public static func read<T: Decodable>(_ type: T.Type, from url: URL) throws -> T {
        try decode(type, from: FileBytes.readSmallFile(url), name: url.path)
    }

    /// Decodes config JSON held in memory; `name` identifies it in errors. Nesting deeper than
    /// `JSONValue.maxConfigDepth` and sizes beyond `ConfigLimits` are `limitExceeded` errors.
    public static func decode<T: Decodable>(_ type: T.Type, from data: Data, name: String) throws -> T {
        do {
            try data.withUnsafeBytes { try JSONValue.checkNesting($0, maxDepth: JSONValue.maxConfigDepth) }
        } catch let e as JSONValue.ParseError {
            throw DataIOError(.limitExceeded, file: name, "JSON \(e)")
        }
        do {
            return try JSONDecoder().decode(type, from: data)
        } catch let e as DataIOError where e.file == ConfigReader.unnamed {
            throw DataIOError(e.kind, file: name, item: e.item, e.message)
        } catch let DecodingError.typeMismatch(_, ctx), let DecodingError.valueNotFound(_, ctx),
                let DecodingError.keyNotFound(_, ctx) {
            let path = ctx.codingPath.map { $0.intValue.map(String.init) ?? $0.stringValue }.joined(separator: ".")
            throw DataIOError(.invalidHeader, file: name, item: path.isEmpty ? nil : path, ctx.debugDescription)
        } catch let DecodingError.dataCorrupted(ctx) {
            let path = ctx.codingPath.map { $0.intValue.map(String.init) ?? $0.stringValue }.joined(separator: ".")
            if path.isEmpty, let (where_, why) = locateFault(data) {
                throw DataIOError(.invalidJSON, file: name, item: where_, why)
            }
            throw DataIOError(.invalidJSON, file: name, item: path.isEmpty ? nil : path, "invalid JSON: \(ctx.debugDescription)")
        }
    }

    /// Foundation reports malformed JSON, and a number too large for any integer (`1e300`), without a location:
    /// find it with `JSONValue.parse` (the byte offset of a syntax error) or a walk for such numbers (their key).
    private static func locateFault(_ data: Data) -> (String?, String)? {
        let json: JSONValue
        do { json = try JSONValue.parse(data, maxDepth: JSONValue.maxConfigDepth) } catch let e as JSONValue.ParseError {
            return (nil, "invalid JSON: \(e)")
        } catch { return nil }
        func walk(_ v: JSONValue, _ path: [String]) -> (String?, String)? {
            switch v {
            case let .double(d) where d.rounded() == d && abs(d) >= 0x1p63:
                return (path.joined(separator: "."), "number \(d) is too large for an integer field")
            case let .array(a):
                for (i, x) in a.enumerated() { if let r = walk(x, path + [String(i)]) { return r } }
            case let .object(o):
                for k in o.keys.sorted() { if let r = walk(o[k]!, path + [k]) { return r } }
            default: break
            }
            return nil
        }
        return walk(json, [])
    }

    /// Indented JSON with sorted keys, as diffusers and transformers write `config.json`; doubles keep their ".0"
    /// (`JSONValueEncoder`), so transformers' strict config classes read them back as floats.
    public static func encode<T: Encodable>(_ value: T) throws -> Data {
        Data(try JSONValueEncoder().encode(value).prettySerialized().utf8)
    }

    /// Writes a config atomically.
    public static func write<T: Encodable>(_ value: T, to url: URL) throws {
        try AtomicFile.write(encode(value), to: url)
    }
}

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

/// Reads config fields by their snake_case key with a default when absent or null, and collects the keys that
/// the typed config does not model (kept in `extras` so that a config written back loses nothing).
struct ConfigReader {
    let container: KeyedDecodingContainer<AnyCodingKey>
    private(set) var known: Set<String> = []

    init(_ decoder: Decoder) throws { container = try decoder.container(keyedBy: AnyCodingKey.self) }

    mutating func callAsFunction<T: Decodable>(_ key: String, _ defaultValue: T) throws -> T {
        known.insert(key)
        return try container.decodeIfPresent(T.self, forKey: AnyCodingKey(key)) ?? defaultValue
    }

    mutating func optional<T: Decodable>(_ key: String) throws -> T? {
        known.insert(key)
        return try container.decodeIfPresent(T.self, forKey: AnyCodingKey(key))
    }

    func extras() throws -> [String: JSONValue] {
        var out: [String: JSONValue] = [:]
        for k in container.allKeys where !known.contains(k.stringValue) {
            out[k.stringValue] = try container.decode(JSONValue.self, forKey: k)
        }
        return out
    }
}

/// Writes config fields by key; optionals are written as null, like diffusers' `save_config`.
struct ConfigWriter {
    var container: KeyedEncodingContainer<AnyCodingKey>

    init(_ encoder: Encoder) { container = encoder.container(keyedBy: AnyCodingKey.self) }

    mutating func callAsFunction<T: Encodable>(_ key: String, _ value: T?) throws {
        if let value { try container.encode(value, forKey: AnyCodingKey(key)) } else { try container.encodeNil(forKey: AnyCodingKey(key)) }
    }

    mutating func extras(_ extras: [String: JSONValue]) throws {
        for (k, v) in extras { try container.encode(v, forKey: AnyCodingKey(k)) }
    }
}

/// JSON reading and writing of configs with the file named in errors.
public enum ConfigFile {
    /// Decodes a config file; errors name the file and the key path at fault.
    public static func read<T: Decodable>(_ type: T.Type, from url: URL) throws -> T {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw DataIOError(.notFound, file: url.path, "cannot read config: \(error.localizedDescription)")
        }
        return try decode(type, from: data, name: url.path)
    }

    /// Decodes config JSON held in memory; `name` identifies it in errors.
    public static func decode<T: Decodable>(_ type: T.Type, from data: Data, name: String) throws -> T {
        do {
            return try JSONDecoder().decode(type, from: data)
        } catch let DecodingError.typeMismatch(_, ctx), let DecodingError.valueNotFound(_, ctx),
                let DecodingError.keyNotFound(_, ctx) {
            let path = ctx.codingPath.map { $0.intValue.map(String.init) ?? $0.stringValue }.joined(separator: ".")
            throw DataIOError(.invalidHeader, file: name, item: path.isEmpty ? nil : path, ctx.debugDescription)
        } catch let DecodingError.dataCorrupted(ctx) {
            let path = ctx.codingPath.map { $0.intValue.map(String.init) ?? $0.stringValue }.joined(separator: ".")
            throw DataIOError(.invalidJSON, file: name, item: path.isEmpty ? nil : path, "invalid JSON: \(ctx.debugDescription)")
        }
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

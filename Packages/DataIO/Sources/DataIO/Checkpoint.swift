import Foundation
import Tensor

/// What a checkpoint records besides its tensors (stored in the safetensors `__metadata__` block).
public struct CheckpointInfo: Equatable, Sendable {
    public var formatVersion: Int
    public var step: Int
    public var seed: UInt64
    /// The run's configuration as JSON.
    public var config: JSONValue
    /// Any further string metadata.
    public var extra: [String: String]

    public init(step: Int, seed: UInt64, config: JSONValue, extra: [String: String] = [:],
                formatVersion: Int = Checkpoint.formatVersion) {
        self.formatVersion = formatVersion
        self.step = step
        self.seed = seed
        self.config = config
        self.extra = extra
    }
}

/// Crash-safe training checkpoints: safetensors files written atomically (temporary file in the same folder,
/// fsync, rename, folder fsync) named `<prefix>-<step, 8 digits>.safetensors`, with a `CheckpointInfo` block.
/// A crash during a save leaves at most a temporary file, which discovery ignores.
public enum Checkpoint {
    public static let formatVersion = 1
    static let keyVersion = "dpt.format_version", keyStep = "dpt.step", keySeed = "dpt.seed", keyConfig = "dpt.config"

    /// The file name of the checkpoint of `step`.
    public static func fileName(step: Int, prefix: String = "checkpoint") -> String {
        "\(prefix)-\(String(format: "%08d", step)).safetensors"
    }

    /// Saves Float32 tensors as a checkpoint in `folder` (created if needed); returns the file written.
    /// `keepLast` removes all but the newest that many checkpoints afterwards.
    @discardableResult
    public static func save(_ tensors: [String: Tensor], info: CheckpointInfo, in folder: URL, prefix: String = "checkpoint",
                            keepLast: Int? = nil) throws -> URL {
        var w = SafetensorsWriter()
        for (k, v) in tensors { try w.add(k, v) }
        return try save(w, info: info, in: folder, prefix: prefix, keepLast: keepLast)
    }

    /// Saves a prepared writer (e.g. with integer arrays such as RNG or data-order state) as a checkpoint.
    @discardableResult
    public static func save(_ writer: SafetensorsWriter, info: CheckpointInfo, in folder: URL, prefix: String = "checkpoint",
                            keepLast: Int? = nil) throws -> URL {
        guard info.step >= 0 else { throw DataIOError(.invalidArgument, file: folder.path, "checkpoint step \(info.step) is negative") }
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        var w = writer
        var md = w.metadata
        for (k, v) in info.extra { md[k] = v }
        md["format"] = md["format"] ?? "pt"
        md[keyVersion] = String(info.formatVersion)
        md[keyStep] = String(info.step)
        md[keySeed] = String(info.seed)
        md[keyConfig] = info.config.serialized()
        w.metadata = md
        let url = folder.appendingPathComponent(fileName(step: info.step, prefix: prefix))
        try w.write(to: url)
        if let keepLast, keepLast > 0 {
            for old in list(in: folder, prefix: prefix).dropLast(keepLast) { try? FileManager.default.removeItem(at: old.url) }
        }
        return url
    }

    /// Opens a checkpoint and reads its info; errors name the file and the missing or bad key.
    public static func load(_ url: URL) throws -> (file: SafetensorsFile, info: CheckpointInfo) {
        let f = try SafetensorsFile(contentsOf: url)
        return (f, try info(of: f))
    }

    /// A checkpoint's tensors grouped by name prefix ("model.", "opt.", ...; the prefix stripped, the tensors
    /// copied out of the file). A tensor under none of the prefixes throws, naming it and the file.
    public static func tensorGroups(_ f: SafetensorsFile, prefixes: [String]) throws -> [String: [String: Tensor]] {
        var out: [String: [String: Tensor]] = Dictionary(uniqueKeysWithValues: prefixes.map { ($0, [:]) })
        for name in f.tensorNames {
            guard let p = prefixes.first(where: { name.hasPrefix($0) }) else {
                throw DataIOError(.invalidHeader, file: f.name, item: name,
                                  "unexpected tensor '\(name)' (not \(prefixes.map { $0 + "*" }.joined(separator: ", ")))")
            }
            let key = String(name.dropFirst(p.count))
            guard !key.isEmpty else {
                throw DataIOError(.invalidHeader, file: f.name, item: name, "tensor name is only the group prefix '\(p)'")
            }
            out[p]![key] = Tensor(copying: try f.tensor(name))
        }
        return out
    }

    /// The `CheckpointInfo` of an open file. Numbers are parsed strictly (decimal digits, no sign on the step and
    /// version), the step must be non-negative and the version in 1...`formatVersion`; the config JSON nests at most
    /// `JSONValue.maxConfigDepth` deep.
    public static func info(of f: SafetensorsFile) throws -> CheckpointInfo {
        let md = f.metadata
        func need(_ k: String) throws -> String {
            guard let v = md[k] else { throw DataIOError(.invalidHeader, file: f.name, item: k, "checkpoint metadata key missing") }
            return v
        }
        let versionText = try need(keyVersion)
        guard let version = decimal(versionText) else {
            throw DataIOError(.invalidHeader, file: f.name, item: keyVersion, "'\(versionText.prefix(40))' is not an integer")
        }
        guard version >= 1 else {
            throw DataIOError(.invalidHeader, file: f.name, item: keyVersion, "format version \(version) is not a version (they start at 1)")
        }
        guard version <= formatVersion else {
            throw DataIOError(.invalidHeader, file: f.name, item: keyVersion, "format version \(version) is newer than this reader (\(formatVersion))")
        }
        let stepText = try need(keyStep)
        guard let step = decimal(stepText) else {
            throw DataIOError(.invalidHeader, file: f.name, item: keyStep,
                              "'\(stepText.prefix(40))' is not a non-negative integer of at most 18 digits")
        }
        let seedText = try need(keySeed)
        guard seedText.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), let seed = UInt64(seedText) else {
            throw DataIOError(.invalidHeader, file: f.name, item: keySeed, "'\(seedText.prefix(40))' is not an unsigned 64-bit integer")
        }
        let config: JSONValue
        do { config = try JSONValue.parse(try need(keyConfig), maxDepth: JSONValue.maxConfigDepth) } catch let e as JSONValue.ParseError {
            throw DataIOError(e.exceedsDepthLimit ? .limitExceeded : .invalidJSON, file: f.name, item: keyConfig, "invalid JSON: \(e)")
        }
        var extra = md
        for k in [keyVersion, keyStep, keySeed, keyConfig] { extra[k] = nil }
        return CheckpointInfo(step: step, seed: seed, config: config, extra: extra, formatVersion: version)
    }

    /// A non-negative decimal of 1 to 18 digits (so that it fits Int and leaves room for step arithmetic), or nil.
    static func decimal<S: StringProtocol>(_ s: S) -> Int? {
        guard (1...18).contains(s.utf8.count), s.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
        return Int(s)
    }

    /// Checkpoint files in `folder` by step (oldest first), by name only (not validated); temporary files excluded.
    /// The step in a name must be plain decimal digits (no sign).
    public static func list(in folder: URL, prefix: String = "checkpoint") -> [(step: Int, url: URL)] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        let head = prefix + "-", tail = ".safetensors"
        return names.compactMap { n -> (Int, URL)? in
            guard n.hasPrefix(head), n.hasSuffix(tail) else { return nil }
            guard let step = decimal(n.dropFirst(head.count).dropLast(tail.count)) else { return nil }
            return (step, folder.appendingPathComponent(n))
        }.sorted { $0.0 < $1.0 }
    }

    /// The newest checkpoint that opens, validates and carries complete info (for resuming), or nil.
    public static func latest(in folder: URL, prefix: String = "checkpoint") -> (url: URL, info: CheckpointInfo)? {
        for c in list(in: folder, prefix: prefix).reversed() {
            if let (_, info) = try? load(c.url), info.step == c.step { return (c.url, info) }
        }
        return nil
    }
}

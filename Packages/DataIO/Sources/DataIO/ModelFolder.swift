import Foundation
import Tensor

/// One component subfolder of a model folder: a `config.json` (or `scheduler_config.json`) and safetensors weights.
///
/// Works for the standard diffusers components and for those this project adds (the discriminative adapter, LoRA
/// weights): any subfolder with its own config and weights file.
public struct ComponentFolder: Sendable {
    public let url: URL
    public init(_ url: URL) { self.url = url }

    public var name: String { url.lastPathComponent }

    /// The config file: `config.json`, or `scheduler_config.json` for schedulers.
    public var configURL: URL {
        let c = url.appendingPathComponent("config.json")
        let s = url.appendingPathComponent("scheduler_config.json")
        if !FileManager.default.fileExists(atPath: c.path) && FileManager.default.fileExists(atPath: s.path) { return s }
        return c
    }

    /// Decodes the config as `type`.
    public func config<T: Decodable>(_ type: T.Type) throws -> T {
        guard FileManager.default.fileExists(atPath: configURL.path) else {
            throw DataIOError(.notFound, file: url.path, item: name, "component has no config.json")
        }
        return try ConfigFile.read(type, from: configURL)
    }

    /// The weights file: the diffusers/transformers standard names, a `variant` (e.g. "fp16") if given, or the
    /// only `*.safetensors` file in the folder.
    public func weightsURL(variant: String? = nil) throws -> URL {
        let stems = ["diffusion_pytorch_model", "model", "pytorch_lora_weights", "adapter_model", "weights"]
        let files = (try? FileManager.default.contentsOfDirectory(atPath: url.path)) ?? []
        for stem in stems {
            let f = variant.map { "\(stem).\($0).safetensors" } ?? "\(stem).safetensors"
            if files.contains(f) { return url.appendingPathComponent(f) }
        }
        let all = files.filter { $0.hasSuffix(".safetensors") && !$0.hasPrefix(AtomicFile.temporaryPrefix) }
        if variant == nil, all.count == 1 { return url.appendingPathComponent(all[0]) }
        throw DataIOError(.notFound, file: url.path, item: name,
                          "no weights file\(variant.map { " for variant \($0)" } ?? "") (found: \(all.sorted().joined(separator: ", ")))")
    }

    /// Opens the weights (memory-mapped).
    public func weights(variant: String? = nil) throws -> SafetensorsFile {
        try SafetensorsFile(contentsOf: weightsURL(variant: variant))
    }

    /// Creates the folder if needed and writes `config.json` and the weights file atomically.
    public func write<C: Encodable>(config: C, weights: [String: Tensor], metadata: [String: String] = [:],
                                    weightsName: String = "model.safetensors", as dtype: SafetensorsDType = .F32) throws {
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        try SafetensorsFile.write(weights, metadata: metadata, as: dtype, to: url.appendingPathComponent(weightsName))
        try ConfigFile.write(config, to: url.appendingPathComponent("config.json"))
    }
}

/// A model folder in the diffusers layout:
/// `model_index.json`, `unet/`, `vae/`, `text_encoder/`, `tokenizer/`, `scheduler/`, plus any further components.
public struct ModelFolder: Sendable {
    public let url: URL

    /// A folder that must exist.
    public init(_ url: URL) throws {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDir), isDir.boolValue else {
            throw DataIOError(.notFound, file: url.path, "model folder does not exist")
        }
        self.url = url
    }

    public func component(_ name: String) -> ComponentFolder { ComponentFolder(url.appendingPathComponent(name)) }

    /// Subfolders that hold a config file, sorted.
    public var componentNames: [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: url.path)) ?? []
        return names.filter { n in
            let c = component(n)
            return FileManager.default.fileExists(atPath: c.url.appendingPathComponent("config.json").path)
                || FileManager.default.fileExists(atPath: c.url.appendingPathComponent("scheduler_config.json").path)
        }.sorted()
    }

    public func modelIndex() throws -> ModelIndex { try ConfigFile.read(ModelIndex.self, from: url.appendingPathComponent("model_index.json")) }

    /// `tokenizer/vocab.json` and `tokenizer/merges.txt`; both must exist.
    public func tokenizerFiles() throws -> (vocab: URL, merges: URL) {
        let dir = url.appendingPathComponent("tokenizer")
        let vocab = dir.appendingPathComponent("vocab.json"), merges = dir.appendingPathComponent("merges.txt")
        for f in [vocab, merges] where !FileManager.default.fileExists(atPath: f.path) {
            throw DataIOError(.notFound, file: f.path, item: "tokenizer", "tokenizer file missing")
        }
        return (vocab, merges)
    }

    /// Writes `model_index.json` atomically (creating the folder).
    public static func writeIndex(_ index: ModelIndex, to url: URL) throws {
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        try ConfigFile.write(index, to: url.appendingPathComponent("model_index.json"))
    }
}

extension ModelFolder {
    /// The most sampling steps a model folder's `train_config.json` may ask for (diffusers' schedulers allow at most
    /// their training timesteps, 1,000 for Stable Diffusion).
    public static let maxSampleSteps = 10_000

    /// The sampling settings a model folder written by a training tool asks for: `sample_steps` and `guidance_scale`
    /// of its `train_config.json`, each falling back to `fallback` when the file lacks it; nil when the folder has
    /// no such file (a diffusers Stable Diffusion folder). Only these two keys are read, so a config of an older or
    /// newer trainer still gives them. A present but malformed file or key throws, naming it; so does a file over
    /// `FileBytes.maxConfigFileSize`, JSON nested deeper than `JSONValue.maxConfigDepth`, or `sample_steps` above
    /// `maxSampleSteps`.
    public static func samplingDefaults(in folder: URL, fallback: (steps: Int, guidanceScale: Float))
        throws -> (steps: Int, guidanceScale: Float)? {
        let url = folder.appendingPathComponent("train_config.json")
        guard FileManager.default.fileExists(atPath: url.path) else { return nil }
        let data = try FileBytes.readSmallFile(url)
        do {
            try data.withUnsafeBytes { try JSONValue.checkNesting($0, maxDepth: JSONValue.maxConfigDepth) }
        } catch let e as JSONValue.ParseError {
            throw DataIOError(.limitExceeded, file: url.path, "JSON \(e)")
        }
        let object: Any
        do { object = try JSONSerialization.jsonObject(with: data) } catch {
            throw DataIOError(.invalidJSON, file: url.path, "not readable JSON: \(error.localizedDescription)")
        }
        guard let dict = object as? [String: Any] else { throw DataIOError(.invalidHeader, file: url.path, "not a JSON object") }
        var result = fallback
        if let v = dict["sample_steps"] {
            guard let n = v as? NSNumber, n.doubleValue.rounded() == n.doubleValue, n.doubleValue >= 1 else {
                throw DataIOError(.invalidHeader, file: url.path, item: "sample_steps", "\(v) is not a positive integer")
            }
            guard n.doubleValue <= Double(maxSampleSteps) else {
                throw DataIOError(.limitExceeded, file: url.path, item: "sample_steps", "\(v) exceeds the limit of \(maxSampleSteps) steps")
            }
            result.steps = n.intValue
        }
        if let v = dict["guidance_scale"] {
            guard let n = v as? NSNumber, n.doubleValue.isFinite else {
                throw DataIOError(.invalidHeader, file: url.path, item: "guidance_scale", "\(v) is not a number")
            }
            result.guidanceScale = n.floatValue
        }
        return result
    }
}

import Autodiff
import DataIO
import Foundation
import NN
import Tensor

/// Reading and writing `text_encoder/` folders (`config.json` + `model.safetensors`).
extension CLIPTextModel {
    /// The key of the unused `position_ids` buffer that transformers 4 saved (non-persistent since; ignored on load,
    /// as transformers does).
    static let positionIDsKeys: Set<String> = ["text_model.embeddings.position_ids", "embeddings.position_ids"]

    /// Loads a `text_encoder/` folder. The projection is built when the config's `architectures` names
    /// `CLIPTextModelWithProjection` or the file holds `text_projection.weight`. Strict (the default): every model
    /// key must be in the file with its shape and nothing else may be (the old `position_ids` buffer excepted),
    /// else `TextEncoderError.weightMismatch` lists the keys. Float16/BFloat16 weights are widened to Float32.
    public convenience init(folder url: URL, strict: Bool = true, variant: String? = nil) throws {
        let folder = ComponentFolder(url)
        let config = try folder.config(CLIPTextConfig.self)
        let file = try folder.weights(variant: variant)
        let withProjection = (config.architectures ?? []).contains("CLIPTextModelWithProjection")
            || file.contains("text_projection.weight")
        let store = ParameterStore(initialization: .uninitialized, elementBudget: file.elementBudget(strict: strict))
        try self.init(config: config, vb: store.root, withProjection: withProjection)
        // A config asking for more parameters than the file holds is refused before they are allocated.
        if let message = store.budgetMessage(config: folder.configURL.path, weights: file.name, weightsElements: file.totalElements) {
            throw TextEncoderError.invalidConfig(message)
        }
        try loadWeights(from: file, strict: strict)
    }

    /// Checkpoint key (as in the file) -> parameter of this model, for every parameter.
    public var checkpointParameters: [(key: String, variable: Variable)] {
        let prefix = path.isEmpty ? "" : path + "."
        return store.namedParameters(prefix: path, includeAdapters: false).map { (String($0.name.dropFirst(prefix.count)), $0.variable) }
    }

    /// Loads weights by checkpoint key. Accepts the SD-folder layout (`text_model.*`, transformers 4 and
    /// `CLIPTextModelWithProjection`) and transformers 5's `CLIPTextModel` layout (the same keys without
    /// `text_model.`). Strict: nothing is loaded unless the file matches exactly. Non-strict: matching keys are
    /// loaded and the report lists the rest.
    @discardableResult
    public func loadWeights(from file: SafetensorsFile, strict: Bool = true) throws -> CLIPWeightReport {
        var tensors: [String: Tensor] = [:]
        var report = CLIPWeightReport()
        let names = file.tensorNames.filter { !CLIPTextModel.positionIDsKeys.contains($0) }
        let prefixed = names.contains { $0.hasPrefix("text_model.") }
        for name in names {
            let key = prefixed || name == "text_projection.weight" ? name : "text_model." + name
            tensors[key] = try file.tensor(name)
        }
        report = try load(tensors, strict: strict, file: file.name)
        return report
    }

    /// Loads weights given by checkpoint key (`text_model.…`, `text_projection.weight`); see `loadWeights(from:)`.
    @discardableResult
    public func load(_ tensors: [String: Tensor], strict: Bool = true, file: String = "<state dict>") throws -> CLIPWeightReport {
        var report = CLIPWeightReport()
        let params = checkpointParameters
        let expected = Set(params.map(\.key))
        var matched: [String: Tensor] = [:]
        for (key, v) in params {
            guard let t = tensors[key] else { report.missing.append(key); continue }
            if t.shape != v.value.shape {
                report.mismatched.append(.init(key: key, expected: v.value.shape, found: t.shape))
            } else {
                matched[key] = t
            }
        }
        report.unexpected = tensors.keys.filter { !expected.contains($0) && !CLIPTextModel.positionIDsKeys.contains($0) }.sorted()
        if strict && !report.isClean { throw TextEncoderError.weightMismatch(file: file, report: report) }
        // Through the store, so that it also forgets that these parameters were uninitialised.
        let prefix = path.isEmpty ? "" : path + "."
        let full = Dictionary(uniqueKeysWithValues: matched.map { (prefix + $0.key, $0.value) })
        _ = try store.loadStateDict(full, scope: .model, strict: false)
        report.loaded = params.map(\.key).filter { matched[$0] != nil }
        return report
    }

    /// The weights by checkpoint key (`text_model.…`, `text_projection.weight`), sharing storage.
    public func checkpointStateDict() -> [String: Tensor] {
        Dictionary(uniqueKeysWithValues: checkpointParameters.map { ($0.key, $0.variable.value) })
    }

    /// Writes `config.json` (with `architectures` set to this class) and `model.safetensors` in the SD-folder
    /// layout, which transformers 4 and 5 both load.
    public func save(toFolder url: URL, as dtype: SafetensorsDType = .F32) throws {
        var c = config
        c.architectures = [textProjection == nil ? "CLIPTextModel" : "CLIPTextModelWithProjection"]
        try ComponentFolder(url).write(config: c, weights: checkpointStateDict(), as: dtype)
    }
}

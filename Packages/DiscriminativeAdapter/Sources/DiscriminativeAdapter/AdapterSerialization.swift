import DataIO
import Diffusion
import Foundation
import NN
import Tensor

/// Saving and loading the adapter as a model-folder component: `<model>/adapter/config.json` (`AdapterConfig`,
/// snake_case, `_class_name` "DiscriminativeAdapter") and `<model>/adapter/model.safetensors` (float32, the
/// state-dict names of `DiscriminativeAdapter`).
extension DiscriminativeAdapter {
    /// The weights file name inside the component folder.
    public static let weightsFileName = "model.safetensors"
    /// The component folder name inside a model folder.
    public static let componentName = "adapter"

    /// Writes `config.json` and the weights into `folder` (created if needed; files replaced atomically).
    public func save(to folder: ComponentFolder, metadata: [String: String] = [:]) throws {
        try folder.write(config: config, weights: store.stateDict(), metadata: metadata.merging(["format": "pt"]) { a, _ in a },
                         weightsName: Self.weightsFileName)
    }

    /// Loads an adapter saved by `save(to:)`. Strict: any missing, unexpected or mis-shaped tensor throws, naming
    /// every offending key; an unknown config key throws too.
    public static func load(from folder: ComponentFolder, strict: Bool = true) throws -> DiscriminativeAdapter {
        let config = try folder.config(AdapterConfig.self)
        let file = try folder.weights()
        let store = ParameterStore(initialization: .uninitialized, elementBudget: file.elementBudget(strict: strict))
        let adapter = try DiscriminativeAdapter(config: config, store: store)
        if let message = store.budgetMessage(config: folder.configURL.path, weights: file.name, weightsElements: file.totalElements) {
            throw AdapterError.config(message)   // refused before the excess is allocated
        }
        var dict: [String: Tensor] = [:]
        for name in file.tensorNames { dict[name] = try file.tensor(name) }
        do {
            try adapter.store.loadStateDict(dict, strict: strict)
        } catch let e as StateDictError {
            throw AdapterError.weights("\(file.name): \(e.report)")
        }
        return adapter
    }

    /// The `adapter` component of a model folder.
    public static func load(from model: ModelFolder, strict: Bool = true) throws -> DiscriminativeAdapter {
        try load(from: model.component(componentName), strict: strict)
    }
}

extension DiscriminativeAdapter {
    /// The weights-metadata key of a control adapter trained on a random U-Net: the seed that U-Net was drawn from.
    public static let randomUNetSeedKey = "dpt.random_unet_seed"

    /// The random U-Net seed recorded in an adapter folder's weights metadata, or nil.
    public static func randomUNetSeed(in folder: ComponentFolder) throws -> UInt64? {
        let md = try folder.weights(variant: nil).metadata
        guard let s = md[randomUNetSeedKey] else { return nil }
        guard let v = UInt64(s) else {
            throw AdapterError.weights("\(folder.url.path): metadata \(randomUNetSeedKey) '\(s)' is not an unsigned integer")
        }
        return v
    }

    /// Throws unless this adapter can read `denoiser`: its taps exist there and give the channels it was built for,
    /// and (when given) the text encoder pools to the width its matching head maps to. `source` (e.g. the adapter
    /// folder) starts the message.
    public func checkFits(_ denoiser: any Denoiser, textWidth: Int? = nil, source: String) throws {
        let taps = config.featureTaps
        let unknown = taps.filter { !denoiser.tapNames.contains($0) }
        guard unknown.isEmpty else {
            throw AdapterError.config("\(source) reads taps \(taps) this U-Net does not have (\(unknown.joined(separator: ", "))); valid taps: \(denoiser.tapNames.joined(separator: ", "))")
        }
        let expected = try FeatureTaps.featureChannels(of: taps, denoiser: denoiser)
        guard expected == config.featureChannels else {
            throw AdapterError.config("\(source) reads \(config.featureChannels) channels from \(taps) but this U-Net gives \(expected)")
        }
        if let textWidth, textWidth != config.textEmbeddingDim {
            throw AdapterError.config("\(source) maps to text embeddings of width \(config.textEmbeddingDim) but this model's text encoder pools to \(textWidth)")
        }
    }
}

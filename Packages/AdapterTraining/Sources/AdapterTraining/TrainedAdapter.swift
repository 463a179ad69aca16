import DataIO
import Diffusion
import DiscriminativeAdapter
import Foundation

/// Loading a trained adapter with the U-Net it was trained on: the model folder's U-Net, or for a control adapter
/// (its weights file records `dpt.random_unet_seed`) the same random U-Net rebuilt from that seed.
public enum TrainedAdapter {
    /// Loads `adapterFolder` (default: `<model>/adapter`) and the matching model; throws naming the folder when
    /// the adapter is missing or does not fit the U-Net. `lora` (a stage-2 `unet_lora` folder) is merged into the
    /// U-Net first, so that a tuned adapter is evaluated on the features it was tuned with.
    public static func load(model modelURL: URL, adapterFolder: URL? = nil, lora: URL? = nil) throws -> (model: ProbeModel, discriminative: DiscriminativeModel) {
        let dir = adapterFolder ?? modelURL.appendingPathComponent(DiscriminativeAdapter.componentName)
        guard FileManager.default.fileExists(atPath: dir.appendingPathComponent("config.json").path) else {
            throw AdapterTrainingError("no trained adapter in \(dir.path) (config.json missing): run `swift run -c release train-adapter probe` first")
        }
        let folder = ComponentFolder(dir)
        let adapter = try DiscriminativeAdapter.load(from: folder)
        let model = try ProbeModel(folder: modelURL, randomUNetSeed: try DiscriminativeAdapter.randomUNetSeed(in: folder))
        if let lora {
            guard model.randomUNetSeed == nil else {
                throw AdapterTrainingError("the adapter in \(dir.path) is a random-U-Net control; a LoRA (\(lora.path)) does not apply to it")
            }
            try UNetLoRA.load(from: lora, into: model.unet, merge: true)
        }
        try adapter.checkFits(model.unet, source: "the adapter in \(dir.path)")
        return (model, try DiscriminativeModel(denoiser: model.unet, adapter: adapter))
    }
}

import Autodiff
import DataIO
import Diffusion
import Foundation
import Tensor

/// DPT's ITM score s(z_t, y) = max_k cos(map(h_k), e_y) of a trained discriminative adapter, as self-correction's
/// `AlignmentScorer`: the U-Net (with any merged LoRA) runs on the latents under the prompt's token states up to the
/// adapter's taps, the adapter decodes its matching queries, and the score is differentiable with respect to the
/// latents (method notes §6).
///
/// Everything is frozen and dropout is off: `init` freezes the adapter's parameters and, when the denoiser is a
/// `UNet2DConditionModel`, the U-Net's, and switches the adapter to evaluation mode, so a gradient pass does no
/// weight-gradient work and accumulates nothing into `.grad`. Do not hand it a model that is still being trained.
public final class AdapterScorer: AlignmentScorer {
    public let model: DiscriminativeModel
    /// The seed of the random U-Net a control adapter was trained on (then `model.denoiser` is that U-Net), or nil.
    public let randomUNetSeed: UInt64?

    public init(model: DiscriminativeModel, randomUNetSeed: UInt64? = nil) {
        self.model = model
        self.randomUNetSeed = randomUNetSeed
        _ = model.adapter.store.freeze()
        model.adapter.setTraining(false)
        if let unet = model.denoiser as? UNet2DConditionModel { _ = unet.store.freeze() }
    }

    /// The width of the pooled text embedding e_y the adapter maps its queries to.
    public var textEmbeddingDim: Int { model.adapter.config.textEmbeddingDim }

    /// Per-row scores [B] of `latents` [B, c, h, w] at `timestep` under `text.context` [B, L, D] against
    /// `text.pooled` [B, D_text] (required).
    public func score(latents: Variable, timestep: Float, text: AlignmentText) -> Variable {
        let op = "AdapterScorer.score"
        guard let pooled = text.pooled else {
            tensorCheck(false, op, "DPT's matching score needs the prompts' pooled text embeddings (AlignmentText.pooled)")
            fatalError()
        }
        let b = latents.shape[0]
        tensorCheck(text.context.rank == 3 && text.context.shape[0] == b, op,
                    "text context of shape \(text.context.shape) does not have one row per latent (batch \(b))")
        tensorCheck(pooled.shape == [b, textEmbeddingDim], op,
                    "pooled text embeddings of shape \(pooled.shape) are not [\(b), \(textEmbeddingDim)] (the adapter's text_embedding_dim)")
        return model.matchingScores(latents: latents, timesteps: [timestep], context: Variable(text.context), pooled: Variable(pooled))
    }

    /// Loads the adapter in `folder` for self-correction on `unet`, the sampler's own U-Net (with any merged
    /// LoRA), or, for a control adapter whose weights record `dpt.random_unet_seed`, the random U-Net of the same
    /// architecture rebuilt from that seed (what it was trained on). `textWidth` is the text encoder's pooled width.
    /// Throws naming the folder when it holds no adapter, or when the adapter's taps, feature channels or text
    /// width do not fit this model.
    public static func load(adapter folder: URL, unet sampling: UNet2DConditionModel, textWidth: Int) throws -> AdapterScorer {
        try requireAdapter(in: folder)
        let component = ComponentFolder(folder)
        let adapter: DiscriminativeAdapter
        do { adapter = try DiscriminativeAdapter.load(from: component) } catch {
            throw AdapterError.weights("cannot load the adapter in \(folder.path): \(error)")
        }
        let seed = try DiscriminativeAdapter.randomUNetSeed(in: component)
        let unet = try seed.map { try UNet2DConditionModel(config: sampling.config, seed: $0) } ?? sampling
        try adapter.checkFits(unet, textWidth: textWidth, source: "the adapter in \(folder.path)")
        return AdapterScorer(model: try DiscriminativeModel(denoiser: unet, adapter: adapter), randomUNetSeed: seed)
    }

    /// Throws unless `folder` holds an adapter's `config.json`, saying whether the folder or the file is missing.
    public static func requireAdapter(in folder: URL) throws {
        guard FileManager.default.fileExists(atPath: folder.appendingPathComponent("config.json").path) else {
            var isDir: ObjCBool = false
            let exists = FileManager.default.fileExists(atPath: folder.path, isDirectory: &isDir) && isDir.boolValue
            throw AdapterError.input("no trained adapter in \(folder.path) (\(exists ? "config.json missing" : "the folder does not exist")): "
                + "self-correction needs one; train it with `swift run -c release train-adapter` or pass a run's adapter folder (--adapter DIR)")
        }
    }
}

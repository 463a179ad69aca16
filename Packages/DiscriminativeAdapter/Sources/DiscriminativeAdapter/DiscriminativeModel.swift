import Autodiff
import Diffusion
import NN
import Tensor

/// Text encoder outputs for a list of texts: the U-Net conditioning (`context` [N, L, D_ctx], SD: the last hidden
/// state), the pooled embedding e_y (`pooled` [N, D_text], CLIP: the end-token state after the final LayerNorm)
/// and the token states for contrastive alignment (`tokens` [N, L, D_tok]; CLIP: the last hidden state again).
public struct TextFeatures {
    public var context: Tensor
    public var pooled: Tensor
    public var tokens: Tensor?

    public init(context: Tensor, pooled: Tensor, tokens: Tensor? = nil) {
        self.context = context
        self.pooled = pooled
        self.tokens = tokens
    }

    public var count: Int { context.shape[0] }

    /// Rows `indices` of every field.
    public func rows(_ indices: [Int]) -> TextFeatures {
        TextFeatures(context: context.indexSelect(axis: 0, indices: indices), pooled: pooled.indexSelect(axis: 0, indices: indices),
                     tokens: tokens?.indexSelect(axis: 0, indices: indices))
    }
}

/// The U-Net (any `Denoiser`) run up to the adapter's taps, then the adapter: the discriminative model whose
/// matching score drives evaluation and self-correction. Gradients reach the adapter, any trainable U-Net
/// parameters (LoRA) and the noisy latents.
public final class DiscriminativeModel {
    public let denoiser: any Denoiser
    public let adapter: DiscriminativeAdapter

    /// Throws unless every tap the adapter reads exists in the denoiser.
    public init(denoiser: any Denoiser, adapter: DiscriminativeAdapter) throws {
        try denoiser.validateTaps(Set(adapter.config.featureTaps))
        self.denoiser = denoiser
        self.adapter = adapter
    }

    /// Adapter outputs for noisy latents [N, C, h, w] at `timesteps` (one shared or one per row) under
    /// `context` [N, L, D_ctx], with REC on rows `recRows` only (nil: all); `pooled` [R, D_text], the pooled
    /// embeddings of the REC rows' texts, is read by a `heatmap_text` REC head (required there). The U-Net stops
    /// after the last tapped block.
    public func forward<G: RandomNumberGenerator>(latents: Variable, timesteps: [Float], context: Variable, pooled: Variable? = nil,
                                                  recRows: [Int]? = nil, generator: inout G) -> AdapterOutput {
        let taps = adapter.config.featureTaps
        let features = denoiser.features(latents, timesteps: timesteps, context: context, taps: Set(taps))
        return adapter(FeatureTaps.combine(features, taps: taps), timesteps: timesteps,
                       text: adapter.config.heatmapText ? pooled : nil, recRows: recRows, generator: &generator)
    }

    /// The forward without dropout randomness (evaluation mode).
    public func forward(latents: Variable, timesteps: [Float], context: Variable, pooled: Variable? = nil,
                        recRows: [Int]? = nil) -> AdapterOutput {
        var g = NoRandomness()
        return forward(latents: latents, timesteps: timesteps, context: context, pooled: pooled, recRows: recRows, generator: &g)
    }

    /// ITM scores s(z_t, y) [N] of each latent row under its own text (`context` and `pooled` [N, D_text]):
    /// the quantity whose latent gradient self-correction follows.
    public func matchingScores(latents: Variable, timesteps: [Float], context: Variable, pooled: Variable) -> Variable {
        let out = forward(latents: latents, timesteps: timesteps, context: context, pooled: pooled)
        return MatchingLoss.scores(out.matchingEmbeddings, text: pooled)
    }
}

/// DPT's stage-1 objective on a batch of B samples (three images, three captions and one referring expression
/// each; the training package builds them from its dataset): which (image, text) pairs run through the model, with shared noise
/// and timestep per sample, and how their outputs become the ITM and REC losses.
///
/// Passes per sample b (in this order, rows b * 6 + p): 0 (positive image, positive caption), 1 (positive image,
/// hard-negative caption), 2 (positive image, random caption), 3 (hard-negative image, positive caption),
/// 4 (random image, positive caption), 5 (positive image, expression). i2t scores are passes [0, 1, 2] against
/// their captions, t2i scores passes [0, 3, 4] against the positive caption, and REC reads pass 5.
public enum ProbePlan {
    public static let passesPerSample = 6
    /// (image slot, text slot) of each pass; text slot 3 is the expression.
    public static let passes: [(image: Int, text: Int)] = [(0, 0), (0, 1), (0, 2), (1, 0), (2, 0), (0, 3)]

    /// The loss terms of one step.
    public struct Terms {
        public var total: Variable
        public var i2t: Variable
        public var t2i: Variable
        public var rec: RECLossTerms
        /// [B, 3] scores, for logging.
        public var i2tScores: Tensor
        public var t2iScores: Tensor
    }

    /// Runs the 6B passes and returns the losses `L_i2t + L_t2i + L_rec`.
    /// - Parameters:
    ///   - latents: clean latents of the batch's images, [B * 3, C, h, w] (row b * 3 + slot).
    ///   - noise: [B, C, h, w], shared by the passes of a sample; `timesteps` one per sample.
    ///   - recTargets: the REC target of each sample's expression (B of them).
    ///   - captions: features of the 3B captions (row b * 3 + k); `expressions`: features of the B expressions.
    public static func losses<G: RandomNumberGenerator>(model: DiscriminativeModel, recTargets: [RECTarget], latents: Tensor,
                                                        noise: Tensor, timesteps: [Int], schedule: NoiseSchedule,
                                                        captions: TextFeatures, expressions: TextFeatures,
                                                        criterion: RECCriterion = RECCriterion(),
                                                        generator: inout G) throws -> Terms {
        let b = recTargets.count
        guard latents.rank == 4, latents.shape[0] == 3 * b else {
            throw AdapterError.input("ProbePlan: latents \(latents.shape) must be [3B = \(3 * b), C, h, w]")
        }
        guard noise.shape == [b] + Array(latents.shape.dropFirst()), timesteps.count == b else {
            throw AdapterError.input("ProbePlan: noise \(noise.shape) must be [B = \(b), C, h, w] and timesteps one per sample (\(timesteps.count))")
        }
        guard captions.count == 3 * b, expressions.count == b else {
            throw AdapterError.input("ProbePlan: \(captions.count) caption and \(expressions.count) expression features for a batch of \(b)")
        }
        var imageRows: [Int] = [], sampleRows: [Int] = [], captionRows: [Int] = [], expressionRows: [Int] = []
        var textIsExpression: [Bool] = []
        for s in 0..<b {
            for p in passes {
                imageRows.append(s * 3 + p.image)
                sampleRows.append(s)
                textIsExpression.append(p.text == 3)
                if p.text == 3 { expressionRows.append(s) } else { captionRows.append(s * 3 + p.text) }
            }
        }
        let clean = latents.indexSelect(axis: 0, indices: imageRows)
        let passNoise = noise.indexSelect(axis: 0, indices: sampleRows)
        let passT = sampleRows.map { timesteps[$0] }
        let noisy = schedule.addNoise(original: clean, noise: passNoise, timesteps: passT)
        // Conditioning rows in pass order.
        let capCtx = captions.context.indexSelect(axis: 0, indices: captionRows)
        let expCtx = expressions.context.indexSelect(axis: 0, indices: expressionRows)
        var ci = 0, ei = 0
        var order: [Int] = []                                     // row of concat([capCtx, expCtx]) for each pass
        for e in textIsExpression {
            if e { order.append(captionRows.count + ei); ei += 1 } else { order.append(ci); ci += 1 }
        }
        guard capCtx.shape.dropFirst() == expCtx.shape.dropFirst() else {
            throw AdapterError.input("ProbePlan: caption context \(capCtx.shape) and expression context \(expCtx.shape) differ in shape")
        }
        let context = Tensor.concat([capCtx, expCtx], axis: 0).indexSelect(axis: 0, indices: order)
        // REC reads pass 5 of each sample only: the head runs on those rows, with the expressions' pooled embeddings.
        let recPasses = (0..<b).map { $0 * passesPerSample + 5 }
        let out = model.forward(latents: Variable(noisy), timesteps: passT.map(Float.init), context: Variable(context),
                                pooled: Variable(expressions.pooled), recRows: recPasses, generator: &generator)

        // ITM: scores of passes 0...4 against their own caption's pooled embedding.
        let itmPasses = (0..<b).flatMap { s in (0..<5).map { s * passesPerSample + $0 } }
        let itmText = (0..<b).flatMap { s in passes.prefix(5).map { s * 3 + $0.text } }
        let q = out.matchingEmbeddings.indexSelect(axis: 0, indices: itmPasses)
        let scores = MatchingLoss.scores(q, text: Variable(captions.pooled.indexSelect(axis: 0, indices: itmText)))
            .reshaped([b, 5])
        let i2t = scores.indexSelect(axis: 1, indices: [0, 1, 2])
        let t2i = scores.indexSelect(axis: 1, indices: [0, 3, 4])
        let itm = MatchingLoss.losses(i2t: i2t, t2i: t2i, scale: out.logitScale)

        // REC on pass 5.
        var projectedTokens: Variable? = nil
        if model.adapter.config.contrastiveAlign {
            guard let tokens = expressions.tokens else {
                throw AdapterError.input("ProbePlan: the adapter has a contrastive head but the expression features carry no token states")
            }
            projectedTokens = model.adapter.projectTokens(Variable(tokens))
        }
        let rec = try criterion.loss(out.rec, targets: recTargets, projectedTokens: projectedTokens)
        return Terms(total: itm.i2t + itm.t2i + rec.total, i2t: itm.i2t, t2i: itm.t2i, rec: rec,
                     i2tScores: i2t.value, t2iScores: t2i.value)
    }
}

import Autodiff
import Tensor

/// Image-text matching: the score s(z_t, y) and DPT's two 3-way contrastive losses.
public enum MatchingLoss {
    /// Per-query cosines between the matching embeddings `queries` [B, Nm, D] and the pooled text embeddings
    /// `text` [B, D]: [B, Nm].
    public static func queryCosines(_ queries: Variable, text: Variable) -> Variable {
        tensorCheck(queries.rank == 3 && text.rank == 2 && queries.shape[0] == text.shape[0] && queries.shape[2] == text.shape[1],
                    "MatchingLoss.queryCosines", "queries \(queries.shape) and text \(text.shape) must be [B, Nm, D] and [B, D]")
        return (l2Normalized(queries) * l2Normalized(text).unsqueezed(1)).sum(axis: -1)
    }

    /// s = max over the matching queries of cos(map(h_k), e_y): [B]. The gradient flows through the best query.
    public static func scores(_ queries: Variable, text: Variable) -> Variable {
        queryCosines(queries, text: text).max(axis: 1)
    }

    /// `CE(scale * scores, 0)` averaged over the batch: `scores` [B, K] with the positive in column 0 (DPT: K = 3,
    /// positive, hard negative, random), `scale` = exp(logit_scale) (0-d).
    public static func contrastive(scores: Variable, scale: Variable) -> Variable {
        tensorCheck(scores.rank == 2 && scores.shape[1] >= 2, "MatchingLoss.contrastive",
                    "scores \(scores.shape) must be [B, K] with K >= 2 (positive first)")
        tensorCheck(scale.count == 1, "MatchingLoss.contrastive", "scale must hold one value, got shape \(scale.shape)")
        let logits = scores * scale.reshaped([1, 1])
        return Variable.crossEntropy(logits: logits, targets: Array(repeating: 0, count: scores.shape[0]))
    }

    /// DPT's ITM loss terms: i2t over [s(x, y), s(x, y_hard), s(x, y_rand)] (one image, three captions) and t2i over
    /// [s(x, y), s(x_hard, y), s(x_rand, y)] (three images, the positive caption), both [B, 3].
    public static func losses(i2t: Variable, t2i: Variable, scale: Variable) -> (i2t: Variable, t2i: Variable) {
        (contrastive(scores: i2t, scale: scale), contrastive(scores: t2i, scale: scale))
    }
}

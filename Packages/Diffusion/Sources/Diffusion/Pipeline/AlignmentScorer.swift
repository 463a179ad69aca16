import Autodiff
import Tensor

/// The text side of an alignment score, one row per image.
public struct AlignmentText {
    /// The conditional token states [B, L, D] the U-Net is conditioned on (never the unconditional ones).
    public var context: Tensor
    /// A pooled text embedding per image [B, D_text] (DPT: the text encoder's EOS state e_y), when the scorer
    /// needs one.
    public var pooled: Tensor?

    public init(context: Tensor, pooled: Tensor? = nil) {
        self.context = context
        self.pooled = pooled
    }

    /// Number of rows.
    public var count: Int { context.rank == 3 ? context.shape[0] : 0 }
}

/// A differentiable image-text alignment score on noisy latents: DPT's ITM score
/// s(z_t, y) = max_k cos(map(h_k), e_y) of the discriminative adapter on a U-Net feature tap, or any stand-in.
///
/// `latents` are the U-Net's input (after the scheduler's `scaleModelInput`), [B, c, h, w]; the result holds one
/// score per sample, [B], and must be differentiable with respect to `latents` (run the U-Net and the scorer as
/// `Variable` ops, stopping the U-Net after the tapped block). Keep the scorer's and the U-Net's parameters
/// frozen (`requiresGrad` false) and dropout off during sampling: the correction only needs d s / d latents, and
/// frozen weights cost no weight-gradient work.
public protocol AlignmentScorer: AnyObject {
    func score(latents: Variable, timestep: Float, text: AlignmentText) -> Variable
}

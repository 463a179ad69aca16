import Tensor

/// Scaled dot-product attention; the backward pass uses the saved probabilities when they are small and recomputes
/// them from the saved row log-sum-exps when they are not (long sequences: Stable Diffusion's 64x64 self-attention
/// would keep 4096 x 4096 floats per head and image).
extension Variable {
    /// Largest probability tensor (floats, all batch axes together) the backward pass keeps; above it the forward
    /// saves one log-sum-exp per query row and the backward recomputes the probabilities tile by tile (one more
    /// Q K^T). Default 1 << 22 (16 MiB).
    nonisolated(unsafe) public static var attentionSavedProbabilityLimit = 1 << 22

    /// `softmax(q k^T * scale + mask) v` over the last two axes: q [..., Lq, D], k [..., Lk, D], v [..., Lk, Dv]
    /// (equal batch axes), `mask` additive (a constant), `causal` hides key j > query i, `scale` default 1/sqrt(D).
    public static func scaledDotProductAttention(_ q: Variable, _ k: Variable, _ v: Variable, mask: Tensor? = nil,
                                                 causal: Bool = false, scale: Float? = nil) -> Variable {
        let qv = q.value, kv = k.value, vv = v.value
        let inputs = [q, k, v]
        guard GradMode.isEnabled, inputs.contains(where: { $0.requiresGrad }) else {
            // Nothing to record: the memory-lean forward that does not keep the probabilities.
            return Variable(Tensor.scaledDotProductAttention(qv, kv, vv, mask: mask, causal: causal, scale: scale))
        }
        let scores = qv.shape.dropLast().reduce(1, *) * kv.shape[kv.rank - 2]
        if scores <= attentionSavedProbabilityLimit {
            let (out, probs) = Tensor.attentionForward(qv, kv, vv, mask: mask, causal: causal, scale: scale)
            return record("scaledDotProductAttention", out, inputs: inputs) { g, _ in
                let (dq, dk, dv) = Tensor.attentionBackward(g, q: qv, k: kv, v: vv, probabilities: probs, scale: scale)
                return [dq, dk, dv]
            }
        }
        let (out, lse) = Tensor.attentionForwardSavingLogSumExp(qv, kv, vv, mask: mask, causal: causal, scale: scale)
        return record("scaledDotProductAttention", out, inputs: inputs) { g, _ in
            let (dq, dk, dv) = Tensor.attentionBackward(g, q: qv, k: kv, v: vv, logSumExp: lse, mask: mask,
                                                        causal: causal, scale: scale)
            return [dq, dk, dv]
        }
    }
}

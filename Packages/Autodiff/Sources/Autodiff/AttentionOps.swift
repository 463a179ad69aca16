import Tensor

/// Scaled dot-product attention with saved probabilities (backward from Tensor's attention kernel).
extension Variable {
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
        let (out, probs) = Tensor.attentionForward(qv, kv, vv, mask: mask, causal: causal, scale: scale)
        return record("scaledDotProductAttention", out, inputs: inputs) { g, _ in
            let (dq, dk, dv) = Tensor.attentionBackward(g, q: qv, k: kv, v: vv, probabilities: probs, scale: scale)
            return [dq, dk, dv]
        }
    }
}

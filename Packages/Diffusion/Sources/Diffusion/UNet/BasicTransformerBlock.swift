import Autodiff
import NN
import Tensor

/// diffusers `BasicTransformerBlock` (norm_type "layer_norm", GEGLU feed-forward, no attention bias):
/// x += attn1(norm1(x)); x += attn2(norm2(x), context); x += ff(norm3(x)). `attn1` is self-attention, `attn2`
/// cross-attention over the encoder hidden states.
public final class BasicTransformerBlock: Module {
    public let path: String
    public let dim: Int
    public let norm1: LayerNorm
    public let attn1: Attention
    public let norm2: LayerNorm
    public let attn2: Attention
    public let norm3: LayerNorm
    public let ff: FeedForward

    public init(_ vb: VarBuilder, dim: Int, heads: Int, headDim: Int, crossAttentionDim: Int, dropout: Float = 0,
                normEps: Float = 1e-5) {
        path = vb.path
        self.dim = dim
        norm1 = LayerNorm(vb.pp("norm1"), dim: dim, eps: normEps)
        attn1 = Attention(vb.pp("attn1"), queryDim: dim, heads: heads, headDim: headDim, qkvBias: false,
                          outBias: true, dropout: dropout)
        norm2 = LayerNorm(vb.pp("norm2"), dim: dim, eps: normEps)
        attn2 = Attention(vb.pp("attn2"), queryDim: dim, contextDim: crossAttentionDim, heads: heads, headDim: headDim,
                          qkvBias: false, outBias: true, dropout: dropout)
        norm3 = LayerNorm(vb.pp("norm3"), dim: dim, eps: normEps)
        ff = FeedForward(vb.pp("ff"), dim: dim, activation: .geglu, dropout: dropout)
        vb.register(self)
    }

    /// `x` [B, N, dim], `context` [B, M, crossAttentionDim].
    public func callAsFunction(_ x: Variable, context: Variable) -> Variable {
        var h = attn1(norm1(x)) + x
        h = attn2(norm2(h), context: context) + h
        return ff(norm3(h)) + h
    }
}

import Autodiff
import NN
import Tensor

/// transformers' `CLIPMLP`: `fc2(act(fc1(x)))`.
public final class CLIPMLP: Module {
    public let path: String
    public let fc1: Linear
    public let fc2: Linear
    public let activation: CLIPActivation

    public init(_ vb: VarBuilder, hiddenSize: Int, intermediateSize: Int, activation: CLIPActivation) {
        path = vb.path
        fc1 = Linear(vb.pp("fc1"), inFeatures: hiddenSize, outFeatures: intermediateSize)
        fc2 = Linear(vb.pp("fc2"), inFeatures: intermediateSize, outFeatures: hiddenSize)
        self.activation = activation
        vb.register(self)
    }

    public func callAsFunction(_ x: Variable) -> Variable { fc2(activation(fc1(x))) }
}

/// transformers' `CLIPEncoderLayer`, pre-LayerNorm:
/// `h = x + self_attn(layer_norm1(x)); out = h + mlp(layer_norm2(h))`.
public final class CLIPEncoderLayer: Module {
    public let path: String
    public let selfAttention: Attention
    public let layerNorm1: LayerNorm
    public let mlp: CLIPMLP
    public let layerNorm2: LayerNorm

    public init(_ vb: VarBuilder, hiddenSize: Int, heads: Int, intermediateSize: Int, activation: CLIPActivation,
                layerNormEps: Float) {
        path = vb.path
        selfAttention = Attention(vb.pp("self_attn"), queryDim: hiddenSize, heads: heads, headDim: hiddenSize / heads,
                                  qkvBias: true, outBias: true, naming: .clip)
        layerNorm1 = LayerNorm(vb.pp("layer_norm1"), dim: hiddenSize, eps: layerNormEps)
        mlp = CLIPMLP(vb.pp("mlp"), hiddenSize: hiddenSize, intermediateSize: intermediateSize, activation: activation)
        layerNorm2 = LayerNorm(vb.pp("layer_norm2"), dim: hiddenSize, eps: layerNormEps)
        vb.register(self)
    }

    /// `x` [B, L, D]; `mask` additive, broadcastable to [B, heads, L, L]; causal attention always.
    public func callAsFunction(_ x: Variable, mask: Tensor?) -> Variable {
        let h = x + selfAttention(layerNorm1(x), mask: mask, causal: true)
        return h + mlp(layerNorm2(h))
    }
}

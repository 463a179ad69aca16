import Autodiff
import NN
import Tensor

/// diffusers `AttentionPooling` (from DeepFloyd IF): one learned-offset query, the mean token plus
/// `positional_embedding`, attends over itself and the tokens; returns that query's output [B, width].
public final class AttentionPooling: Module {
    public let path: String
    public let heads: Int
    public let positionalEmbedding: Variable
    public let kProj: Linear
    public let qProj: Linear
    public let vProj: Linear

    public init(_ vb: VarBuilder, heads: Int, embedDim: Int) {
        tensorCheck(heads > 0 && embedDim % heads == 0, "AttentionPooling(\(vb.path))",
                    "width \(embedDim) is not a positive multiple of \(heads) heads")
        path = vb.path
        self.heads = heads
        // torch.randn(1, embed_dim) / embed_dim ** 0.5, drawn before the projections as in diffusers.
        positionalEmbedding = vb.parameter("positional_embedding", shape: [1, embedDim],
                                           initializer: .normal(mean: 0, std: 1 / Float(embedDim).squareRoot()))
        kProj = Linear(vb.pp("k_proj"), inFeatures: embedDim, outFeatures: embedDim)
        qProj = Linear(vb.pp("q_proj"), inFeatures: embedDim, outFeatures: embedDim)
        vProj = Linear(vb.pp("v_proj"), inFeatures: embedDim, outFeatures: embedDim)
        vb.register(self)
    }

    /// `x` [B, L, width] -> [B, width].
    public func callAsFunction(_ x: Variable) -> Variable {
        let b = x.shape[0], width = x.shape[2], d = width / heads
        let classToken = x.mean(axis: 1, keepDims: true) + positionalEmbedding      // [B, 1, W]
        let tokens = Variable.concat([classToken, x], axis: 1)                       // [B, L+1, W]
        func split(_ t: Variable) -> Variable { t.reshaped([b, -1, heads, d]).transposed(1, 2) }   // [B, H, n, d]
        let out = Variable.scaledDotProductAttention(split(qProj(classToken)), split(kProj(tokens)), split(vProj(tokens)))
        return out.reshaped([b, width])                                               // [B, H, 1, d] -> head-major
    }
}

/// diffusers `TextTimeEmbedding` (`addition_embed_type: "text"`): LayerNorm, attention pooling of the text tokens,
/// a projection to the time-embedding width and a second LayerNorm; the U-Net adds it to the timestep embedding, so
/// every ResNet block sees the prompt, not only the cross-attention layers.
public final class TextTimeEmbedding: Module {
    public let path: String
    public let norm1: LayerNorm
    public let pool: AttentionPooling
    public let proj: Linear
    public let norm2: LayerNorm

    public init(_ vb: VarBuilder, encoderDim: Int, timeEmbedDim: Int, heads: Int) {
        path = vb.path
        norm1 = LayerNorm(vb.pp("norm1"), dim: encoderDim)
        pool = AttentionPooling(vb.pp("pool"), heads: heads, embedDim: encoderDim)
        proj = Linear(vb.pp("proj"), inFeatures: encoderDim, outFeatures: timeEmbedDim)
        norm2 = LayerNorm(vb.pp("norm2"), dim: timeEmbedDim)
        vb.register(self)
    }

    /// Text states [B, L, encoderDim] -> [B, timeEmbedDim].
    public func callAsFunction(_ hiddenStates: Variable) -> Variable { norm2(proj(pool(norm1(hiddenStates)))) }
}

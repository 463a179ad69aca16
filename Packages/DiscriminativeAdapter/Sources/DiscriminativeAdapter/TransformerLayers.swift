import Autodiff
import NN
import Tensor

/// DETR's post-norm `TransformerEncoderLayer`: self-attention with q = k = x + pos, v = x, then a ReLU
/// feed-forward block; residual + dropout + LayerNorm after each. Keys: `self_attn.*`, `linear1`, `linear2`,
/// `norm1`, `norm2`.
public final class TransformerEncoderLayer: Module {
    public let path: String
    public let selfAttention: MultiheadAttention
    public let linear1: Linear
    public let linear2: Linear
    public let norm1: LayerNorm
    public let norm2: LayerNorm
    public let dropout: Dropout
    public let dropout1: Dropout
    public let dropout2: Dropout

    public init(_ vb: VarBuilder, dim: Int, heads: Int, feedForwardDim: Int, dropout p: Float) {
        path = vb.path
        selfAttention = MultiheadAttention(vb.pp("self_attn"), dim: dim, heads: heads, dropout: p)
        linear1 = Linear(vb.pp("linear1"), inFeatures: dim, outFeatures: feedForwardDim)
        dropout = Dropout(vb.pp("dropout"), p: p)
        linear2 = Linear(vb.pp("linear2"), inFeatures: feedForwardDim, outFeatures: dim)
        norm1 = LayerNorm(vb.pp("norm1"), dim: dim)
        norm2 = LayerNorm(vb.pp("norm2"), dim: dim)
        dropout1 = Dropout(vb.pp("dropout1"), p: p)
        dropout2 = Dropout(vb.pp("dropout2"), p: p)
        vb.register(self)
    }

    /// `src` and `pos` [B, HW, d].
    public func callAsFunction<G: RandomNumberGenerator>(_ src: Variable, pos: Variable, generator: inout G) -> Variable {
        let qk = src + pos
        var x = src + dropout1(selfAttention(query: qk, key: qk, value: src, generator: &generator), generator: &generator)
        x = norm1(x)
        let ff = linear2(dropout(linear1(x).relu(), generator: &generator))
        return norm2(x + dropout2(ff, generator: &generator))
    }
}

/// DETR's post-norm `TransformerDecoderLayer`: self-attention (q = k = tgt + query_pos, v = tgt), cross-attention
/// (q = tgt + query_pos, k = memory + pos, v = memory), ReLU feed-forward; residual + dropout + LayerNorm after
/// each. Keys: `self_attn.*`, `multihead_attn.*`, `linear1`, `linear2`, `norm1..3`.
public final class TransformerDecoderLayer: Module {
    public let path: String
    public let selfAttention: MultiheadAttention
    public let crossAttention: MultiheadAttention
    public let linear1: Linear
    public let linear2: Linear
    public let norm1: LayerNorm
    public let norm2: LayerNorm
    public let norm3: LayerNorm
    public let dropout: Dropout
    public let dropout1: Dropout
    public let dropout2: Dropout
    public let dropout3: Dropout

    public init(_ vb: VarBuilder, dim: Int, heads: Int, feedForwardDim: Int, dropout p: Float) {
        path = vb.path
        selfAttention = MultiheadAttention(vb.pp("self_attn"), dim: dim, heads: heads, dropout: p)
        crossAttention = MultiheadAttention(vb.pp("multihead_attn"), dim: dim, heads: heads, dropout: p)
        linear1 = Linear(vb.pp("linear1"), inFeatures: dim, outFeatures: feedForwardDim)
        dropout = Dropout(vb.pp("dropout"), p: p)
        linear2 = Linear(vb.pp("linear2"), inFeatures: feedForwardDim, outFeatures: dim)
        norm1 = LayerNorm(vb.pp("norm1"), dim: dim)
        norm2 = LayerNorm(vb.pp("norm2"), dim: dim)
        norm3 = LayerNorm(vb.pp("norm3"), dim: dim)
        dropout1 = Dropout(vb.pp("dropout1"), p: p)
        dropout2 = Dropout(vb.pp("dropout2"), p: p)
        dropout3 = Dropout(vb.pp("dropout3"), p: p)
        vb.register(self)
    }

    /// `tgt` [B, Nq, d], `memory` and `pos` [B, HW, d], `queryPos` [B, Nq, d]; `valuePos` [B, HW, d], when given,
    /// is added to the cross-attention values (a deviation from DETR).
    public func callAsFunction<G: RandomNumberGenerator>(_ tgt: Variable, memory: Variable, pos: Variable,
                                                         queryPos: Variable, valuePos: Variable? = nil,
                                                         generator: inout G) -> Variable {
        let qk = tgt + queryPos
        var x = tgt + dropout1(selfAttention(query: qk, key: qk, value: tgt, generator: &generator), generator: &generator)
        x = norm1(x)
        let cross = crossAttention(query: x + queryPos, key: memory + pos, value: valuePos.map { memory + $0 } ?? memory,
                                   generator: &generator)
        x = norm2(x + dropout2(cross, generator: &generator))
        let ff = linear2(dropout(linear1(x).relu(), generator: &generator))
        return norm3(x + dropout3(ff, generator: &generator))
    }
}

/// DETR's `MLP`: `layers.0 .. layers.{n-1}` Linear layers with ReLU between them (none after the last).
public final class MLP: Module {
    public let path: String
    public let layers: [Linear]

    public init(_ vb: VarBuilder, inputDim: Int, hiddenDim: Int, outputDim: Int, layerCount: Int) {
        tensorCheck(layerCount >= 1, "MLP(\(vb.path))", "needs at least one layer, got \(layerCount)")
        path = vb.path
        let dims = [inputDim] + Array(repeating: hiddenDim, count: layerCount - 1) + [outputDim]
        layers = (0..<layerCount).map { Linear(vb.pp("layers").pp($0), inFeatures: dims[$0], outFeatures: dims[$0 + 1]) }
        vb.register(self)
    }

    public func callAsFunction(_ x: Variable) -> Variable {
        var h = x
        for (i, l) in layers.enumerated() {
            h = l(h)
            if i < layers.count - 1 { h = h.relu() }
        }
        return h
    }
}

import Autodiff
import Foundation
import Tensor

/// Multi-head attention with separate query/key/value/output projections and optional cross-attention context.
///
/// Names follow diffusers' `Attention` (`to_q`, `to_k`, `to_v`, `to_out.0`, dropout `to_out.1`) or CLIP's
/// (`q_proj`, `k_proj`, `v_proj`, `out_proj`). Queries come from `x` [B, N, queryDim]; keys and values from
/// `context` [B, M, contextDim] when given, else from `x`. Scores are scaled by 1/√headDim.
public final class Attention: Module {
    public enum Naming {
        /// diffusers `Attention`: to_q, to_k, to_v, to_out.0 (+ to_out.1 dropout).
        case diffusers
        /// CLIP / transformers: q_proj, k_proj, v_proj, out_proj.
        case clip
    }

    public let path: String
    public let heads: Int
    public let headDim: Int
    public let queryDim: Int
    public let contextDim: Int
    public let scale: Float
    public let toQ: Linear
    public let toK: Linear
    public let toV: Linear
    public let toOut: Linear
    /// diffusers' `to_out.1` (nil for CLIP naming).
    public let outDropout: Dropout?

    /// - Parameters: `qkvBias` (diffusers `bias`, default false there; CLIP uses true), `outBias` (diffusers
    ///   `out_bias`), `outDim` (defaults to `queryDim`), `dropout` for `to_out.1`.
    public init(_ vb: VarBuilder, queryDim: Int, contextDim: Int? = nil, heads: Int, headDim: Int,
                outDim: Int? = nil, qkvBias: Bool = false, outBias: Bool = true, dropout: Float = 0,
                naming: Naming = .diffusers) {
        tensorCheck(heads > 0 && headDim > 0, "Attention(\(vb.path))", "heads \(heads) and headDim \(headDim) must be positive")
        path = vb.path
        self.heads = heads
        self.headDim = headDim
        self.queryDim = queryDim
        self.contextDim = contextDim ?? queryDim
        scale = Float(1 / Double(headDim).squareRoot())
        let inner = heads * headDim
        let names = naming == .diffusers ? ("to_q", "to_k", "to_v") : ("q_proj", "k_proj", "v_proj")
        toQ = Linear(vb.pp(names.0), inFeatures: queryDim, outFeatures: inner, bias: qkvBias)
        toK = Linear(vb.pp(names.1), inFeatures: self.contextDim, outFeatures: inner, bias: qkvBias)
        toV = Linear(vb.pp(names.2), inFeatures: self.contextDim, outFeatures: inner, bias: qkvBias)
        switch naming {
        case .diffusers:
            toOut = Linear(vb.pp("to_out").pp(0), inFeatures: inner, outFeatures: outDim ?? queryDim, bias: outBias)
            outDropout = Dropout(vb.pp("to_out").pp(1), p: dropout)
        case .clip:
            tensorCheck(dropout == 0, "Attention(\(vb.path))", "CLIP naming has no output dropout")
            toOut = Linear(vb.pp("out_proj"), inFeatures: inner, outFeatures: outDim ?? queryDim, bias: outBias)
            outDropout = nil
        }
        vb.register(self)
    }

    /// Attention of `x` [B, N, queryDim] over `context` [B, M, contextDim] (or itself), with an optional additive
    /// `mask` broadcastable to [B, heads, N, M] and an optional causal mask. Returns [B, N, outDim].
    public func callAsFunction<G: RandomNumberGenerator>(_ x: Variable, context: Variable? = nil, mask: Tensor? = nil,
                                                         causal: Bool = false, generator: inout G) -> Variable {
        let op = "Attention(\(path))"
        tensorCheck(x.rank == 3 && x.shape[2] == queryDim, op, "input shape \(x.shape) is not [B, N, \(queryDim)]")
        let ctx = context ?? x
        tensorCheck(ctx.rank == 3 && ctx.shape[2] == contextDim && ctx.shape[0] == x.shape[0], op,
                    "context shape \(ctx.shape) is not [\(x.shape[0]), M, \(contextDim)]")
        let b = x.shape[0], n = x.shape[1], m = ctx.shape[1]
        let q = splitHeads(toQ(x), b, n)
        let k = splitHeads(toK(ctx), b, m)
        let v = splitHeads(toV(ctx), b, m)
        let o = Variable.scaledDotProductAttention(q, k, v, mask: mask, causal: causal, scale: scale)
        let merged = o.permuted([0, 2, 1, 3]).reshaped([b, n, heads * headDim])
        let y = toOut(merged)
        if let outDropout { return outDropout(y, generator: &generator) }
        return y
    }

    /// The call without a generator (no active dropout).
    public func callAsFunction(_ x: Variable, context: Variable? = nil, mask: Tensor? = nil, causal: Bool = false) -> Variable {
        var g = NoRandomness()
        return self(x, context: context, mask: mask, causal: causal, generator: &g)
    }

    /// [B, L, heads·headDim] -> [B, heads, L, headDim].
    private func splitHeads(_ t: Variable, _ b: Int, _ l: Int) -> Variable {
        t.reshaped([b, l, heads, headDim]).permuted([0, 2, 1, 3])
    }
}

import Autodiff
import NN
import Tensor

/// `torch.nn.MultiheadAttention` with the parameter layout of a PyTorch checkpoint: `in_proj_weight` [3d, d]
/// (query, key, value rows stacked), `in_proj_bias` [3d], `out_proj.weight` [d, d], `out_proj.bias` [d].
/// Inputs are batch-first ([B, L, d]); query, key and value are separate tensors, so DETR's position codes can be
/// added to queries and keys only. Dropout (training mode, p > 0) applies to the attention probabilities.
public final class MultiheadAttention: Module {
    public let path: String
    public let dim: Int
    public let heads: Int
    public let inProjWeight: Variable
    public let inProjBias: Variable
    public let outProj: Linear
    public let dropout: Dropout

    public init(_ vb: VarBuilder, dim: Int, heads: Int, dropout p: Float) {
        tensorCheck(dim > 0 && heads > 0 && dim % heads == 0, "MultiheadAttention(\(vb.path))",
                    "dimension \(dim) must be a positive multiple of heads \(heads)")
        path = vb.path
        self.dim = dim
        self.heads = heads
        // PyTorch: xavier_uniform_ on in_proj_weight, zeros on both biases (DETR then re-applies xavier to
        // every matrix of the transformer, out_proj included).
        inProjWeight = vb.parameter("in_proj_weight", shape: [3 * dim, dim], initializer: xavierUniform(fanIn: dim, fanOut: 3 * dim))
        inProjBias = vb.parameter("in_proj_bias", shape: [3 * dim], initializer: .zeros)
        outProj = Linear(vb.pp("out_proj"), inFeatures: dim, outFeatures: dim)
        dropout = Dropout(vb.pp("dropout"), p: p)
        vb.register(self)
    }

    /// Attention of `query` [B, Lq, d] over `key` [B, Lk, d] / `value` [B, Lk, d]; returns [B, Lq, d].
    public func callAsFunction<G: RandomNumberGenerator>(query: Variable, key: Variable, value: Variable,
                                                         generator: inout G) -> Variable {
        tensorCheck(query.rank == 3 && key.rank == 3 && value.rank == 3 && query.shape[2] == dim
                        && key.shape[2] == dim && value.shape[2] == dim && key.shape[0] == query.shape[0]
                        && value.shape[0] == query.shape[0] && key.shape[1] == value.shape[1],
                    "MultiheadAttention(\(path))",
                    "query \(query.shape), key \(key.shape), value \(value.shape) must be [B, L, \(dim)] with equal B and key/value lengths")
        let b = query.shape[0], lq = query.shape[1], hd = dim / heads
        func project(_ x: Variable, _ part: Int) -> Variable {
            let w = inProjWeight.sliced(axis: 0, start: part * dim, end: (part + 1) * dim)
            let bias = inProjBias.sliced(axis: 0, start: part * dim, end: (part + 1) * dim)
            let l = x.shape[1]
            return Variable.linear(x, weight: w, bias: bias).reshaped([b, l, heads, hd]).permuted([0, 2, 1, 3])
        }
        let q = project(query, 0), k = project(key, 1), v = project(value, 2)
        let scale = 1 / Float(hd).squareRoot()
        let attended: Variable
        if dropout.isActive {
            let probs = Variable.matmul(q, k, transposeB: true) * scale
            attended = Variable.matmul(dropout(probs.softmax(axis: -1), generator: &generator), v)
        } else {
            attended = Variable.scaledDotProductAttention(q, k, v, scale: scale)
        }
        return outProj(attended.permuted([0, 2, 1, 3]).reshaped([b, lq, dim]))
    }
}

/// `nn.init.xavier_uniform_` for a [fanOut, fanIn] matrix: uniform on ±sqrt(6 / (fanIn + fanOut)).
func xavierUniform(fanIn: Int, fanOut: Int) -> Initializer {
    let bound = Float((6.0 / Double(fanIn + fanOut)).squareRoot())
    return .uniform(low: -bound, high: bound)
}

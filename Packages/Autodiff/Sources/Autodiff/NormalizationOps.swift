import Tensor

/// Layer norm and group norm with saved statistics and fused backward kernels from Tensor.
extension Variable {
    /// Layer normalisation over the last axis with optional affine `weight`/`bias` [D] (`F.layer_norm`).
    public static func layerNorm(_ x: Variable, weight: Variable? = nil, bias: Variable? = nil, eps: Float = 1e-5) -> Variable {
        let xv = x.value, wv = weight?.value
        let (out, mean, rstd) = Tensor.layerNormForward(xv, weight: wv, bias: bias?.value, eps: eps)
        var inputs = [x]
        if let weight { inputs.append(weight) }
        if let bias { inputs.append(bias) }
        let hasWeight = weight != nil
        return record("layerNorm", out, inputs: inputs) { g, needs in
            let (dx, dw, db) = Tensor.layerNormBackward(g, x: xv, mean: mean, rstd: rstd, weight: wv)
            var grads: [Tensor?] = [needs[0] ? dx : nil]
            if hasWeight { grads.append(needs[1] ? dw : nil) }
            if inputs.count > grads.count { grads.append(needs[grads.count] ? db : nil) }
            return grads
        }
    }

    /// Group normalisation of `x` [N, C, ...] with per-channel affine `weight`/`bias` [C] (`F.group_norm`);
    /// with `silu`, `silu(F.group_norm(...))` as one node (one pass each way, no normalised intermediate kept).
    public static func groupNorm(_ x: Variable, groups: Int, weight: Variable? = nil, bias: Variable? = nil,
                                 eps: Float = 1e-5, silu: Bool = false) -> Variable {
        let xv = x.value, wv = weight?.value, bv = bias?.value
        let (out, mean, rstd) = Tensor.groupNormForward(xv, groups: groups, weight: wv, bias: bv, eps: eps, silu: silu)
        var inputs = [x]
        if let weight { inputs.append(weight) }
        if let bias { inputs.append(bias) }
        let hasWeight = weight != nil
        return record(silu ? "groupNormSiLU" : "groupNorm", out, inputs: inputs) { g, needs in
            let (dx, dw, db) = Tensor.groupNormBackward(g, x: xv, mean: mean, rstd: rstd, groups: groups, weight: wv,
                                                        silu: silu, bias: bv)
            var grads: [Tensor?] = [needs[0] ? dx : nil]
            if hasWeight { grads.append(needs[1] ? dw : nil) }
            if inputs.count > grads.count { grads.append(needs[grads.count] ? db : nil) }
            return grads
        }
    }
}

import Tensor

/// Matrix products and the affine layer.
extension Variable {
    /// Matrix product over the last two axes with broadcast batch axes (`Tensor.matmul` semantics); 1-D operands
    /// act as a row (left) or column (right) vector whose axis is dropped from the result.
    public static func matmul(_ a: Variable, _ b: Variable, transposeA: Bool = false, transposeB: Bool = false) -> Variable {
        if a.rank == 1 {
            return matmul(a.unsqueezed(0), b, transposeA: false, transposeB: transposeB).squeezed(-2)
        }
        if b.rank == 1 {
            return matmul(a, b.unsqueezed(-1), transposeA: transposeA, transposeB: false).squeezed(-1)
        }
        let x = a.value, y = b.value
        let out = Tensor.matmul(x, y, transposeA: transposeA, transposeB: transposeB)
        return record("matmul", out, inputs: [a, b]) { g, needs in
            var ga: Tensor? = nil, gb: Tensor? = nil
            if needs[0] {
                // d op(A) = G op(B)^T; A = op(A)^T when transposed.
                let d = transposeA ? Tensor.matmul(y, g, transposeA: transposeB, transposeB: true)
                                   : Tensor.matmul(g, y, transposeB: !transposeB)
                ga = Kernels.sumToShape(d, x.shape, op: "matmul backward")
            }
            if needs[1] {
                // d op(B) = op(A)^T G; B = op(B)^T when transposed.
                let d = transposeB ? Tensor.matmul(g, x, transposeA: true, transposeB: transposeA)
                                   : Tensor.matmul(x, g, transposeA: !transposeA)
                gb = Kernels.sumToShape(d, y.shape, op: "matmul backward")
            }
            return [ga, gb]
        }
    }

    /// `self @ other`.
    public func matmul(_ other: Variable) -> Variable { Variable.matmul(self, other) }

    /// `x @ weight^T + bias` over the last axis (`weight` [out, in], `bias` [out]), like `F.linear`.
    public static func linear(_ x: Variable, weight: Variable, bias: Variable? = nil) -> Variable {
        let xv = x.value, wv = weight.value
        let out = Tensor.linear(xv, weight: wv, bias: bias?.value)
        let inputs = [x, weight] + (bias.map { [$0] } ?? [])
        return record("linear", out, inputs: inputs) { g, needs in
            let outF = wv.shape[0], inF = wv.shape[1]
            let g2 = g.reshaped([-1, outF])
            var grads: [Tensor?] = [nil, nil]
            if needs[0] { grads[0] = Tensor.matmul(g2, wv).reshaped(xv.shape) }
            if needs[1] { grads[1] = Tensor.matmul(g2, xv.reshaped([-1, inF]), transposeA: true) }
            if inputs.count == 3 {
                grads.append(needs[2] ? Kernels.sumToShape(g2, [outF], op: "linear backward") : nil)
            }
            return grads
        }
    }
}

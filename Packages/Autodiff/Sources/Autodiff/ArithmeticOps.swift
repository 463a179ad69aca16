import Tensor

/// Elementwise arithmetic with NumPy broadcasting. Gradients of broadcast operands are summed back to their
/// shapes (`sumToShape`).
extension Variable {
    public static func + (a: Variable, b: Variable) -> Variable {
        let sa = a.shape, sb = b.shape
        return record("add", a.value + b.value, inputs: [a, b]) { g, needs in
            [needs[0] ? Kernels.sumToShape(g, sa, op: "add backward") : nil,
             needs[1] ? Kernels.sumToShape(g, sb, op: "add backward") : nil]
        }
    }

    public static func - (a: Variable, b: Variable) -> Variable {
        let sa = a.shape, sb = b.shape
        return record("sub", a.value - b.value, inputs: [a, b]) { g, needs in
            [needs[0] ? Kernels.sumToShape(g, sa, op: "sub backward") : nil,
             needs[1] ? Kernels.sumToShape(-g, sb, op: "sub backward") : nil]
        }
    }

    public static func * (a: Variable, b: Variable) -> Variable {
        let x = a.value, y = b.value
        return record("mul", x * y, inputs: [a, b]) { g, needs in
            [needs[0] ? Kernels.sumToShape(g * y, x.shape, op: "mul backward") : nil,
             needs[1] ? Kernels.sumToShape(g * x, y.shape, op: "mul backward") : nil]
        }
    }

    public static func / (a: Variable, b: Variable) -> Variable {
        let x = a.value, y = b.value
        let out = x / y
        return record("div", out, inputs: [a, b]) { g, needs in
            let gOverY = g / y
            return [needs[0] ? Kernels.sumToShape(gOverY, x.shape, op: "div backward") : nil,
                    needs[1] ? Kernels.sumToShape(-(gOverY * out), y.shape, op: "div backward") : nil]
        }
    }

    public static prefix func - (a: Variable) -> Variable {
        record("neg", -a.value, inputs: [a]) { g, _ in [-g] }
    }

    // Scalars.
    public static func + (a: Variable, s: Float) -> Variable { record("add", a.value + s, inputs: [a]) { g, _ in [g] } }
    public static func + (s: Float, a: Variable) -> Variable { a + s }
    public static func - (a: Variable, s: Float) -> Variable { a + (-s) }
    public static func - (s: Float, a: Variable) -> Variable { record("rsub", s - a.value, inputs: [a]) { g, _ in [-g] } }
    public static func * (a: Variable, s: Float) -> Variable { record("mul", a.value * s, inputs: [a]) { g, _ in [g * s] } }
    public static func * (s: Float, a: Variable) -> Variable { a * s }
    public static func / (a: Variable, s: Float) -> Variable { a * (1 / s) }
    public static func / (s: Float, a: Variable) -> Variable {
        let out = s / a.value
        let x = a.value
        return record("rdiv", out, inputs: [a]) { g, _ in
            [Kernels.map(g, out, x, op: "rdiv backward") { g, y, x in -g * y / x }]
        }
    }

    // Constants given as tensors (no gradient for the tensor side).
    public static func + (a: Variable, t: Tensor) -> Variable { a + Variable(t) }
    public static func - (a: Variable, t: Tensor) -> Variable { a - Variable(t) }
    public static func * (a: Variable, t: Tensor) -> Variable { a * Variable(t) }
    public static func / (a: Variable, t: Tensor) -> Variable { a / Variable(t) }

    /// Elementwise maximum; where the operands tie, each gets half the gradient (like PyTorch).
    public static func maximum(_ a: Variable, _ b: Variable) -> Variable {
        minMax(a, b, op: "maximum", Tensor.maximum(a.value, b.value), takesA: 1)
    }

    /// Elementwise minimum; where the operands tie, each gets half the gradient.
    public static func minimum(_ a: Variable, _ b: Variable) -> Variable {
        minMax(a, b, op: "minimum", Tensor.minimum(a.value, b.value), takesA: -1)
    }

    private static func minMax(_ a: Variable, _ b: Variable, op: String, _ out: Tensor, takesA sign: Float) -> Variable {
        let x = a.value, y = b.value
        return record(op, out, inputs: [a, b]) { g, needs in
            let shape = g.shape
            let xe = x.expanded(to: shape), ye = y.expanded(to: shape)
            // Share of the gradient that goes to `a`: 1 where a wins, 1/2 on ties, 0 where b wins.
            let share = Kernels.map(xe, ye, op: "\(op) backward") { u, v in
                let d = (u - v) * sign
                return d > 0 ? 1 : (d == 0 ? 0.5 : 0)
            }
            return [needs[0] ? Kernels.sumToShape(g * share, x.shape, op: "\(op) backward") : nil,
                    needs[1] ? Kernels.sumToShape(g * (1 - share), y.shape, op: "\(op) backward") : nil]
        }
    }
}

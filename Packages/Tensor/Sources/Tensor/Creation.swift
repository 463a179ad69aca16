/// Tensors built from a shape and a rule: constants, ranges, identity.
extension Tensor {
    /// All zeros.
    public static func zeros(_ shape: [Int]) -> Tensor { Tensor(shape: shape, repeating: 0) }
    /// All ones.
    public static func ones(_ shape: [Int]) -> Tensor { Tensor(shape: shape, repeating: 1) }
    /// Every element equal to `value`.
    public static func full(_ shape: [Int], _ value: Float) -> Tensor { Tensor(shape: shape, repeating: value) }
    /// Zeros with the shape of `t`.
    public static func zeros(like t: Tensor) -> Tensor { zeros(t.shape) }
    /// Ones with the shape of `t`.
    public static func ones(like t: Tensor) -> Tensor { ones(t.shape) }
    /// `value` everywhere, with the shape of `t`.
    public static func full(like t: Tensor, _ value: Float) -> Tensor { full(t.shape, value) }

    /// `0, 1, ..., end-1` (like `torch.arange(end)`).
    public static func arange(_ end: Float) -> Tensor { arange(0, end, step: 1) }

    /// `start, start+step, ...` up to but excluding `end`; `ceil((end-start)/step)` elements like `torch.arange`,
    /// each computed as `start + i*step` in Double before rounding to Float.
    public static func arange(_ start: Float, _ end: Float, step: Float = 1) -> Tensor {
        tensorCheck(step != 0 && step.isFinite && start.isFinite && end.isFinite, "arange",
                    "needs finite start, end and a non-zero step, got start \(start) end \(end) step \(step)")
        let span = (Double(end) - Double(start)) / Double(step)
        tensorCheck(span >= 0, "arange",
                    "step \(step) has the wrong sign for start \(start) and end \(end)")
        let n = Swift.max(0, Int(span.rounded(.up)))
        var out = Tensor(uninitializedShape: [n])
        out.withMutableBuffer { p in
            for i in 0..<n { p[i] = Float(Double(start) + Double(i) * Double(step)) }
        }
        return out
    }

    /// `count` evenly spaced values from `start` to `end` inclusive, symmetric like `torch.linspace`
    /// (the first half counts up from `start`, the second half down from `end`).
    public static func linspace(_ start: Float, _ end: Float, count: Int) -> Tensor {
        tensorCheck(count >= 0, "linspace", "count must be non-negative, got \(count)")
        var out = Tensor(uninitializedShape: [count])
        if count == 0 { return out }
        out.withMutableBuffer { p in
            if count == 1 { p[0] = start; return }
            let step = (end - start) / Float(count - 1)
            let half = count / 2
            for i in 0..<count {
                p[i] = i < half ? start + step * Float(i) : end - step * Float(count - 1 - i)
            }
        }
        return out
    }

    /// The `n`x`n` identity matrix.
    public static func eye(_ n: Int) -> Tensor {
        tensorCheck(n >= 0, "eye", "size must be non-negative, got \(n)")
        var out = zeros([n, n])
        out.withMutableBuffer { p in for i in 0..<n { p[i * n + i] = 1 } }
        return out
    }
}

import Tensor

/// Classifier-free guidance arithmetic on a batched [uncond; cond] model output (Ho & Salimans 2022).
public enum ClassifierFreeGuidance {
    /// uncond + scale · (cond − uncond) for `output` = [uncond; cond] stacked on axis 0 ([2B, ...] -> [B, ...]),
    /// in one fused pass.
    public static func combine(_ output: Tensor, scale: Float) -> Tensor {
        tensorCheck(output.rank >= 1 && output.shape[0] % 2 == 0, "ClassifierFreeGuidance.combine",
                    "model output of shape \(output.shape) is not [uncond; cond] with an even batch")
        var shape = output.shape
        shape[0] /= 2
        var out = Tensor(uninitializedShape: shape)
        let n = out.count
        output.withContiguousBuffer { src in
            out.withMutableBuffer { dst in
                let u = src.baseAddress!, c = src.baseAddress! + n, d = dst.baseAddress!
                for i in 0..<n { d[i] = u[i] + scale * (c[i] - u[i]) }
            }
        }
        return out
    }

    /// diffusers' `rescale_noise_cfg`: rescales the guided output per sample to the standard deviation of the
    /// conditional output (unbiased std over all but the batch axis), mixed by `factor`.
    public static func rescale(_ guided: Tensor, cond: Tensor, factor: Float) -> Tensor {
        tensorCheck(guided.shape == cond.shape && guided.rank >= 2, "ClassifierFreeGuidance.rescale",
                    "guided output \(guided.shape) and conditional output \(cond.shape) must have the same shape [B, ...]")
        let b = guided.shape[0], m = guided.count / b
        var out = Tensor(copying: guided)
        func std(_ p: UnsafePointer<Float>) -> Double {
            var s = 0.0, s2 = 0.0
            for i in 0..<m { let v = Double(p[i]); s += v; s2 += v * v }
            let mean = s / Double(m)
            return ((s2 - Double(m) * mean * mean) / Double(max(m - 1, 1))).squareRoot()
        }
        cond.withContiguousBuffer { c in
            out.withMutableBuffer { g in
                for k in 0..<b {
                    let gp = g.baseAddress! + k * m
                    let ratio = Float(std(c.baseAddress! + k * m) / std(UnsafePointer(gp)))
                    let w = factor * ratio + (1 - factor)
                    for i in 0..<m { gp[i] *= w }
                }
            }
        }
        return out
    }
}

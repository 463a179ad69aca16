import Tensor

/// Fused elementwise loops for the scheduler updates.
///
/// Each update is written as one pass over raw buffers with the same float32 operations, in the same order, as
/// diffusers' chain of tensor expressions, so results agree with PyTorch to the last bit in most elements. The
/// per-element functions are non-escaping and inlined (`@inline(__always)`), so they compile to plain loops.
enum SchedulerKernels {
    @inline(__always)
    static func map(_ a: Tensor, _ f: (Float) -> Float) -> Tensor {
        var out = Tensor(uninitializedShape: a.shape)
        a.withContiguousBuffer { pa in
            out.withMutableBuffer { po in
                for i in 0..<po.count { po[i] = f(pa[i]) }
            }
        }
        return out
    }

    @inline(__always)
    static func map(_ a: Tensor, _ b: Tensor, _ op: String, _ f: (Float, Float) -> Float) -> Tensor {
        tensorCheck(a.shape == b.shape, op, "shapes differ: \(a.shape) and \(b.shape)")
        var out = Tensor(uninitializedShape: a.shape)
        a.withContiguousBuffer { pa in
            b.withContiguousBuffer { pb in
                out.withMutableBuffer { po in
                    for i in 0..<po.count { po[i] = f(pa[i], pb[i]) }
                }
            }
        }
        return out
    }

    @inline(__always)
    static func map(_ a: Tensor, _ b: Tensor, _ c: Tensor, _ op: String,
                    _ f: (Float, Float, Float) -> Float) -> Tensor {
        tensorCheck(a.shape == b.shape && a.shape == c.shape, op,
                    "shapes differ: \(a.shape), \(b.shape) and \(c.shape)")
        var out = Tensor(uninitializedShape: a.shape)
        a.withContiguousBuffer { pa in
            b.withContiguousBuffer { pb in
                c.withContiguousBuffer { pc in
                    out.withMutableBuffer { po in
                        for i in 0..<po.count { po[i] = f(pa[i], pb[i], pc[i]) }
                    }
                }
            }
        }
        return out
    }

    @inline(__always)
    static func map(_ a: Tensor, _ b: Tensor, _ c: Tensor, _ d: Tensor, _ op: String,
                    _ f: (Float, Float, Float, Float) -> Float) -> Tensor {
        tensorCheck(a.shape == b.shape && a.shape == c.shape && a.shape == d.shape, op,
                    "shapes differ: \(a.shape), \(b.shape), \(c.shape) and \(d.shape)")
        var out = Tensor(uninitializedShape: a.shape)
        a.withContiguousBuffer { pa in
            b.withContiguousBuffer { pb in
                c.withContiguousBuffer { pc in
                    d.withContiguousBuffer { pd in
                        out.withMutableBuffer { po in
                            for i in 0..<po.count { po[i] = f(pa[i], pb[i], pc[i], pd[i]) }
                        }
                    }
                }
            }
        }
        return out
    }

    /// `x.clamp(lo, hi)`.
    static func clamp(_ x: Tensor, _ lo: Float, _ hi: Float) -> Tensor {
        map(x) { Swift.min(Swift.max($0, lo), hi) }
    }

    /// diffusers' `_threshold_sample` (Imagen's dynamic thresholding): per batch item, s = the `ratio` quantile of
    /// |x| (torch.quantile, linear interpolation) clamped to [1, maxValue]; x is clamped to [-s, s] and divided by s.
    static func dynamicThreshold(_ x: Tensor, ratio: Double, maxValue: Double) -> Tensor {
        tensorCheck(x.rank >= 2, "dynamicThreshold", "expects [batch, channels, ...], got \(x.shape)")
        let batch = x.shape[0]
        let inner = x.count / Swift.max(batch, 1)
        var out = Tensor(uninitializedShape: x.shape)
        let q = Float(ratio)
        let maxV = Float(maxValue)
        var sorted = [Float](repeating: 0, count: inner)
        x.withContiguousBuffer { px in
            out.withMutableBuffer { po in
                for b in 0..<batch {
                    let base = b * inner
                    for i in 0..<inner { sorted[i] = Swift.abs(px[base + i]) }
                    sorted.sort()
                    let rank = q * Float(inner - 1)
                    let below = Int(rank)
                    let above = Int(rank.rounded(.up))
                    let w = rank - Float(below)
                    let lo = sorted[below], hi = sorted[above]
                    let quantile = Swift.abs(w) < 0.5 ? lo + w * (hi - lo) : hi - (hi - lo) * (1 - w)
                    let s = Swift.min(Swift.max(quantile, 1), maxV)
                    for i in 0..<inner { po[base + i] = Swift.min(Swift.max(px[base + i], -s), s) / s }
                }
            }
        }
        return out
    }

    /// Per batch item coefficients: `a[b] * x + c[b] * y` (diffusers' `add_noise` / `get_velocity` broadcasting;
    /// a single coefficient applies to the whole batch).
    static func batchCombine(_ x: Tensor, _ a: [Float], _ y: Tensor, _ c: [Float], op: String) -> Tensor {
        tensorCheck(x.shape == y.shape, op, "sample shape \(x.shape) and noise shape \(y.shape) differ")
        tensorCheck(x.rank >= 1, op, "expects a batched sample, got a scalar")
        let batch = x.shape[0]
        tensorCheck(a.count == batch || a.count == 1, op,
                    "\(a.count) timesteps for a batch of \(batch) (give one per item or one for all)")
        let inner = x.count / Swift.max(batch, 1)
        var out = Tensor(uninitializedShape: x.shape)
        x.withContiguousBuffer { px in
            y.withContiguousBuffer { py in
                out.withMutableBuffer { po in
                    for b in 0..<batch {
                        let ca = a.count == 1 ? a[0] : a[b], cc = c.count == 1 ? c[0] : c[b]
                        let base = b * inner
                        for i in base..<(base + inner) { po[i] = ca * px[i] + cc * py[i] }
                    }
                }
            }
        }
        return out
    }

    /// Channels `start ..< start + count` of an [N, C, ...] tensor, contiguous.
    static func channels(_ x: Tensor, start: Int, count: Int) -> Tensor {
        x.sliced(axis: 1, start: start, end: start + count).contiguous()
    }
}

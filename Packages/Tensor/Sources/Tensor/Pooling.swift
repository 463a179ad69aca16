/// Resampling over the last two axes (height, width) of tensors such as [N, C, H, W]: nearest upsampling and
/// average pooling, with their backward kernels. Planes (all leading axes together) are split across cores.
extension Tensor {
    /// Nearest-neighbour upsampling by 2 in height and width (`F.interpolate(scale_factor=2, mode="nearest")`).
    public func upsampleNearest2x() -> Tensor { Tensor.upsampleNearest(self, scale: 2) }

    /// Nearest-neighbour upsampling of the last two axes by an integer `scale`: [..., H, W] -> [..., H*s, W*s].
    public static func upsampleNearest(_ x: Tensor, scale: Int) -> Tensor {
        tensorCheck(x.rank >= 2, "upsampleNearest", "needs rank >= 2 ([..., H, W]), got shape \(x.shape)")
        tensorCheck(scale >= 1, "upsampleNearest", "scale must be >= 1, got \(scale)")
        let h = x.shape[x.rank - 2], w = x.shape[x.rank - 1]
        let planes = x.count / Swift.max(1, h * w)
        let oh = h * scale, ow = w * scale
        let xc = x.contiguous()
        let out = Tensor(uninitializedShape: Array(x.shape.dropLast(2)) + [oh, ow])
        if out.count == 0 { return out }
        let src = xc.storage.pointer + xc.offset, dst = out.storage.pointer
        withExtendedLifetime(xc) {
            Parallel.forEachChunk(planes * h, costPerItem: ow * scale) { range in
                for r in range {  // r = plane * h + input row
                    let s = src + r * w
                    let d = dst + r * scale * ow
                    if scale == 2 {
                        for j in 0..<w { let v = s[j]; d[2 * j] = v; d[2 * j + 1] = v }
                    } else {
                        for j in 0..<w { (d + j * scale).update(repeating: s[j], count: scale) }
                    }
                    for k in 1..<scale { (d + k * ow).update(from: d, count: ow) }
                }
            }
        }
        return out
    }

    /// Backward of `upsampleNearest`: sums each `scale` x `scale` block of `grad` [..., H*s, W*s] -> [..., H, W].
    public static func upsampleNearestBackward(_ grad: Tensor, scale: Int) -> Tensor {
        tensorCheck(grad.rank >= 2, "upsampleNearestBackward", "needs rank >= 2 ([..., H, W]), got shape \(grad.shape)")
        tensorCheck(scale >= 1, "upsampleNearestBackward", "scale must be >= 1, got \(scale)")
        let oh = grad.shape[grad.rank - 2], ow = grad.shape[grad.rank - 1]
        tensorCheck(oh % scale == 0 && ow % scale == 0, "upsampleNearestBackward",
                    "grad shape \(grad.shape) is not a multiple of scale \(scale) in its last two axes")
        let h = oh / scale, w = ow / scale
        let planes = grad.count / Swift.max(1, oh * ow)
        let gc = grad.contiguous()
        let out = Tensor(uninitializedShape: Array(grad.shape.dropLast(2)) + [h, w])
        if out.count == 0 { return out }
        let src = gc.storage.pointer + gc.offset, dst = out.storage.pointer
        withExtendedLifetime(gc) {
            Parallel.forEachChunk(planes * h, costPerItem: ow * scale) { range in
                for r in range {
                    let d = dst + r * w
                    let s0 = src + r * scale * ow
                    if scale == 2 {
                        let s1 = s0 + ow
                        for j in 0..<w { d[j] = (s0[2 * j] + s0[2 * j + 1]) + (s1[2 * j] + s1[2 * j + 1]) }
                    } else {
                        for j in 0..<w {
                            var acc: Float = 0
                            for k in 0..<scale {
                                let s = s0 + k * ow + j * scale
                                for q in 0..<scale { acc += s[q] }
                            }
                            d[j] = acc
                        }
                    }
                }
            }
        }
        return out
    }

    /// Average pooling over the last two axes with a square `kernel` and `stride` (default: `kernel`), no padding,
    /// floor rounding (`F.avg_pool2d(x, kernel, stride)`): [..., H, W] -> [..., (H-k)/s+1, (W-k)/s+1].
    public func avgPool2d(kernel: Int, stride: Int? = nil) -> Tensor {
        let s = stride ?? kernel
        let (h, w, oh, ow) = Tensor.poolSizes(op: "avgPool2d", shape: shape, kernel: kernel, stride: s)
        let planes = count / Swift.max(1, h * w)
        let xc = contiguous()
        let out = Tensor(uninitializedShape: Array(shape.dropLast(2)) + [oh, ow])
        if out.count == 0 { return out }
        let src = xc.storage.pointer + xc.offset, dst = out.storage.pointer
        let inv = 1 / Float(kernel * kernel)
        withExtendedLifetime(xc) {
            Parallel.forEachChunk(planes * oh, costPerItem: ow * kernel * kernel) { range in
                for r in range {
                    let plane = r / oh, i = r % oh
                    let d = dst + r * ow
                    let top = src + plane * h * w + i * s * w
                    if kernel == 2 && s == 2 {
                        let a = top, b = top + w
                        for j in 0..<ow { d[j] = ((a[2 * j] + a[2 * j + 1]) + (b[2 * j] + b[2 * j + 1])) * inv }
                    } else {
                        for j in 0..<ow {
                            var acc: Float = 0
                            for ki in 0..<kernel {
                                let row = top + ki * w + j * s
                                for kj in 0..<kernel { acc += row[kj] }
                            }
                            d[j] = acc * inv
                        }
                    }
                }
            }
        }
        return out
    }

    /// Backward of `avgPool2d`: spreads each output gradient evenly over its window (windows may overlap).
    public static func avgPool2dBackward(_ grad: Tensor, inputShape: [Int], kernel: Int, stride: Int? = nil) -> Tensor {
        let s = stride ?? kernel
        let (h, w, oh, ow) = poolSizes(op: "avgPool2dBackward", shape: inputShape, kernel: kernel, stride: s)
        tensorCheck(grad.shape == Array(inputShape.dropLast(2)) + [oh, ow], "avgPool2dBackward",
                    "grad shape \(grad.shape) does not match the pooled shape \(Array(inputShape.dropLast(2)) + [oh, ow]) of input \(inputShape)")
        let planes = inputShape.reduce(1, *) / Swift.max(1, h * w)
        let gc = grad.contiguous()
        let dx = Tensor(uninitializedShape: inputShape)
        if dx.count == 0 { return dx }
        let src = gc.storage.pointer + gc.offset, dst = dx.storage.pointer
        let inv = 1 / Float(kernel * kernel)
        withExtendedLifetime(gc) {
            Parallel.forEachChunk(planes, costPerItem: h * w + oh * ow * kernel * kernel) { range in
                for plane in range {
                    let d = dst + plane * h * w
                    let g = src + plane * oh * ow
                    d.update(repeating: 0, count: h * w)  // elements outside every window get zero
                    for i in 0..<oh {
                        for j in 0..<ow {
                            let v = g[i * ow + j] * inv
                            for ki in 0..<kernel {
                                let row = d + (i * s + ki) * w + j * s
                                for kj in 0..<kernel { row[kj] += v }
                            }
                        }
                    }
                }
            }
        }
        return dx
    }

    static func poolSizes(op: String, shape: [Int], kernel: Int, stride: Int) -> (Int, Int, Int, Int) {
        tensorCheck(shape.count >= 2, op, "needs rank >= 2 ([..., H, W]), got shape \(shape)")
        tensorCheck(kernel >= 1 && stride >= 1, op, "kernel \(kernel) and stride \(stride) must be >= 1")
        let h = shape[shape.count - 2], w = shape[shape.count - 1]
        tensorCheck(h >= kernel && w >= kernel, op, "kernel \(kernel) is larger than the input plane \(h)x\(w) of \(shape)")
        return (h, w, (h - kernel) / stride + 1, (w - kernel) / stride + 1)
    }
}

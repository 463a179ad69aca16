/// Layer norm and group norm: forward with saved statistics (two-pass mean/variance) and fused backward kernels.
///
/// Both backward kernels use the same closed form per normalised set of M elements:
/// `dx = rstd * (g - mean(g) - xhat * mean(g * xhat))` with `g = dy * weight`, computed from two running sums
/// (sum of g and sum of g*x) so that `dx` takes a single extra pass over the data.
extension Tensor {
    // MARK: Layer norm

    /// Layer normalisation over the last axis with optional affine `weight`/`bias` [D] (`F.layer_norm`).
    public static func layerNorm(_ x: Tensor, weight: Tensor? = nil, bias: Tensor? = nil, eps: Float = 1e-5) -> Tensor {
        layerNormForward(x, weight: weight, bias: bias, eps: eps).output
    }

    /// Layer norm that also returns the saved statistics for the backward pass: `mean` and `rstd`
    /// (1/sqrt(var + eps), biased variance), both shaped like `x` with the last axis set to 1.
    public static func layerNormForward(_ x: Tensor, weight: Tensor? = nil, bias: Tensor? = nil,
                                        eps: Float = 1e-5) -> (output: Tensor, mean: Tensor, rstd: Tensor) {
        tensorCheck(x.rank >= 1, "layerNorm", "needs rank >= 1, got a scalar")
        let d = x.shape[x.rank - 1]
        if let weight { tensorCheck(weight.shape == [d], "layerNorm", "weight shape \(weight.shape) should be [\(d)] for x \(x.shape)") }
        if let bias { tensorCheck(bias.shape == [d], "layerNorm", "bias shape \(bias.shape) should be [\(d)] for x \(x.shape)") }
        let rows = x.shape.dropLast().reduce(1, *)
        let statShape = Array(x.shape.dropLast()) + [1]
        let xc = x.contiguous(), wc = weight?.contiguous(), bc = bias?.contiguous()
        let out = Tensor(uninitializedShape: x.shape)
        let mean = Tensor(uninitializedShape: statShape), rstd = Tensor(uninitializedShape: statShape)
        if rows == 0 { return (out, mean, rstd) }
        let px = xc.storage.pointer + xc.offset, py = out.storage.pointer
        let pm = mean.storage.pointer, pr = rstd.storage.pointer
        let pw = wc.map { UnsafePointer($0.storage.pointer + $0.offset) }
        let pb = bc.map { UnsafePointer($0.storage.pointer + $0.offset) }
        withExtendedLifetime((xc, wc, bc)) {
            Parallel.forEachChunk(rows, costPerItem: 3 * d) { range in
                for r in range {
                    let xr = px + r * d, yr = py + r * d
                    let mu = d == 0 ? 0 : vSum(xr, d) / Float(d)
                    let variance = d == 0 ? 0 : vSumSquaredDeviation(xr, d, mu) / Float(d)
                    let rs = 1 / (variance + eps).squareRoot()
                    pm[r] = mu; pr[r] = rs
                    switch (pw, pb) {
                    case let (w?, b?): for i in 0..<d { yr[i] = (xr[i] - mu) * rs * w[i] + b[i] }
                    case let (w?, nil): for i in 0..<d { yr[i] = (xr[i] - mu) * rs * w[i] }
                    case let (nil, b?): for i in 0..<d { yr[i] = (xr[i] - mu) * rs + b[i] }
                    case (nil, nil): for i in 0..<d { yr[i] = (xr[i] - mu) * rs }
                    }
                }
            }
        }
        return (out, mean, rstd)
    }

    /// Backward of `layerNormForward`: gradients for `x`, for `weight` (nil when `weight` is nil) and for the bias
    /// (always computed: the sum of `grad` over all but the last axis).
    public static func layerNormBackward(_ grad: Tensor, x: Tensor, mean: Tensor, rstd: Tensor,
                                         weight: Tensor?) -> (dx: Tensor, dweight: Tensor?, dbias: Tensor?) {
        tensorCheck(grad.shape == x.shape && x.rank >= 1, "layerNormBackward", "grad \(grad.shape) and x \(x.shape) must have the same shape")
        let d = x.shape[x.rank - 1]
        let rows = x.shape.dropLast().reduce(1, *)
        tensorCheck(mean.count == rows && rstd.count == rows, "layerNormBackward",
                    "mean \(mean.shape) and rstd \(rstd.shape) must hold one value per row (\(rows)) of x \(x.shape)")
        if let weight { tensorCheck(weight.shape == [d], "layerNormBackward", "weight shape \(weight.shape) should be [\(d)]") }
        let gc = grad.contiguous(), xc = x.contiguous(), mc = mean.contiguous(), rc = rstd.contiguous()
        let wc = weight?.contiguous()
        let dx = Tensor(uninitializedShape: x.shape)
        let dw = Tensor(shape: [d], repeating: 0), db = Tensor(shape: [d], repeating: 0)
        if rows == 0 || d == 0 { return (dx, weight == nil ? nil : dw, db) }
        let pg = gc.storage.pointer + gc.offset, px = xc.storage.pointer + xc.offset
        let pm = mc.storage.pointer + mc.offset, pr = rc.storage.pointer + rc.offset
        let pw = wc.map { UnsafePointer($0.storage.pointer + $0.offset) }
        let pdx = dx.storage.pointer
        // Column sums for dweight/dbias: one partial row per worker chunk, added up at the end.
        let chunks = rows * d >= Parallel.minimumWork ? Swift.min(Parallel.workers, rows) : 1
        let partial = UnsafeMutablePointer<Float>.allocate(capacity: 2 * chunks * d)
        partial.initialize(repeating: 0, count: 2 * chunks * d)
        defer { partial.deallocate() }
        let per = (rows + chunks - 1) / chunks
        withExtendedLifetime((gc, xc, mc, rc, wc)) {
            Parallel.forEachChunk(chunks, costPerItem: per * d * 4) { range in
                for ci in range {
                    let pdw = partial + ci * 2 * d, pdb = pdw + d
                    for r in (ci * per)..<Swift.min(rows, (ci + 1) * per) {
                        let g = pg + r * d, xr = px + r * d, out = pdx + r * d
                        let mu = pm[r], rs = pr[r]
                        var sumG: Float = 0, sumGX: Float = 0  // sums of dy*w and dy*w*x
                        if let w = pw {
                            for i in 0..<d {
                                let gi = g[i] * w[i]
                                sumG += gi; sumGX += gi * xr[i]
                                pdw[i] += g[i] * (xr[i] - mu) * rs; pdb[i] += g[i]
                            }
                        } else {
                            for i in 0..<d {
                                sumG += g[i]; sumGX += g[i] * xr[i]
                                pdb[i] += g[i]
                            }
                        }
                        // dx = rs*w*dy + x*c1 + c0 with a = mean(g), b = mean(g*xhat) = rs*(mean(g*x) - mu*a)
                        let a = sumG / Float(d), b = rs * (sumGX / Float(d) - mu * a)
                        let c1 = -rs * rs * b, c0 = -rs * a + rs * rs * b * mu
                        if let w = pw {
                            for i in 0..<d { out[i] = g[i] * w[i] * rs + xr[i] * c1 + c0 }
                        } else {
                            for i in 0..<d { out[i] = g[i] * rs + xr[i] * c1 + c0 }
                        }
                    }
                }
            }
        }
        let dwp = dw.storage.pointer, dbp = db.storage.pointer
        for ci in 0..<chunks {
            let src = partial + ci * 2 * d
            for i in 0..<d { dwp[i] += src[i]; dbp[i] += src[d + i] }
        }
        return (dx, weight == nil ? nil : dw, db)
    }

    // MARK: Group norm

    /// Group normalisation of `x` [N, C, ...] with `groups` groups of channels and optional per-channel affine
    /// `weight`/`bias` [C] (`F.group_norm`).
    public static func groupNorm(_ x: Tensor, groups: Int, weight: Tensor? = nil, bias: Tensor? = nil, eps: Float = 1e-5) -> Tensor {
        groupNormForward(x, groups: groups, weight: weight, bias: bias, eps: eps).output
    }

    /// Group norm that also returns the saved statistics `mean` and `rstd`, each [N, groups].
    /// With `silu` the output is `silu(groupNorm(x))` in the same pass (Stable Diffusion's ResNet blocks: no
    /// normalised intermediate is written or kept); bitwise the same as `.silu()` after the plain group norm.
    public static func groupNormForward(_ x: Tensor, groups: Int, weight: Tensor? = nil, bias: Tensor? = nil,
                                        eps: Float = 1e-5, silu fuseSiLU: Bool = false) -> (output: Tensor, mean: Tensor, rstd: Tensor) {
        let (n, c, s) = groupNormSizes(op: "groupNorm", x.shape, groups: groups, weight: weight, bias: bias)
        let cg = c / groups, m = cg * s
        let xc = x.contiguous(), wc = weight?.contiguous(), bc = bias?.contiguous()
        let out = Tensor(uninitializedShape: x.shape)
        let mean = Tensor(uninitializedShape: [n, groups]), rstd = Tensor(uninitializedShape: [n, groups])
        if n * groups == 0 { return (out, mean, rstd) }
        let px = xc.storage.pointer + xc.offset, py = out.storage.pointer
        let pm = mean.storage.pointer, pr = rstd.storage.pointer
        let pw = wc.map { UnsafePointer($0.storage.pointer + $0.offset) }
        let pb = bc.map { UnsafePointer($0.storage.pointer + $0.offset) }
        withExtendedLifetime((xc, wc, bc)) {
            Parallel.forEachChunk(n * groups, costPerItem: 3 * m) { range in
                for item in range {
                    let base = item * m
                    let mu = m == 0 ? 0 : vSum(px + base, m) / Float(m)
                    let variance = m == 0 ? 0 : vSumSquaredDeviation(px + base, m, mu) / Float(m)
                    let rs = 1 / (variance + eps).squareRoot()
                    pm[item] = mu; pr[item] = rs
                    let g = item % groups
                    for cl in 0..<cg {  // y = x * scale + shift per channel
                        let ch = g * cg + cl
                        let scale = rs * (pw?[ch] ?? 1)
                        let shift = (pb?[ch] ?? 0) - mu * scale
                        let xs = px + base + cl * s, ys = py + base + cl * s
                        if fuseSiLU {
                            let k = SiluK()
                            for i in 0..<s { ys[i] = k.apply(xs[i] * scale + shift) }
                        } else {
                            for i in 0..<s { ys[i] = xs[i] * scale + shift }
                        }
                    }
                }
            }
        }
        return (out, mean, rstd)
    }

    /// Backward of `groupNormForward`: gradients for `x`, for `weight` (nil when `weight` is nil) and for the
    /// bias (always computed: `grad` summed over N and the spatial axes).
    /// With `silu` (the forward's `silu: true`; then `bias` must be the forward's bias) `grad` is the gradient of the
    /// SiLU output: the normalised value is recomputed from `x` and the SiLU derivative applied on the fly.
    public static func groupNormBackward(_ grad: Tensor, x: Tensor, mean: Tensor, rstd: Tensor, groups: Int,
                                         weight: Tensor?, silu fuseSiLU: Bool = false, bias: Tensor? = nil)
        -> (dx: Tensor, dweight: Tensor?, dbias: Tensor?) {
        tensorCheck(grad.shape == x.shape, "groupNormBackward", "grad \(grad.shape) and x \(x.shape) must have the same shape")
        let (n, c, s) = groupNormSizes(op: "groupNormBackward", x.shape, groups: groups, weight: weight, bias: fuseSiLU ? bias : nil)
        tensorCheck(mean.count == n * groups && rstd.count == n * groups, "groupNormBackward",
                    "mean \(mean.shape) and rstd \(rstd.shape) must be [\(n), \(groups)]")
        let cg = c / groups, m = cg * s
        let gc = grad.contiguous(), xc = x.contiguous(), mc = mean.contiguous(), rc = rstd.contiguous()
        let wc = weight?.contiguous(), bc = fuseSiLU ? bias?.contiguous() : nil
        let dx = Tensor(uninitializedShape: x.shape)
        let dw = Tensor(shape: [c], repeating: 0), db = Tensor(shape: [c], repeating: 0)
        if n * c == 0 { return (dx, weight == nil ? nil : dw, db) }
        let pg = gc.storage.pointer + gc.offset, px = xc.storage.pointer + xc.offset
        let pm = mc.storage.pointer + mc.offset, pr = rc.storage.pointer + rc.offset
        let pw = wc.map { UnsafePointer($0.storage.pointer + $0.offset) }
        let pb = bc.map { UnsafePointer($0.storage.pointer + $0.offset) }
        let pdx = dx.storage.pointer
        // With SiLU, the gradient of the normalised value, dz = dy * silu'(z), goes into dx first (z recomputed
        // from x exactly as the forward computed it) and is then turned into dx in place.
        let pgz: UnsafePointer<Float> = fuseSiLU ? UnsafePointer(pdx) : UnsafePointer(pg)
        // Per (image, channel): sum dy and sum dy*x; reduced over images at the end for dweight/dbias.
        let sdy = UnsafeMutablePointer<Float>.allocate(capacity: n * c)
        let sdyx = UnsafeMutablePointer<Float>.allocate(capacity: n * c)
        defer { sdy.deallocate(); sdyx.deallocate() }
        withExtendedLifetime((gc, xc, mc, rc, wc, bc)) {
            Parallel.forEachChunk(n * groups, costPerItem: (fuseSiLU ? 8 : 4) * m) { range in
                for item in range {
                    let img = item / groups, g = item % groups
                    let base = item * m
                    let mu = pm[item], rs = pr[item]
                    if fuseSiLU {
                        let k = SiluBackK()
                        for cl in 0..<cg {
                            let ch = g * cg + cl
                            let scale = rs * (pw?[ch] ?? 1)
                            let shift = (pb?[ch] ?? 0) - mu * scale
                            let gs = pg + base + cl * s, xs = px + base + cl * s, ds = pdx + base + cl * s
                            for i in 0..<s { ds[i] = k.apply(gs[i], xs[i] * scale + shift) }
                        }
                    }
                    var sumG: Float = 0, sumGX: Float = 0
                    for cl in 0..<cg {
                        let ch = g * cg + cl
                        let (a, b) = vSumAndDot(pgz + base + cl * s, px + base + cl * s, s)
                        sdy[img * c + ch] = a; sdyx[img * c + ch] = b
                        let w = pw?[ch] ?? 1
                        sumG += w * a; sumGX += w * b
                    }
                    let a = sumG / Float(m), b = rs * (sumGX / Float(m) - mu * a)
                    let c1 = -rs * rs * b, c0 = -rs * a + rs * rs * b * mu
                    for cl in 0..<cg {
                        let ch = g * cg + cl
                        let k = (pw?[ch] ?? 1) * rs
                        let gs = pgz + base + cl * s, xs = px + base + cl * s, ds = pdx + base + cl * s
                        for i in 0..<s { ds[i] = gs[i] * k + xs[i] * c1 + c0 }
                    }
                }
            }
        }
        let dwp = dw.storage.pointer, dbp = db.storage.pointer
        for img in 0..<n {
            for ch in 0..<c {
                let item = img * groups + ch / cg
                let a = sdy[img * c + ch], b = sdyx[img * c + ch]
                dbp[ch] += a
                dwp[ch] += pr[item] * (b - pm[item] * a)  // sum dy * xhat
            }
        }
        return (dx, weight == nil ? nil : dw, db)
    }

    private static func groupNormSizes(op: String, _ shape: [Int], groups: Int, weight: Tensor?, bias: Tensor?) -> (Int, Int, Int) {
        tensorCheck(shape.count >= 2, op, "x must be [N, C, ...], got \(shape)")
        let n = shape[0], c = shape[1]
        tensorCheck(groups >= 1 && c % groups == 0, op, "channels \(c) of x \(shape) are not divisible by groups \(groups)")
        if let weight { tensorCheck(weight.shape == [c], op, "weight shape \(weight.shape) should be [\(c)]") }
        if let bias { tensorCheck(bias.shape == [c], op, "bias shape \(bias.shape) should be [\(c)]") }
        return (n, c, shape.dropFirst(2).reduce(1, *))
    }
}

// MARK: Vector kernels (16 float lanes per block of 4096 elements, blocks added in Double: vectorisable, and
// accurate for the million-element groups of a VAE at full resolution)

@inline(__always)
private func vSum(_ p: UnsafePointer<Float>, _ n: Int) -> Float {
    let raw = UnsafeRawPointer(p)
    var total = 0.0
    var i = 0
    while i + 16 <= n {
        var acc = SIMD16<Float>()
        let end = Swift.min(n, i + 4096)
        while i + 16 <= end { acc += raw.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self); i += 16 }
        total += Double(acc.sum())
    }
    var s: Float = 0
    while i < n { s += p[i]; i += 1 }
    return Float(total + Double(s))
}

@inline(__always)
private func vSumSquaredDeviation(_ p: UnsafePointer<Float>, _ n: Int, _ mean: Float) -> Float {
    let m = SIMD16<Float>(repeating: mean)
    let raw = UnsafeRawPointer(p)
    var total = 0.0
    var i = 0
    while i + 16 <= n {
        var acc = SIMD16<Float>()
        let end = Swift.min(n, i + 4096)
        while i + 16 <= end {
            let v = raw.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self) - m
            acc += v * v; i += 16
        }
        total += Double(acc.sum())
    }
    var s: Float = 0
    while i < n { let v = p[i] - mean; s += v * v; i += 1 }
    return Float(total + Double(s))
}

/// (sum of p, sum of p*q) in one pass.
@inline(__always)
private func vSumAndDot(_ p: UnsafePointer<Float>, _ q: UnsafePointer<Float>, _ n: Int) -> (Float, Float) {
    let rp = UnsafeRawPointer(p), rq = UnsafeRawPointer(q)
    var total = 0.0, totalDot = 0.0
    var i = 0
    while i + 16 <= n {
        var acc = SIMD16<Float>(), accDot = SIMD16<Float>()
        let end = Swift.min(n, i + 4096)
        while i + 16 <= end {
            let a = rp.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self)
            acc += a
            accDot += a * rq.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self)
            i += 16
        }
        total += Double(acc.sum()); totalDot += Double(accDot.sum())
    }
    var s: Float = 0, sd: Float = 0
    while i < n { s += p[i]; sd += p[i] * q[i]; i += 1 }
    return (Float(total + Double(s)), Float(totalDot + Double(sd)))
}

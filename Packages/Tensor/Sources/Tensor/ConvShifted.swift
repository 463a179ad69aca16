/// Stride-1, undilated, ungrouped convolutions with a kernel larger than 1x1 (the 3x3 convolutions of a U-Net),
/// computed without a column matrix. The image is copied once into a zero-padded plane of row width
/// `Wp = W + 2 pw`; the output, laid out with the same row width (its last `Wp - OW` columns per row are junk), is
/// the sum over the kernel offsets (ky, kx) of one GEMM `W[:, :, ky, kx] x (padded plane shifted by ky Wp + kx)`.
/// im2col writes (and the GEMM then reads) kh*kw copies of the input; this path copies it once. The input gradient
/// uses the same windows: dX accumulates `W_k^T dY` into shifted windows of a padded plane (the junk columns of dY
/// are zero). The weight gradient stays on im2col: there one GEMM with the pixels as its inner dimension beats
/// kh*kw GEMMs that each repack dY (bundled U-Net, 32 channels at 32x32: 3.2 against 3.8 ms at batch 16).
/// Used by the image-parallel path when one image's planes fit `shiftedBudget` floats (a core's cache); measured
/// with `bench-ops` (Docs/PERFORMANCE.md).
extension Tensor {
    /// Whether eligible convolutions take the shifted-GEMM path (default); off runs them through im2col, to compare.
    public static var shiftedConvolutions = true

    /// Whether `conv2d` and its input gradient for these shapes take the shifted-GEMM path with the current workers.
    public static func usesShiftedConvolution(input: [Int], weight: [Int], stride: (Int, Int) = (1, 1),
                                              padding: (Int, Int), dilation: (Int, Int) = (1, 1), groups: Int = 1) -> Bool {
        Conv2dGeometry(op: "usesShiftedConvolution", input: input, weight: weight, stride: stride, padding: padding,
                       dilation: dilation, groups: groups).usesShiftedGemms
    }
}

extension Conv2dGeometry {
    var paddedWidth: Int { w + 2 * pw }
    /// Floats per channel of the padded image: the plane plus kw - 1 floats of slack, because the last shifted
    /// window starts kw - 1 floats to the right of the first and runs to the end of its last row.
    var paddedPlane: Int { (h + 2 * ph) * paddedWidth + kw - 1 }
    /// Output values per channel in the padded row layout (OH rows of Wp).
    var wideOutPlane: Int { oh * paddedWidth }

    /// Floats of the padded image plus the wide output (or wide gradient) of one worker.
    static let shiftedBudget = 1 << 18
    /// Both channel counts at least this large: with fewer, the kh*kw small GEMMs lose to one im2col GEMM.
    static let shiftedMinChannels = 16

    var usesShiftedGemms: Bool {
        Tensor.shiftedConvolutions && imageParallel && groups == 1 && sh == 1 && sw == 1 && dh == 1 && dw == 1 && kk > 1
            && c >= Conv2dGeometry.shiftedMinChannels && o >= Conv2dGeometry.shiftedMinChannels
            && c * paddedPlane + o * wideOutPlane <= Conv2dGeometry.shiftedBudget
    }

    /// The weight [O, C, kh, kw] as kh*kw matrices [O, C] (offset k = ky * kw + kx).
    func splitKernel(_ weight: UnsafePointer<Float>) -> UnsafeMutablePointer<Float> {
        let split = UnsafeMutablePointer<Float>.allocate(capacity: kk * o * c)
        for oc in 0..<o {
            for ci in 0..<c {
                let src = weight + (oc * c + ci) * kk
                for k in 0..<kk { split[(k * o + oc) * c + ci] = src[k] }
            }
        }
        return split
    }

    /// Copies image `i` of `x` [N, C, H, W] into the interior of the padded planes `xp` (borders untouched).
    func padImage(_ x: UnsafePointer<Float>, image i: Int, into xp: UnsafeMutablePointer<Float>) {
        let wpad = paddedWidth, plane = paddedPlane
        for ci in 0..<c {
            let src = x + (i * c + ci) * inPlane
            let dst = xp + ci * plane + ph * wpad + pw
            for y in 0..<h { (dst + y * wpad).update(from: src + y * w, count: w) }
        }
    }

    /// Copies image `i` of `dy` [N, O, OH, OW] into the wide layout `wide` [O, OH * Wp] (junk columns untouched).
    func widenGradient(_ dy: UnsafePointer<Float>, image i: Int, into wide: UnsafeMutablePointer<Float>) {
        let wpad = paddedWidth, wideP = wideOutPlane
        for oc in 0..<o {
            let src = dy + (i * o + oc) * outPlane
            let dst = wide + oc * wideP
            for r in 0..<oh { (dst + r * wpad).update(from: src + r * ow, count: ow) }
        }
    }

    /// Per-worker buffers of `floats` each, zero-filled (the borders and junk columns stay zero from here on).
    func zeroedWorkerBuffers(_ floats: Int) -> UnsafeMutablePointer<Float> {
        let count = Swift.min(Parallel.workers, n) * floats
        let p = UnsafeMutablePointer<Float>.allocate(capacity: count)
        p.initialize(repeating: 0, count: count)
        return p
    }

    /// Forward: writes every value of `out` [N, O, OH, OW], adding `bias` [O] when given.
    func shiftedForward(_ x: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                        out: UnsafeMutablePointer<Float>) {
        let split = splitKernel(weight)
        let perWorker = c * paddedPlane + o * wideOutPlane
        let buffers = zeroedWorkerBuffers(perWorker)
        defer { split.deallocate(); buffers.deallocate() }
        let wpad = paddedWidth, plane = paddedPlane, wideP = wideOutPlane, p = outPlane
        forEachImageRange { worker, images in
            let xp = buffers + worker * perWorker, wide = xp + c * plane
            for i in images {
                padImage(x, image: i, into: xp)
                for k in 0..<kk {
                    Gemm.serial(transA: false, transB: false, m: o, n: wideP, k: c, alpha: 1,
                                a: split + k * o * c, lda: c, b: xp + (k / kw) * wpad + k % kw, ldb: plane,
                                beta: k == 0 ? 0 : 1, c: wide, ldc: wideP)
                }
                for oc in 0..<o {
                    let dst = out + (i * o + oc) * p, src = wide + oc * wideP
                    for r in 0..<oh {
                        let d = dst + r * ow, s = src + r * wpad
                        if let bias { let b = bias[oc]; for q in 0..<ow { d[q] = s[q] + b } } else { d.update(from: s, count: ow) }
                    }
                }
            }
        }
    }

    /// Gradient with respect to the input: `dx` [N, C, H, W] is overwritten.
    func shiftedBackwardInput(_ dy: UnsafePointer<Float>, weight: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>) {
        let split = splitKernel(weight)
        let perWorker = c * paddedPlane + o * wideOutPlane
        let buffers = zeroedWorkerBuffers(perWorker)
        defer { split.deallocate(); buffers.deallocate() }
        let wpad = paddedWidth, plane = paddedPlane, wideP = wideOutPlane
        forEachImageRange { worker, images in
            let dxp = buffers + worker * perWorker, wide = dxp + c * plane
            for i in images {
                widenGradient(dy, image: i, into: wide)
                dxp.update(repeating: 0, count: c * plane)
                for k in 0..<kk {
                    Gemm.serial(transA: true, transB: false, m: c, n: wideP, k: o, alpha: 1,
                                a: split + k * o * c, lda: c, b: wide, ldb: wideP,
                                beta: 1, c: dxp + (k / kw) * wpad + k % kw, ldc: plane)
                }
                for ci in 0..<c {
                    let src = dxp + ci * plane + ph * wpad + pw, dst = dx + (i * c + ci) * inPlane
                    for y in 0..<h { (dst + y * w).update(from: src + y * wpad, count: w) }
                }
            }
        }
    }
}

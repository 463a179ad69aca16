import XCTest
import Tensor

final class ConvTests: XCTestCase {
    private let cases = ["conv_basic", "conv_strided_groups", "conv_pointwise", "conv_depthwise", "conv_large_plane",
                         "conv_pointwise_groups"]

    func testForwardAndBackwardAgainstPyTorch() {
        for c in cases {
            let x = OpsB.t("\(c).x"), w = OpsB.t("\(c).w"), b = OpsB.t("\(c).b"), gy = OpsB.t("\(c).gy")
            let stride = OpsB.intPair(c, "stride"), padding = OpsB.intPair(c, "padding")
            let dilation = OpsB.intPair(c, "dilation"), groups = OpsB.int(c, "groups")
            let y = Tensor.conv2d(x, weight: w, bias: b, stride: stride, padding: padding, dilation: dilation, groups: groups)
            OpsB.assertClose(y, OpsB.t("\(c).out"), "\(c) forward")
            let gx = Tensor.conv2dBackwardInput(gy, weight: w, inputShape: x.shape, stride: stride, padding: padding,
                                                dilation: dilation, groups: groups)
            OpsB.assertClose(gx, OpsB.t("\(c).gx"), "\(c) grad input")
            let gw = Tensor.conv2dBackwardWeight(gy, input: x, weightShape: w.shape, stride: stride, padding: padding,
                                                 dilation: dilation, groups: groups)
            OpsB.assertClose(gw, OpsB.t("\(c).gw"), atol: 2e-4, "\(c) grad weight")
            OpsB.assertClose(Tensor.conv2dBackwardBias(gy), OpsB.t("\(c).gb"), atol: 2e-4, "\(c) grad bias")
            // Without bias the output is the biased one minus the bias.
            let yNoBias = Tensor.conv2d(x, weight: w, stride: stride, padding: padding, dilation: dilation, groups: groups)
            let bias = b.scalars, plane = y.shape[2] * y.shape[3]
            let shifted = yNoBias.scalars.enumerated().map { $0.element + bias[($0.offset / plane) % bias.count] }
            OpsB.assertArray(shifted, y.scalars, accuracy: 1e-4)
        }
    }

    func testSquareOverloadAndStridedInput() {
        let c = "conv_basic"
        let x = OpsB.t("\(c).x"), w = OpsB.t("\(c).w"), b = OpsB.t("\(c).b")
        OpsB.assertClose(Tensor.conv2d(x, weight: w, bias: b, stride: 1, padding: 1), OpsB.t("\(c).out"), "square overload")
        // A non-contiguous input view (NHWC storage permuted to NCHW).
        let nhwc = x.permuted([0, 2, 3, 1]).contiguous().permuted([0, 3, 1, 2])
        XCTAssertFalse(nhwc.isContiguous)
        OpsB.assertClose(Tensor.conv2d(nhwc, weight: w, bias: b, stride: 1, padding: 1), OpsB.t("\(c).out"), "strided input")
    }

    /// A feature map large enough that the column buffer is cut into pixel tiles: forward against a direct
    /// convolution in Double, backward kernels through the adjoint identities
    /// <conv(x, w), g> = <x, dX(g)> = <w, dW(g)>.
    func testTiledLargeMapAgainstDirectConvolution() {
        let n = 1, c = 64, h = 86, w = 86, o = 3, k = 3
        let x = OpsB.random([n, c, h, w], seed: 11), wt = OpsB.random([o, c, k, k], seed: 12)
        let y = Tensor.conv2d(x, weight: wt, stride: 1, padding: 1)
        XCTAssertEqual(y.shape, [n, o, h, w])
        let xs = x.scalars, ws = wt.scalars, ys = y.scalars
        var worst: Float = 0
        for oc in 0..<o {
            for i in Swift.stride(from: 0, to: h, by: 7) {
                for j in 0..<w {
                    var s = 0.0
                    for ch in 0..<c {
                        for ki in 0..<k {
                            let ih = i - 1 + ki
                            if ih < 0 || ih >= h { continue }
                            for kj in 0..<k {
                                let iw = j - 1 + kj
                                if iw < 0 || iw >= w { continue }
                                s += Double(xs[(ch * h + ih) * w + iw]) * Double(ws[((oc * c + ch) * k + ki) * k + kj])
                            }
                        }
                    }
                    worst = Swift.max(worst, abs(Float(s) - ys[(oc * h + i) * w + j]))
                }
            }
        }
        XCTAssertLessThan(worst, 1e-3)
        let g = OpsB.random(y.shape, seed: 13)
        let lhs = OpsB.dot(y, g)
        let gx = Tensor.conv2dBackwardInput(g, weight: wt, inputShape: x.shape, stride: 1, padding: 1)
        let gw = Tensor.conv2dBackwardWeight(g, input: x, weightShape: wt.shape, stride: 1, padding: 1)
        XCTAssertEqual(OpsB.dot(x, gx), lhs, accuracy: 1e-4 * abs(lhs) + 1e-2)
        XCTAssertEqual(OpsB.dot(wt, gw), lhs, accuracy: 1e-4 * abs(lhs) + 1e-2)
    }

    /// Many small images share one GEMM (several images per column block) and strided 1x1 convolutions take
    /// the im2col path; both are checked through the adjoint identities and against per-image calls.
    func testBatchedSmallMapsMatchPerImage() {
        let x = OpsB.random([9, 5, 4, 3], seed: 21), wt = OpsB.random([7, 5, 3, 3], seed: 22), b = OpsB.random([7], seed: 23)
        let y = Tensor.conv2d(x, weight: wt, bias: b, stride: 1, padding: 1)
        for i in [0, 4, 8] {
            let yi = Tensor.conv2d(x.sliced(axis: 0, start: i, end: i + 1), weight: wt, bias: b, stride: 1, padding: 1)
            OpsB.assertClose(y.sliced(axis: 0, start: i, end: i + 1).contiguous(), yi, atol: 1e-5, "image \(i)")
        }
        for (stride, padding) in [(2, 0), (1, 0)] {
            let w1 = OpsB.random([6, 5, 1, 1], seed: 24)
            let y1 = Tensor.conv2d(x, weight: w1, stride: stride, padding: padding)
            let g = OpsB.random(y1.shape, seed: 25)
            let lhs = OpsB.dot(y1, g)
            let gx = Tensor.conv2dBackwardInput(g, weight: w1, inputShape: x.shape, stride: stride, padding: padding)
            let gw = Tensor.conv2dBackwardWeight(g, input: x, weightShape: w1.shape, stride: stride, padding: padding)
            XCTAssertEqual(OpsB.dot(x, gx), lhs, accuracy: 1e-4 * abs(lhs) + 1e-3, "1x1 stride \(stride) dX")
            XCTAssertEqual(OpsB.dot(w1, gw), lhs, accuracy: 1e-4 * abs(lhs) + 1e-3, "1x1 stride \(stride) dW")
        }
    }
    /// The image-parallel path (at least as many images as workers) and the split path (fewer) both match PyTorch,
    /// for worker counts that divide the batch, leave a worker idle, or exceed it; strided, dilated, grouped and
    /// padded cases included (the fixtures), plus a batch large enough for pixel tiles per worker.
    func testEveryWorkerCountMatchesPyTorch() {
        let saved = Parallel.workers
        defer { Parallel.workers = saved }
        for workers in [1, 2, 3, 5] {
            Parallel.workers = workers
            for c in cases {
                let x = OpsB.t("\(c).x"), w = OpsB.t("\(c).w"), b = OpsB.t("\(c).b"), gy = OpsB.t("\(c).gy")
                let stride = OpsB.intPair(c, "stride"), padding = OpsB.intPair(c, "padding")
                let dilation = OpsB.intPair(c, "dilation"), groups = OpsB.int(c, "groups")
                OpsB.assertClose(Tensor.conv2d(x, weight: w, bias: b, stride: stride, padding: padding, dilation: dilation,
                                               groups: groups), OpsB.t("\(c).out"), "\(c) forward, \(workers) workers")
                OpsB.assertClose(Tensor.conv2dBackwardInput(gy, weight: w, inputShape: x.shape, stride: stride, padding: padding,
                                                            dilation: dilation, groups: groups),
                                 OpsB.t("\(c).gx"), "\(c) grad input, \(workers) workers")
                OpsB.assertClose(Tensor.conv2dBackwardWeight(gy, input: x, weightShape: w.shape, stride: stride, padding: padding,
                                                             dilation: dilation, groups: groups),
                                 OpsB.t("\(c).gw"), atol: 2e-4, "\(c) grad weight, \(workers) workers")
            }
            // 32 channels of 48x48: 288 x 2304 columns per image, cut into pixel tiles within each worker.
            let x = OpsB.random([3, 32, 48, 48], seed: 31), wt = OpsB.random([8, 32, 3, 3], seed: 32)
            let y = Tensor.conv2d(x, weight: wt, stride: 1, padding: 1)
            let g = OpsB.random(y.shape, seed: 33)
            let lhs = OpsB.dot(y, g)
            let gx = Tensor.conv2dBackwardInput(g, weight: wt, inputShape: x.shape, stride: 1, padding: 1)
            let gw = Tensor.conv2dBackwardWeight(g, input: x, weightShape: wt.shape, stride: 1, padding: 1)
            XCTAssertEqual(OpsB.dot(x, gx), lhs, accuracy: 1e-4 * abs(lhs) + 1e-2, "tiled dX, \(workers) workers")
            XCTAssertEqual(OpsB.dot(wt, gw), lhs, accuracy: 1e-4 * abs(lhs) + 1e-2, "tiled dW, \(workers) workers")
            let y0 = Tensor.conv2d(x.sliced(axis: 0, start: 2, end: 3), weight: wt, stride: 1, padding: 1)
            OpsB.assertClose(y.sliced(axis: 0, start: 2, end: 3).contiguous(), y0, atol: 1e-4, "tiled image 2, \(workers) workers")
        }
    }

    /// The shifted-GEMM path (forward and input gradient of stride-1 kernels larger than 1x1, image-parallel) agrees
    /// with the im2col path, which the
    /// PyTorch fixtures check: square, rectangular and 5x5 kernels, with and without padding, uneven image counts.
    func testShiftedGemmConvolutionMatchesIm2col() {
        let savedWorkers = Parallel.workers
        defer { Parallel.workers = savedWorkers; Tensor.shiftedConvolutions = true }
        let cases: [(x: [Int], w: [Int], pad: (Int, Int))] = [
            ([3, 16, 10, 9], [16, 16, 3, 3], (1, 1)),
            ([4, 17, 7, 8], [18, 17, 3, 2], (1, 0)),
            ([3, 16, 6, 6], [16, 16, 5, 5], (2, 2)),
            ([5, 16, 6, 7], [20, 16, 3, 3], (0, 0)),
        ]
        for workers in [2, 3] {
            Parallel.workers = workers
            for (ci, c) in cases.enumerated() {
                let x = OpsB.random(c.x, seed: UInt64(40 + ci)), w = OpsB.random(c.w, seed: UInt64(50 + ci))
                let b = OpsB.random([c.w[0]], seed: UInt64(60 + ci))
                func run() -> (Tensor, Tensor) {
                    let y = Tensor.conv2d(x, weight: w, bias: b, stride: (1, 1), padding: c.pad)
                    let gy = OpsB.random(y.shape, seed: UInt64(70 + ci))
                    return (y, Tensor.conv2dBackwardInput(gy, weight: w, inputShape: x.shape, stride: (1, 1), padding: c.pad))
                }
                Tensor.shiftedConvolutions = true
                XCTAssertTrue(Tensor.usesShiftedConvolution(input: c.x, weight: c.w, padding: c.pad), "case \(ci) must take the path")
                let (y, gx) = run()
                Tensor.shiftedConvolutions = false
                let (y0, gx0) = run()
                OpsB.assertClose(y, y0, atol: 1e-4, "case \(ci) forward, \(workers) workers")
                OpsB.assertClose(gx, gx0, atol: 1e-4, "case \(ci) grad input, \(workers) workers")
            }
        }
        Parallel.workers = 1
        XCTAssertFalse(Tensor.usesShiftedConvolution(input: [3, 16, 10, 9], weight: [16, 16, 3, 3], padding: (1, 1)),
                       "one worker: not image-parallel")
    }
}

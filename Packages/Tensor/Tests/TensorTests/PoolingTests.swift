import XCTest
import Tensor

final class PoolingTests: XCTestCase {
    func testUpsampleNearestAgainstPyTorch() {
        for c in ["up2", "up3"] {
            let scale = OpsB.int(c, "scale")
            let x = OpsB.t("\(c).x")
            let y = scale == 2 ? x.upsampleNearest2x() : Tensor.upsampleNearest(x, scale: scale)
            OpsB.assertClose(y, OpsB.t("\(c).out"), atol: 0, rtol: 0, "\(c) forward")
            OpsB.assertClose(Tensor.upsampleNearestBackward(OpsB.t("\(c).gy"), scale: scale), OpsB.t("\(c).gx"),
                             atol: 1e-5, "\(c) backward")
        }
        // A non-contiguous input and a rank-3 input ([C, H, W]).
        let x = OpsB.t("up2.x")
        OpsB.assertClose(Tensor.upsampleNearest(x.transposed(2, 3), scale: 2),
                         OpsB.t("up2.out").transposed(2, 3).contiguous(), atol: 0, rtol: 0, "transposed input")
        OpsB.assertClose(x.selecting(axis: 0, index: 1).upsampleNearest2x(),
                         OpsB.t("up2.out").selecting(axis: 0, index: 1).contiguous(), atol: 0, rtol: 0, "rank 3")
    }

    func testAvgPoolAgainstPyTorch() {
        for c in ["pool2", "pool3s2"] {
            let k = OpsB.int(c, "kernel"), s = OpsB.int(c, "stride")
            let x = OpsB.t("\(c).x")
            OpsB.assertClose(x.avgPool2d(kernel: k, stride: s), OpsB.t("\(c).out"), atol: 1e-5, "\(c) forward")
            OpsB.assertClose(Tensor.avgPool2dBackward(OpsB.t("\(c).gy"), inputShape: x.shape, kernel: k, stride: s),
                             OpsB.t("\(c).gx"), atol: 1e-5, "\(c) backward")
        }
        let x = OpsB.t("pool2.x")
        OpsB.assertClose(x.avgPool2d(kernel: 2), OpsB.t("pool2.out"), atol: 1e-5, "default stride")
    }

    /// Upsampling and its backward are adjoint: <up(x), g> = <x, up^T(g)>.
    func testUpsampleAdjointLargeScale() {
        let x = OpsB.random([2, 3, 17, 9], seed: 31)
        let y = Tensor.upsampleNearest(x, scale: 4)
        XCTAssertEqual(y.shape, [2, 3, 68, 36])
        XCTAssertEqual(y[1, 2, 67, 35], x[1, 2, 16, 8])
        XCTAssertEqual(y[0, 1, 5, 7], x[0, 1, 1, 1])
        let g = OpsB.random(y.shape, seed: 32)
        XCTAssertEqual(OpsB.dot(y, g), OpsB.dot(x, Tensor.upsampleNearestBackward(g, scale: 4)), accuracy: 1e-3)
    }
}

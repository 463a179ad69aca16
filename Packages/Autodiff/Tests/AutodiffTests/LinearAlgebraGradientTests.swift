import XCTest
import Tensor
import Autodiff

/// Finite-difference checks of matmul (all transpose flags, batch broadcasting, vectors) and linear.
final class LinearAlgebraGradientTests: XCTestCase {
    func testMatmulTransposeFlags() {
        for ta in [false, true] {
            for tb in [false, true] {
                let a = rnd(ta ? [4, 3] : [3, 4], 11), b = rnd(tb ? [5, 4] : [4, 5], 12)
                assertGradients([a, b]) { v in Variable.matmul(v[0], v[1], transposeA: ta, transposeB: tb) }
            }
        }
    }

    func testBatchedMatmulWithBroadcastBatch() {
        let a = rnd([2, 3, 4], 13), b = rnd([4, 2], 14)
        assertGradients([a, b]) { v in Variable.matmul(v[0], v[1]) }
        let c = rnd([1, 3, 2], 15), d = rnd([2, 1, 2, 4], 16)
        assertGradients([c, d]) { v in Variable.matmul(v[0], v[1], transposeA: false) }
        assertGradients([rnd([2, 2, 3], 17), rnd([2, 4, 3], 18)]) { v in Variable.matmul(v[0], v[1], transposeB: true) }
    }

    func testMatmulWithVectors() {
        assertGradients([rnd([4], 19), rnd([4, 3], 20)]) { v in v[0].matmul(v[1]) }
        assertGradients([rnd([2, 3, 4], 21), rnd([4], 22)]) { v in v[0].matmul(v[1]) }
    }

    func testLinear() {
        let x = rnd([2, 3, 4], 23), w = rnd([5, 4], 24), b = rnd([5], 25)
        assertGradients([x, w, b]) { v in Variable.linear(v[0], weight: v[1], bias: v[2]) }
        assertGradients([x, w]) { v in Variable.linear(v[0], weight: v[1]) }
    }
}

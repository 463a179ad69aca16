import XCTest
import Tensor
import Autodiff

/// Finite-difference checks of arithmetic and elementwise functions (broadcasting included).
final class ElementwiseGradientTests: XCTestCase {
    func testBinaryOperatorsWithBroadcasting() {
        let a = rnd([2, 3, 4], 1), b = rnd([3, 1], 2, 0.5...1.5)
        assertGradients([a, b]) { v in v[0] + v[1] }
        assertGradients([a, b]) { v in v[0] - v[1] }
        assertGradients([a, b]) { v in v[1] - v[0] }
        assertGradients([a, b]) { v in v[0] * v[1] }
        assertGradients([a, b]) { v in v[0] / v[1] }
        assertGradients([b, rnd([4], 3, 0.5...1.5)]) { v in v[1] / v[0] }
    }

    func testScalarOperatorsAndNegation() {
        let x = rnd([3, 4], 4, 0.5...2)
        assertGradients([x]) { v in (v[0] + 2) * 3 - 1 }
        assertGradients([x]) { v in 2 - v[0] / 4 }
        assertGradients([x]) { v in 1.5 / v[0] }
        assertGradients([x]) { v in -v[0] * v[0] }
        assertGradients([x, rnd([4], 5)], differentiable: [true, false]) { v in v[0] * v[1].value }  // tensor constant
    }

    func testMaximumMinimum() {
        let a = rnd([3, 4], 6), b = rnd([4], 7)  // continuous random values: no ties
        assertGradients([a, b]) { v in Variable.maximum(v[0], v[1]) }
        assertGradients([a, b]) { v in Variable.minimum(v[0], v[1]) }
    }

    func testMaximumSplitsGradientOnTies() {
        let a = Variable(Tensor([1, 2, 3]), requiresGrad: true), b = Variable(Tensor([1, 5, 0]), requiresGrad: true)
        Variable.maximum(a, b).backward(Tensor([4, 4, 4]))
        XCTAssertEqual(a.grad?.scalars, [2, 0, 4])
        XCTAssertEqual(b.grad?.scalars, [2, 4, 0])
    }

    func testUnaryFunctions() {
        let x = rnd([2, 5], 8, -2...2)
        let pos = rnd([2, 5], 9, 0.3...2)
        assertGradients([x]) { v in v[0].exp() }
        assertGradients([pos]) { v in v[0].log() }
        assertGradients([pos]) { v in v[0].sqrt() }
        assertGradients([pos]) { v in v[0].rsqrt() }
        assertGradients([rnd([2, 5], 10, awayFromZero: 0.1)]) { v in v[0].abs() }
        assertGradients([x]) { v in v[0].square() }
        assertGradients([x]) { v in v[0].sin() }
        assertGradients([x]) { v in v[0].cos() }
        assertGradients([x]) { v in v[0].tanh() }
        assertGradients([x]) { v in v[0].sigmoid() }
        assertGradients([pos]) { v in v[0].reciprocal() }
        assertGradients([pos]) { v in v[0].pow(2.5) }
        assertGradients([x]) { v in v[0].pow(3) }
        // Clamp bounds chosen so that no input lies within eps of a bound.
        let c = Tensor([-1.7, -0.9, -0.2, 0.3, 0.8, 1.6])
        assertGradients([c]) { v in v[0].clamped(min: -1, max: 1) }
        assertGradients([c]) { v in v[0].clamped(min: 0) }
    }
}

import XCTest
import Tensor
import Autodiff

/// Finite-difference checks of reductions, joining, indexing, softmax, activations and views of every kind.
final class TensorOpGradientTests: XCTestCase {
    func testReductions() {
        let x = rnd([2, 3, 4], 31)
        assertGradients([x]) { v in v[0].sum() }
        assertGradients([x]) { v in v[0].sum(axes: [0, -1]) }
        assertGradients([x]) { v in v[0].sum(axes: [1], keepDims: true) }
        assertGradients([x]) { v in v[0].mean() }
        assertGradients([x]) { v in v[0].mean(axes: [2], keepDims: false) }
        assertGradients([x]) { v in v[0].mean(axes: [0, 1], keepDims: true) }
        assertGradients([x]) { v in v[0].variance(axes: [2]) }
        assertGradients([x]) { v in v[0].variance(axes: [0, 2], keepDims: true, unbiased: true) }
        // Random continuous values: maxima are unique and separated by more than eps.
        let y = Tensor(shape: [2, 3], scalars: [0.3, -0.5, 0.9, 0.1, 0.7, -0.2])
        assertGradients([y]) { v in v[0].max(axis: 1) }
        assertGradients([y]) { v in v[0].min(axis: 0, keepDims: true) }
        assertGradients([y]) { v in v[0].max() }
        assertGradients([y]) { v in v[0].min() }
    }

    func testMaxRoutesGradientToFirstMaximum() {
        let x = Variable(Tensor(shape: [2, 3], scalars: [1, 5, 5, 7, 2, 7]), requiresGrad: true)
        x.max(axis: 1).backward(Tensor([10, 20]))
        XCTAssertEqual(x.grad?.scalars, [0, 10, 0, 20, 0, 0])
        let y = Variable(Tensor([1, 3, 3]), requiresGrad: true)
        y.max().backward()
        XCTAssertEqual(y.grad?.scalars, [0, 0.5, 0.5])
    }

    func testJoining() {
        let a = rnd([2, 3], 32), b = rnd([2, 1], 33), c = rnd([2, 3], 34)
        assertGradients([a, b, c]) { v in Variable.concat([v[0], v[1], v[2]], axis: 1) }
        assertGradients([a, c]) { v in Variable.stack([v[0], v[1]], axis: 1) }
        assertGradients([rnd([5, 4], 35)]) { v in
            let parts = v[0].split(sizes: [1, 3, 1], axis: 0)
            return parts[2] * parts[0] + parts[1].sum(axes: [0])
        }
        assertGradients([rnd([2, 7], 36)]) { v in
            let parts = v[0].chunk(3, axis: -1)   // sizes 3, 3, 1
            XCTAssertEqual(parts.map { $0.shape[1] }, [3, 3, 1])
            return Variable.concat([parts[2], parts[0].square()], axis: 1)
        }
    }

    func testIndexing() {
        let x = rnd([4, 3], 37)
        assertGradients([x]) { v in v[0].indexSelect(axis: 0, indices: [2, 0, 2, 3]) }
        assertGradients([x]) { v in v[0].indexSelect(axis: 1, indices: [1, 1]) }
        assertGradients([x]) { v in Variable.embedding(weight: v[0], ids: [3, 1, 3]) }
        assertGradients([x]) { v in v[0].gather(axis: 1, indices: [0, 2, 1, 1, 2, 2, 0, 0], indexShape: [4, 2]) }
        let cond = Tensor(shape: [4, 1], scalars: [1, 0, 0, 1])
        assertGradients([x, rnd([3], 38)]) { v in Variable.where(cond, v[0], v[1]) }
    }

    func testSoftmaxFamily() {
        let x = rnd([3, 5], 39, -2...2)
        assertGradients([x]) { v in v[0].softmax(axis: -1) }
        assertGradients([x]) { v in v[0].softmax(axis: 0) }
        assertGradients([x]) { v in v[0].logSoftmax(axis: 1) }
        assertGradients([x]) { v in v[0].logSumExp(axis: 1) }
        assertGradients([rnd([2, 3, 4], 40)]) { v in v[0].logSoftmax(axis: 1) }
    }

    func testActivations() {
        let x = rnd([3, 5], 41, -3...3, awayFromZero: 0.05)
        assertGradients([x]) { v in v[0].relu() }
        assertGradients([x]) { v in v[0].silu() }
        assertGradients([x]) { v in v[0].gelu() }
        assertGradients([x]) { v in v[0].gelu(approximate: .tanh) }
        assertGradients([x]) { v in v[0].quickGelu() }
    }
}

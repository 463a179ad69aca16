import XCTest
import Tensor
import Autodiff

/// Loss values against closed forms and finite-difference checks of their gradients.
final class LossGradientTests: XCTestCase {
    func testMseAndL1() {
        let x = rnd([3, 4], 81), t = rnd([3, 4], 82)
        assertGradients([x, t]) { v in Variable.mseLoss(v[0], v[1]) }
        assertGradients([x]) { v in Variable.mseLoss(v[0], t, reduction: .sum) }
        assertGradients([x]) { v in Variable.l1Loss(v[0], t) }
        let value = Variable.mseLoss(Variable(x), t).value.item()
        let expected = zip(x.scalars, t.scalars).map { ($0 - $1) * ($0 - $1) }.reduce(0, +) / 12
        XCTAssertEqual(value, expected, accuracy: 1e-6)
    }

    func testCrossEntropyWithIndicesMatchesClosedForm() {
        let z = Tensor(shape: [2, 3], scalars: [1, 2, 3, 0, 0, 0])
        let loss = Variable.crossEntropy(logits: Variable(z), targets: [2, 0]).value.item()
        let l0 = -log(exp(3.0) / (exp(1.0) + exp(2.0) + exp(3.0))), l1 = log(3.0)
        XCTAssertEqual(Double(loss), (l0 + l1) / 2, accuracy: 1e-6)
        // Weighted mean divides by the weights of the targets; ignored targets count for nothing.
        let w = Tensor([1, 1, 4])
        let lw = Variable.crossEntropy(logits: Variable(z), targets: [2, 0], weight: w).value.item()
        XCTAssertEqual(Double(lw), (4 * l0 + l1) / 5, accuracy: 1e-6)
        let li = Variable.crossEntropy(logits: Variable(z), targets: [2, -100]).value.item()
        XCTAssertEqual(Double(li), l0, accuracy: 1e-6)
        // A single sample as [C], and per-sample losses of [N, C, d] in shape [N, d].
        let single = Variable.crossEntropy(logits: Variable(Tensor([1, 2, 3])), targets: [2], reduction: .none)
        XCTAssertEqual(single.shape, [])
        XCTAssertEqual(Double(single.value.item()), l0, accuracy: 1e-6)
        let spatial = Tensor(shape: [1, 3, 2], scalars: [1, 0, 2, 0, 3, 0])   // sample 0 = z row 0, sample 1 = zeros
        let perSample = Variable.crossEntropy(logits: Variable(spatial), targets: [2, 0], reduction: .none)
        XCTAssertEqual(perSample.shape, [1, 2])
        XCTAssertEqual(Double(perSample.value.scalars[0]), l0, accuracy: 1e-6)
        XCTAssertEqual(Double(perSample.value.scalars[1]), l1, accuracy: 1e-6)
    }

    func testCrossEntropyGradients() {
        let z = rnd([4, 5], 83, -2...2)
        let t = [1, 4, 0, 4]
        assertGradients([z]) { v in Variable.crossEntropy(logits: v[0], targets: t) }
        assertGradients([z]) { v in Variable.crossEntropy(logits: v[0], targets: t, weight: Tensor([0.5, 1, 2, 1, 0.1])) }
        assertGradients([z]) { v in Variable.crossEntropy(logits: v[0], targets: [1, -100, 0, 3], reduction: .sum) }
        assertGradients([z]) { v in Variable.crossEntropy(logits: v[0], targets: t, reduction: .none) }
        // Classes on axis 1 of [N, C, d].
        assertGradients([rnd([2, 3, 4], 84)]) { v in
            Variable.crossEntropy(logits: v[0], targets: [0, 1, 2, 2, 1, 0, 0, 2], weight: Tensor([1, 2, 3]))
        }
        let p = rnd([4, 5], 85, 0...1)
        let probs = p / p.sum(axes: [1], keepDims: true)
        assertGradients([z]) { v in Variable.crossEntropy(logits: v[0], targets: probs) }
        assertGradients([z]) { v in
            Variable.crossEntropy(logits: v[0], targets: probs, weight: Tensor([0.5, 1, 2, 1, 0.1]), reduction: .none)
        }
    }

    func testBinaryCrossEntropyWithLogits() {
        let x = rnd([3, 4], 86, -3...3), y = rnd([3, 4], 87, 0...1)
        assertGradients([x]) { v in Variable.binaryCrossEntropyWithLogits(v[0], targets: y) }
        assertGradients([x]) { v in
            Variable.binaryCrossEntropyWithLogits(v[0], targets: y, weight: rnd([4], 88, 0.5...2),
                                                  posWeight: Tensor([1, 2, 3, 0.5]), reduction: .sum)
        }
        // Closed form for one element, including a large logit where the naive formula overflows.
        let big = Variable.binaryCrossEntropyWithLogits(Variable(Tensor([-100, 2])), targets: Tensor([1, 0]),
                                                        reduction: .none).value.scalars
        XCTAssertEqual(big[0], 100, accuracy: 1e-4)
        XCTAssertEqual(Double(big[1]), log(1 + exp(2.0)), accuracy: 1e-6)
    }
}

import Autodiff
import DiscriminativeAdapter
import Foundation
import Tensor
import XCTest

final class MatchingLossTests: XCTestCase {
    func testEqualScoresGiveLogThree() {
        for (value, scale) in [(Float(0.3), Float(14.28)), (-0.7, 1), (0.999, 100)] {
            let scores = Variable(Tensor(shape: [4, 3], repeating: value))
            let loss = MatchingLoss.contrastive(scores: scores, scale: Variable(Tensor(scalar: scale)))
            XCTAssertEqual(loss.value.item(), Float(Foundation.log(3.0)), accuracy: 1e-6)
        }
    }

    func testClosedFormWithDistinctScores() {
        // CE(s * [a, b, c], 0) = -s a + log(e^{s a} + e^{s b} + e^{s c}), averaged over rows.
        let rows: [[Float]] = [[0.5, 0.1, -0.3], [0.0, 0.2, 0.4]]
        let s: Float = 3
        let expected = rows.map { r -> Double in
            let z = r.map { Double(s * $0) }
            return -z[0] + Foundation.log(z.map(Foundation.exp).reduce(0, +))
        }.reduce(0, +) / 2
        let loss = MatchingLoss.contrastive(scores: Variable(Tensor(shape: [2, 3], scalars: rows.flatMap { $0 })),
                                            scale: Variable(Tensor(scalar: s)))
        XCTAssertEqual(Double(loss.value.item()), expected, accuracy: 1e-5)
    }

    func testScoreIsMaxCosineOverQueries() {
        let q = Tensor(shape: [1, 3, 2], scalars: [1, 0, 0, 2, 1, 1])
        let e = Tensor(shape: [1, 2], scalars: [0, 5])
        let s = MatchingLoss.scores(Variable(q), text: Variable(e))
        XCTAssertEqual(s.value.scalars[0], 1, accuracy: 1e-6)          // query 1 is parallel to e
        let cos = MatchingLoss.queryCosines(Variable(q), text: Variable(e)).value.scalars
        XCTAssertEqual(cos[2], Float(1 / 2.0.squareRoot()), accuracy: 1e-6)
    }

    func testGradientOfContrastiveLoss() {
        let scores = GradientCheck.uniform([3, 3], seed: 1, in: -1...1)
        let report = GradientCheck.check(inputs: [scores, Tensor(scalar: 2.3)], eps: 1e-3, tolerance: 5e-3) { v in
            MatchingLoss.contrastive(scores: v[0], scale: v[1].exp())
        }
        XCTAssertTrue(report.passed, "\(report)")
    }

    func testGradientOfScores() {
        let q = GradientCheck.uniform([2, 3, 5], seed: 2, in: -1...1)
        let e = GradientCheck.uniform([2, 5], seed: 3, in: -1...1)
        let report = GradientCheck.check(inputs: [q, e], eps: 1e-3, tolerance: 5e-3) { v in
            MatchingLoss.scores(v[0], text: v[1])
        }
        XCTAssertTrue(report.passed, "\(report)")
    }
}

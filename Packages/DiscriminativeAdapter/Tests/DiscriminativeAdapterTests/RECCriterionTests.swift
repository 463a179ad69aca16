import Autodiff
import DiscriminativeAdapter
import Foundation
import Tensor
import XCTest

final class RECCriterionTests: XCTestCase {
    func targets() throws -> [RECTarget] {
        [try RECTarget(boxes: [[0.3, 0.4, 0.2, 0.3]], tokenSpans: [[1, 2]], tokenCount: 5),
         try RECTarget(boxes: [[0.6, 0.5, 0.3, 0.2], [0.25, 0.7, 0.12, 0.15]], tokenSpans: [[3], [1, 2, 4]], tokenCount: 6)]
    }

    func testSpanTargetsAreNormalisedNotMultiHot() throws {
        // One query, one box spanning tokens {1, 2}: the class loss is -(log p1 + log p2) / 2 (normalised target).
        let logits = Tensor(shape: [1, 1, 5], scalars: [0.2, 1.0, -0.5, 0.3, 0.1])
        let t = try RECTarget(boxes: [[0.5, 0.5, 0.2, 0.2]], tokenSpans: [[2, 1]])
        let terms = try RECCriterion().loss(classLogits: Variable(logits), boxes: Variable(Tensor(shape: [1, 1, 4], scalars: [0.5, 0.5, 0.2, 0.2])),
                                            targets: [t])
        let z = logits.scalars.map(Double.init)
        let lse = Foundation.log(z.map(Foundation.exp).reduce(0, +))
        XCTAssertEqual(Double(terms.classification.value.item()), -((z[1] - lse) + (z[2] - lse)) / 2, accuracy: 1e-5)
        XCTAssertEqual(terms.boxL1.value.item(), 0, accuracy: 1e-7)
        XCTAssertEqual(terms.giou.value.item(), 0, accuracy: 1e-6)
    }

    func testNoObjectWeightAndBoxNormalisation() throws {
        // Two queries, one box: the unmatched query contributes 0.1 * -log p(no object); everything / 1 box.
        let logits = Tensor(shape: [1, 2, 3], scalars: [2.0, 0.1, -1.0, 0.3, 0.2, 0.9])
        let boxes = Tensor(shape: [1, 2, 4], scalars: [0.4, 0.4, 0.2, 0.2, 0.8, 0.8, 0.1, 0.1])
        let t = try RECTarget(boxes: [[0.42, 0.41, 0.2, 0.22]], tokenSpans: [[0]])
        let terms = try RECCriterion().loss(classLogits: Variable(logits), boxes: Variable(boxes), targets: [t])
        XCTAssertEqual(terms.matching, [[RECMatch(query: 0, target: 0)]])
        func logSoftmax(_ r: [Double]) -> [Double] { let l = Foundation.log(r.map(Foundation.exp).reduce(0, +)); return r.map { $0 - l } }
        let row0 = logSoftmax([2.0, 0.1, -1.0]), row1 = logSoftmax([0.3, 0.2, 0.9])
        XCTAssertEqual(Double(terms.classification.value.item()), -row0[0] - 0.1 * row1[2], accuracy: 1e-5)
        XCTAssertEqual(Double(terms.boxL1.value.item()), 0.02 + 0.01 + 0 + 0.02, accuracy: 1e-6)
    }

    func testLossGradientsWithFixedMatching() throws {
        let ts = try targets()
        let logits = GradientCheck.uniform([2, 3, 9], seed: 11, in: -2...2)
        let raw = GradientCheck.uniform([2, 3, 4], seed: 12, in: -1...1)
        let q = GradientCheck.uniform([2, 3, 6], seed: 13, in: -1...1)
        let tok = GradientCheck.uniform([2, 8, 6], seed: 14, in: -1...1)
        let criterion = RECCriterion(temperature: 0.5)
        let matching = try criterion.match(classLogits: logits, boxes: raw.sigmoid(), targets: ts)
        let report = GradientCheck.check(inputs: [logits, raw, q, tok], eps: 5e-3, tolerance: 3e-2) { v in
            try! criterion.loss(classLogits: v[0], boxes: v[1].sigmoid(), targets: ts,
                                projectedQueries: l2Normalized(v[2]), projectedTokens: l2Normalized(v[3]),
                                matching: matching).total
        }
        XCTAssertTrue(report.passed, "\(report)")
    }

    func testMatchingMinimisesTheDocumentedCost() throws {
        let ts = try targets()
        let logits = pseudoRandom([2, 4, 9], seed: 5, scale: 2)
        let boxes = pseudoRandom([2, 4, 4], seed: 6).sigmoid()
        let criterion = RECCriterion()
        let m = try criterion.match(classLogits: logits, boxes: boxes, targets: ts)
        for (s, t) in ts.enumerated() {
            let cost = criterion.costMatrix(classLogits: logits.selecting(axis: 0, index: s).contiguous(),
                                            boxes: boxes.selecting(axis: 0, index: s).contiguous(), target: t)
            let chosen = m[s].reduce(0.0) { $0 + cost[$1.query][$1.target] }
            // Any other injective assignment costs at least as much.
            let nq = cost.count
            var best = Double.infinity
            if t.boxes.count == 1 { best = (0..<nq).map { cost[$0][0] }.min()! } else {
                for a in 0..<nq { for b in 0..<nq where b != a { best = min(best, cost[a][0] + cost[b][1]) } }
            }
            XCTAssertEqual(chosen, best, accuracy: 1e-9)
        }
    }

    func testBadTargetsThrow() {
        XCTAssertThrowsError(try RECTarget(boxes: [[0.5, 0.5, 0, 0.1]], tokenSpans: [[1]]))
        XCTAssertThrowsError(try RECTarget(boxes: [[0.5, 0.5, 0.1, 0.1]], tokenSpans: [[]]))
        XCTAssertThrowsError(try RECTarget(boxes: [[0.5, 0.5, 0.1, 0.1]], tokenSpans: [[6]], tokenCount: 5))
        let t = try! RECTarget(boxes: [[0.5, 0.5, 0.1, 0.1]], tokenSpans: [[9]])
        XCTAssertThrowsError(try RECCriterion().loss(classLogits: Variable(Tensor(shape: [1, 2, 5], repeating: 0)),
                                                     boxes: Variable(Tensor(shape: [1, 2, 4], repeating: 0.5)), targets: [t]))
    }
}

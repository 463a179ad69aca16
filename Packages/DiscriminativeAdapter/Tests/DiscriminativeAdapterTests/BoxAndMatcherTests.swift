import Autodiff
import DiscriminativeAdapter
import Foundation
import Tensor
import XCTest

final class BoxAndMatcherTests: XCTestCase {
    struct GIoUFixture: Decodable {
        struct Pair: Decodable { let a: [Double]; let b: [Double]; let giou: Double; let iou: Double }
        let pairs: [Pair]
    }

    func testGIoUMatchesNumPyReference() throws {
        let f = try JSONDecoder().decode(GIoUFixture.self, from: Data(contentsOf: fixtureURL("giou", "json")))
        XCTAssertGreaterThan(f.pairs.count, 40)
        let a = Tensor(shape: [f.pairs.count, 4], scalars: f.pairs.flatMap { $0.a.map(Float.init) })
        let b = Tensor(shape: [f.pairs.count, 4], scalars: f.pairs.flatMap { $0.b.map(Float.init) })
        let g = BoxOps.generalizedIoU(BoxOps.cornersFromCenter(Variable(a)), BoxOps.cornersFromCenter(Variable(b))).value.scalars
        for (i, p) in f.pairs.enumerated() {
            XCTAssertEqual(Double(g[i]), p.giou, accuracy: 2e-6, "pair \(i)")
            XCTAssertEqual(BoxOps.generalizedIoU(BoxOps.corners(p.a), BoxOps.corners(p.b)), p.giou, accuracy: 1e-12, "pair \(i)")
            XCTAssertEqual(BoxOps.iou(BoxOps.corners(p.a), BoxOps.corners(p.b)), p.iou, accuracy: 1e-12, "pair \(i)")
        }
        XCTAssertEqual(f.pairs[0].giou, 1, accuracy: 1e-12)          // identical boxes
        XCTAssertLessThan(f.pairs[1].giou, 0)                        // disjoint boxes
    }

    func testGIoUGradient() {
        // Overlapping boxes away from the kinks of min/max.
        let a = Tensor(shape: [3, 4], scalars: [0.40, 0.50, 0.20, 0.30, 0.30, 0.30, 0.25, 0.20, 0.60, 0.62, 0.30, 0.26])
        let b = Tensor(shape: [3, 4], scalars: [0.47, 0.43, 0.31, 0.22, 0.62, 0.71, 0.14, 0.11, 0.55, 0.58, 0.12, 0.14])
        let report = GradientCheck.check(inputs: [a, b], eps: 1e-3, tolerance: 5e-3) { v in
            BoxOps.generalizedIoU(BoxOps.cornersFromCenter(v[0]), BoxOps.cornersFromCenter(v[1]))
        }
        XCTAssertTrue(report.passed, "\(report)")
    }

    /// Minimum total over all injective maps of the smaller side into the larger one (exhaustive, no pruning:
    /// costs may be negative).
    func bruteForce(_ c: [[Double]]) -> Double {
        let n = c.count, m = c[0].count
        let transposed = n > m
        let rows = transposed ? m : n, cols = transposed ? n : m
        func cost(_ r: Int, _ k: Int) -> Double { transposed ? c[k][r] : c[r][k] }
        var best = Double.infinity
        var used = [Bool](repeating: false, count: cols)
        func go(_ r: Int, _ acc: Double) {
            if r == rows { best = min(best, acc); return }
            for k in 0..<cols where !used[k] {
                used[k] = true
                go(r + 1, acc + cost(r, k))
                used[k] = false
            }
        }
        go(0, 0)
        return best
    }

    func testHungarianEqualsBruteForceOnRandomRectangularMatrices() throws {
        var rng = SplitMix(seed: 7)
        var checked = 0
        for trial in 0..<220 {
            let n = 1 + Int(rng.next() % 6), m = 1 + Int(rng.next() % 6)
            let integer = trial % 3 == 0                    // many ties
            let c: [[Double]] = (0..<n).map { _ in
                (0..<m).map { _ in integer ? Double(rng.next() % 4) : Double(rng.next() % 1_000_000) / 1e5 - 3 }
            }
            let (pairs, total) = try LinearAssignment.solve(c)
            XCTAssertEqual(pairs.count, min(n, m), "trial \(trial)")
            XCTAssertEqual(Set(pairs.map(\.row)).count, pairs.count)
            XCTAssertEqual(Set(pairs.map(\.column)).count, pairs.count)
            XCTAssertEqual(pairs.map(\.row), pairs.map(\.row).sorted())
            XCTAssertEqual(total, pairs.reduce(0) { $0 + c[$1.row][$1.column] }, accuracy: 1e-9)
            XCTAssertEqual(total, bruteForce(c), accuracy: 1e-9, "trial \(trial): \(n)x\(m) \(c)")
            checked += 1
        }
        XCTAssertEqual(checked, 220)
    }

    func testHungarianRejectsNonFiniteCosts() {
        XCTAssertThrowsError(try LinearAssignment.solve([[1, .nan], [0, 1]]))
        XCTAssertThrowsError(try LinearAssignment.solve([[1, 2], [0]]))
        XCTAssertEqual(try LinearAssignment.solve([]).pairs.count, 0)
    }
}

struct SplitMix: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

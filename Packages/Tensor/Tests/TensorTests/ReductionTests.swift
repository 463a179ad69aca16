import Foundation
import Tensor
import XCTest

final class ReductionTests: XCTestCase {
    /// Brute-force reduction in Double over `axes` (keepDims shape), from storage through strides.
    func naiveReduce(_ t: Tensor, axes: Set<Int>, _ f: ([Double]) -> Double) -> [Float] {
        let outShape = t.shape.enumerated().map { axes.contains($0.offset) ? 1 : $0.element }
        var groups = [[Double]](repeating: [], count: outShape.reduce(1, *))
        let outStrides = Tensor.contiguousStrides(for: outShape)
        for idx in OpsA.indices(t.shape) {
            var o = 0
            for d in 0..<t.rank where !axes.contains(d) { o += idx[d] * outStrides[d] }
            groups[o].append(Double(OpsA.element(t, idx)))
        }
        return groups.map { Float(f($0)) }
    }

    static func sum(_ v: [Double]) -> Double { v.reduce(0, +) }
    static func mean(_ v: [Double]) -> Double { v.reduce(0, +) / Double(v.count) }
    static func variance(_ v: [Double], _ correction: Double) -> Double {
        let m = mean(v)
        return v.map { ($0 - m) * ($0 - m) }.reduce(0, +) / (Double(v.count) - correction)
    }

    /// Every subset of axes of contiguous, transposed, sliced and expanded inputs, with and without keepDims.
    func testAllAxisSubsetsAgainstBruteForce() {
        var rng = OpsA.Rng(10)
        let base = rng.tensor([3, 4, 5, 6], scale: 2)
        let inputs: [(String, Tensor)] = [
            ("contiguous", base),
            ("permuted", base.permuted([2, 0, 3, 1])),
            ("sliced", base.sliced(axis: 3, start: 1, step: 2)),
            ("expanded", rng.tensor([3, 1, 5, 1]).expanded(to: [3, 4, 5, 2])),
            ("size-1 axes", rng.tensor([1, 4, 1, 6])),
        ]
        for (name, t) in inputs {
            for mask in 1..<(1 << t.rank) {
                let axes = (0..<t.rank).filter { mask & (1 << $0) != 0 }
                let set = Set(axes)
                let keptShape = t.shape.enumerated().filter { !set.contains($0.offset) }.map(\.element)
                let keepShape = t.shape.enumerated().map { set.contains($0.offset) ? 1 : $0.element }
                let s = t.sum(axes: axes)
                XCTAssertEqual(s.shape, keptShape, "\(name) \(axes)")
                OpsA.assertClose(s.scalars, naiveReduce(t, axes: set, Self.sum), atol: 1e-5, rtol: 1e-6, "sum \(name) \(axes)")
                XCTAssertEqual(t.sum(axes: axes, keepDims: true).shape, keepShape)
                OpsA.assertClose(t.mean(axes: axes, keepDims: true).scalars, naiveReduce(t, axes: set, Self.mean),
                                 atol: 1e-6, rtol: 1e-6, "mean \(name) \(axes)")
                OpsA.assertClose(t.variance(axes: axes).scalars, naiveReduce(t, axes: set) { Self.variance($0, 0) },
                                 atol: 1e-6, rtol: 1e-5, "variance \(name) \(axes)")
                // Negative axes name the same reduction (normalised before the kernel: the same path, the same bits).
                XCTAssertEqual(t.sum(axes: axes.map { $0 - t.rank }).scalars, s.scalars)
            }
            for axis in 0..<t.rank {
                let set: Set<Int> = [axis]
                // max and min round nothing: exact in any order.
                XCTAssertEqual(t.max(axis: axis).scalars, naiveReduce(t, axes: set) { $0.max()! }, "max \(name) \(axis)")
                XCTAssertEqual(t.min(axis: axis, keepDims: true).scalars, naiveReduce(t, axes: set) { $0.min()! })
                let firstMax = naiveReduce(t, axes: set) { v in Double(v.firstIndex(of: v.max()!)!) }
                XCTAssertEqual(t.argmax(axis: axis).map(Float.init), firstMax, "argmax \(name) \(axis)")
                let firstMin = naiveReduce(t, axes: set) { v in Double(v.firstIndex(of: v.min()!)!) }
                XCTAssertEqual(t.argmin(axis: axis), firstMin.map { Int($0) }, "argmin \(name) \(axis)")
            }
        }
    }

    func testHandComputed() {
        let t = Tensor(shape: [2, 3], scalars: [1, 2, 3, 4, 5, 6])
        XCTAssertEqual(t.sum().shape, [])
        XCTAssertEqual(t.sum().item(), 21)
        XCTAssertEqual(t.sum(axis: 0).scalars, [5, 7, 9])
        XCTAssertEqual(t.sum(axis: 1, keepDims: true).shape, [2, 1])
        XCTAssertEqual(t.sum(axis: -1).scalars, [6, 15])
        XCTAssertEqual(t.mean().item(), 3.5)
        XCTAssertEqual(t.mean(axis: 0).scalars, [2.5, 3.5, 4.5])
        XCTAssertEqual(t.variance().item(), 35.0 / 12.0, accuracy: 1e-6)
        XCTAssertEqual(t.variance(unbiased: true).item(), 3.5, accuracy: 1e-6)
        XCTAssertEqual(t.variance(axes: [1], unbiased: true).scalars, [1, 1])
        XCTAssertEqual(t.max().item(), 6)
        XCTAssertEqual(t.min().item(), 1)
        XCTAssertEqual(t.T.argmax(), 5)
        XCTAssertEqual(t.argmax(axis: 1), [2, 2])
        XCTAssertEqual(t.argmax(axis: 0, keepDims: true).shape, [1, 3])
        XCTAssertEqual(t.sum(axes: []).scalars, t.scalars, "no axes: nothing reduced")
        XCTAssertEqual(Tensor(scalar: 3).sum().item(), 3)
        XCTAssertEqual(Tensor(scalar: 3).sum(axes: [0]).item(), 3)
    }

    func testTiesNaNAndEmpty() {
        let ties = Tensor(shape: [2, 4], scalars: [1, 3, 3, 0, -1, -1, -5, -5])
        XCTAssertEqual(ties.argmax(axis: 1), [1, 0])
        XCTAssertEqual(ties.argmin(axis: 1), [3, 2])
        let nan = Tensor([1, .nan, 5, .nan])
        XCTAssertTrue(nan.max().item().isNaN)
        XCTAssertTrue(nan.min().item().isNaN)
        XCTAssertEqual(nan.argmax(axis: 0), [1], "first NaN wins like torch.argmax")
        XCTAssertTrue(nan.sum().item().isNaN)
        XCTAssertEqual(Tensor([-.infinity, -.infinity]).argmax(axis: 0), [0])

        let empty = Tensor(shape: [0, 3], scalars: [])
        XCTAssertEqual(empty.sum().item(), 0)
        XCTAssertEqual(empty.sum(axis: 0).scalars, [0, 0, 0])
        XCTAssertEqual(empty.sum(axis: 1).shape, [0])
        XCTAssertTrue(empty.mean(axis: 0).scalars.allSatisfy(\.isNaN))
        XCTAssertEqual(empty.max(axis: 1).shape, [0])
    }

    /// Long sums keep full Float accuracy (Double/blocked accumulation), row-wise and column-wise.
    func testLongSumsAreAccurate() {
        let n = 1 << 21
        // 0.1 is not representable; a naive Float running sum drifts by ~1e-3 relative here.
        let row = Tensor(shape: [n], repeating: 0.1)
        let exact = Double(Float(0.1)) * Double(n)
        XCTAssertEqual(Double(row.sum().item()), exact, accuracy: exact * 1e-7)
        XCTAssertEqual(Double(row.mean().item()), Double(Float(0.1)), accuracy: 1e-8)
        let cols = Tensor(shape: [n / 4, 4], repeating: 0.1)
        for v in cols.sum(axis: 0).scalars { XCTAssertEqual(Double(v), exact / 4, accuracy: exact / 4 * 1e-7) }
        // Variance of a large-mean signal: shifted Double sums, no cancellation.
        var rng = OpsA.Rng(11)
        let values = (0..<100_000).map { _ in 10_000 + rng.uniform() }
        let v = Tensor(values)
        let ref = Self.variance(values.map(Double.init), 0)
        XCTAssertEqual(Double(v.variance().item()), ref, accuracy: ref * 1e-5)
    }

    /// Large reductions split over cores equal the brute force (results do not depend on the split).
    func testLargeReductionsMatchBruteForce() {
        var rng = OpsA.Rng(12)
        let t = rng.tensor([64, 33, 40])
        for axes in [[0], [2], [0, 1], [1], [0, 2]] {
            OpsA.assertClose(t.sum(axes: axes).scalars, naiveReduce(t, axes: Set(axes), Self.sum),
                             atol: 1e-5, rtol: 1e-6, "sum \(axes)")
        }
        let tt = t.permuted([2, 0, 1])
        OpsA.assertClose(tt.sum(axes: [0]).scalars, naiveReduce(tt, axes: [0], Self.sum), atol: 1e-5, rtol: 1e-6)
        XCTAssertEqual(t.max(axis: 1).scalars, naiveReduce(t, axes: [1]) { $0.max()! })
    }

    func testSumToShapeIsBroadcastingBackward() {
        var rng = OpsA.Rng(13)
        let g = rng.tensor([2, 3, 4, 5])
        let targets: [[Int]] = [[5], [4, 1], [3, 1, 5], [1, 3, 4, 5], [2, 3, 4, 5], [], [1], [2, 1, 1, 1], [1, 1]]
        for target in targets {
            let r = g.sumToShape(target)
            XCTAssertEqual(r.shape, target)
            let axes = try! Tensor.sumToShapeAxes(from: g.shape, to: target)
            // sumToShape runs the same reduction kernel over the same axes as sum(axes:keepDims:): the same bits.
            XCTAssertEqual(r.scalars, g.sum(axes: axes, keepDims: true).scalars, "\(target)")
            // Adjoint identity: <g, expand(y)> == <sumToShape(g), y>.
            let y = rng.tensor(target)
            let lhs = (g * y.expanded(to: g.shape)).sum().item()
            let rhs = (r * y).sum().item()
            XCTAssertEqual(lhs, rhs, accuracy: 1e-4, "\(target)")
        }
        XCTAssertEqual(g.T.sumToShape([5, 1]).scalars, g.T.sum(axes: [0, 1, 3], keepDims: true).scalars)
        XCTAssertEqual(Tensor(scalar: 2).sumToShape([]).item(), 2)
    }

    func testShapeValidationErrorsNameOpAndShapes() {
        XCTAssertThrowsError(try Tensor.sumToShapeAxes(from: [2, 3], to: [4, 3])) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("sumToShape") && text.contains("[2, 3]") && text.contains("[4, 3]"), text)
        }
        XCTAssertThrowsError(try Tensor.sumToShapeAxes(from: [3], to: [1, 3])) { error in
            XCTAssertTrue("\(error)".contains("sumToShape"))
        }
        XCTAssertThrowsError(try Tensor.reducedShape([2, 3], axes: [2], keepDims: false, op: "sum")) { error in
            XCTAssertEqual(error as? TensorError, .invalidAxis(op: "sum", axis: 2, rank: 2))
        }
        XCTAssertThrowsError(try Tensor.reducedShape([2, 3], axes: [1, -1], keepDims: false, op: "mean")) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("mean") && text.contains("[2, 3]") && text.contains("repeated"), text)
        }
        XCTAssertEqual(try Tensor.reducedShape([2, 3, 4], axes: [-1, 0], keepDims: true), [1, 3, 1])
        XCTAssertEqual(try Tensor.reducedShape([2, 3, 4], axes: [1], keepDims: false), [2, 4])
    }
}

import Foundation
import Tensor
import XCTest

final class ElementwiseTests: XCTestCase {
    typealias BinaryCase = (name: String, op: (Tensor, Tensor) -> Tensor, ref: (Float, Float) -> Float)

    let binaryOps: [BinaryCase] = [
        ("add", { $0 + $1 }, { $0 + $1 }),
        ("sub", { $0 - $1 }, { $0 - $1 }),
        ("mul", { $0 * $1 }, { $0 * $1 }),
        ("div", { $0 / $1 }, { $0 / $1 }),
        ("maximum", { Tensor.maximum($0, $1) }, { Swift.max($0, $1) }),
        ("minimum", { Tensor.minimum($0, $1) }, { Swift.min($0, $1) }),
        ("greater", { $0.greater($1) }, { $0 > $1 ? 1 : 0 }),
        ("lessEqual", { $0.lessEqual($1) }, { $0 <= $1 ? 1 : 0 }),
    ]

    /// Every broadcasting pattern (same shape, scalar, 0-d, rows, columns, outer products, empty) against a
    /// brute-force element-by-element reference; results must be bit-identical (each op is one correctly rounded IEEE
    /// operation or an exact comparison, so any loop gives the same bits).
    func testBroadcastingMatchesBruteForce() {
        var rng = OpsA.Rng(1)
        let pairs: [([Int], [Int])] = [
            ([2, 3], [2, 3]), ([2, 3], [3]), ([2, 3], []), ([], [4]), ([], []), ([4, 1], [1, 5]),
            ([2, 1, 3], [4, 1]), ([3, 1, 1], [1, 4, 5]), ([2, 3, 4], [2, 1, 4]), ([5, 1], [5, 7]),
            ([1], [1]), ([6, 1, 7, 1], [1, 5, 1, 8]), ([1, 1, 3], [3]), ([0, 3], [3]), ([2, 0], [1]), ([0], []),
        ]
        for (sa, sb) in pairs {
            let a = rng.tensor(sa, scale: 3), b = rng.tensor(sb, scale: 3)
            for c in binaryOps {
                let got = c.op(a, b)
                let want = OpsA.naiveBinary(a, b, c.ref)
                XCTAssertEqual(got.shape, want.shape, "\(c.name) \(sa) \(sb)")
                XCTAssertEqual(got.scalars, want.scalars, "\(c.name) \(sa) \(sb)")
                if got.count > 0 { XCTAssertTrue(got.isContiguous) }
                // Operand order swapped.
                XCTAssertEqual(c.op(b, a).scalars, OpsA.naiveBinary(b, a, c.ref).scalars, "\(c.name) \(sb) \(sa)")
            }
        }
    }

    /// Transposed, step-sliced, expanded (stride 0), permuted and selected views as operands.
    func testStridedOperands() {
        var rng = OpsA.Rng(2)
        let base = rng.tensor([4, 6, 5])
        let other = rng.tensor([5, 6, 4])
        let views: [(String, Tensor, Tensor)] = [
            ("transposed", base.transposed(0, 2), other),
            ("permuted", base.permuted([1, 2, 0]), rng.tensor([6, 5, 4])),
            ("sliced step", base.sliced(axis: 1, start: 1, step: 2), rng.tensor([4, 3, 5])),
            ("selected", base.selecting(axis: 1, index: 2), other.selecting(axis: 1, index: 3).T),
            ("expanded", rng.tensor([1, 6, 1]).expanded(to: [4, 6, 5]), base),
            ("expanded both", rng.tensor([4, 1, 5]).expanded(to: [4, 6, 5]), rng.tensor([6, 1]).expanded(to: [6, 5])),
            ("transposed row bias", base.transposed(1, 2), rng.tensor([6])),
        ]
        for (name, a, b) in views {
            for c in binaryOps {
                XCTAssertEqual(c.op(a, b).scalars, OpsA.naiveBinary(a, b, c.ref).scalars, "\(c.name) \(name)")
                XCTAssertEqual(c.op(b, a).scalars, OpsA.naiveBinary(b, a, c.ref).scalars, "\(c.name) \(name) swapped")
            }
        }
    }

    /// Sizes above the parallel threshold, including few long rows (the innermost axis split into blocks).
    func testLargeParallelPaths() {
        var rng = OpsA.Rng(3)
        let cases: [([Int], [Int])] = [
            ([256, 300], [300]), ([256, 300], [256, 1]), ([1 << 16], [1 << 16]), ([2, 70_000], [2, 1]),
            ([3, 50_000], []), ([64, 1, 700], [1, 3, 700]),
        ]
        for (sa, sb) in cases {
            let a = rng.tensor(sa), b = rng.tensor(sb)
            XCTAssertEqual((a * b).scalars, OpsA.naiveBinary(a, b, *).scalars, "\(sa) * \(sb)")
            XCTAssertEqual((b - a).scalars, OpsA.naiveBinary(b, a, -).scalars, "\(sb) - \(sa)")
        }
        let t = rng.tensor([300, 257])
        let tt = t.T  // [257, 300], non-contiguous
        XCTAssertEqual((tt + rng.tensor([300])).shape, [257, 300])
        let bias = rng.tensor([300])
        XCTAssertEqual((tt + bias).scalars, OpsA.naiveBinary(tt, bias, +).scalars)
        // Transposed operand with an outer axis and ragged tile edges (the tiled path).
        let t3 = rng.tensor([3, 45, 70]).transposed(1, 2), u3 = rng.tensor([3, 70, 45])
        XCTAssertEqual((t3 - u3).scalars, OpsA.naiveBinary(t3, u3, -).scalars)
        XCTAssertEqual(Tensor.maximum(u3, t3).scalars, OpsA.naiveBinary(u3, t3, { Swift.max($0, $1) }).scalars)
        XCTAssertEqual(Tensor.concat([t3, u3], axis: 1).selecting(axis: 1, index: 69).scalars, t3.selecting(axis: 1, index: 69).scalars)
        OpsA.assertClose(tt.exp().scalars, tt.contiguous().scalars.map { Foundation.exp($0) }, atol: 0, rtol: 1.2e-7)
    }

    func testScalarOperators() {
        let t = Tensor(shape: [2, 2], scalars: [1, -2, 4, 0.5])
        XCTAssertEqual((t + 1).scalars, [2, -1, 5, 1.5])
        XCTAssertEqual((1 + t).scalars, [2, -1, 5, 1.5])
        XCTAssertEqual((t - 1).scalars, [0, -3, 3, -0.5])
        XCTAssertEqual((1 - t).scalars, [0, 3, -3, 0.5])
        XCTAssertEqual((t * 2).scalars, [2, -4, 8, 1])
        XCTAssertEqual((2 * t).scalars, [2, -4, 8, 1])
        XCTAssertEqual((t / 2).scalars, [0.5, -1, 2, 0.25])
        XCTAssertEqual((2 / t).scalars, [2, -1, 0.5, 4])
        XCTAssertEqual((-t).scalars, [-1, 2, -4, -0.5])
        XCTAssertEqual((t.T * 2).scalars, [2, 8, -4, 1])
    }

    func testCompoundAssignmentInPlaceAndCopyOnWrite() {
        var a = Tensor(shape: [2, 3], scalars: [1, 2, 3, 4, 5, 6])
        let id = ObjectIdentifier(a.storage)
        a += Tensor([10, 20, 30])
        XCTAssertEqual(a.scalars, [11, 22, 33, 14, 25, 36])
        XCTAssertEqual(ObjectIdentifier(a.storage), id, "unique contiguous lhs is updated in place")
        a *= 2
        a -= Tensor(shape: [2, 1], scalars: [1, 2])
        a /= Tensor(scalar: 2)
        XCTAssertEqual(a.scalars, [10.5, 21.5, 32.5, 13, 24, 35])
        XCTAssertEqual(ObjectIdentifier(a.storage), id)

        // Shared storage: the other holder keeps its values.
        let keep = a
        a += 1
        XCTAssertEqual(keep.scalars, [10.5, 21.5, 32.5, 13, 24, 35])
        XCTAssertEqual(a.scalars, [11.5, 22.5, 33.5, 14, 25, 36])

        // Self-aliasing and broadcasting that grows the lhs.
        var s = Tensor([1, 2, 3])
        s += s
        XCTAssertEqual(s.scalars, [2, 4, 6])
        s *= Tensor(shape: [2, 1], scalars: [1, -1])
        XCTAssertEqual(s.shape, [2, 3])
        XCTAssertEqual(s.scalars, [2, 4, 6, -2, -4, -6])

        // Non-contiguous lhs.
        var v = Tensor(shape: [2, 2], scalars: [1, 2, 3, 4]).T
        v += Tensor([10, 100])
        XCTAssertEqual(v.scalars, [11, 103, 12, 104])
    }

    func testUnaryOpsHandValues() {
        let x = Tensor([0, 1, -2, 0.25])
        OpsA.assertClose(x.exp().scalars, [1, 2.7182817, 0.13533528, 1.2840254])
        OpsA.assertClose(x.abs().scalars, [0, 1, 2, 0.25])
        OpsA.assertClose(x.square().scalars, [0, 1, 4, 0.0625])
        OpsA.assertClose(x.tanh().scalars, [0, 0.7615942, -0.9640276, 0.24491866])
        OpsA.assertClose(x.sigmoid().scalars, [0.5, 0.7310586, 0.11920292, 0.5621765])
        OpsA.assertClose(x.sin().scalars, [0, 0.84147096, -0.9092974, 0.24740396])
        OpsA.assertClose(x.cos().scalars, [1, 0.5403023, -0.41614684, 0.9689124])
        XCTAssertEqual(x.sign().scalars, [0, 1, -1, 1])
        let p = Tensor([4, 0.25, 1])
        XCTAssertEqual(p.sqrt().scalars, [2, 0.5, 1])
        XCTAssertEqual(p.rsqrt().scalars, [0.5, 2, 1])
        XCTAssertEqual(p.reciprocal().scalars, [0.25, 4, 1])
        OpsA.assertClose(p.log().scalars, [1.3862944, -1.3862944, 0])
        XCTAssertEqual(p.pow(2).scalars, [16, 0.0625, 1])
        XCTAssertEqual(p.pow(0.5).scalars, [2, 0.5, 1])
        XCTAssertEqual(p.pow(1).scalars, [4, 0.25, 1])
        OpsA.assertClose(p.pow(-1.5).scalars, [0.125, 8, 1])
        OpsA.assertClose(Tensor.pow(Tensor([2, 3]), Tensor(shape: [2, 1], scalars: [2, 3])).scalars, [4, 9, 8, 27])
        // Edge values.
        XCTAssertTrue(Tensor([Float.nan]).sign().item().isNaN)
        XCTAssertTrue(Tensor([Float.nan]).clamped(min: 0, max: 1).item().isNaN)
        XCTAssertEqual(Tensor([-3, 0.5, 9]).clamped(min: 0, max: 1).scalars, [0, 0.5, 1])
        XCTAssertEqual(Tensor([-3, 0.5, 9]).clamped(min: 0).scalars, [0, 0.5, 9])
        XCTAssertEqual(Tensor([-3, 0.5, 9]).clamped(max: 1).scalars, [-3, 0.5, 1])
        XCTAssertEqual(Tensor([-100, 100]).sigmoid().scalars, [0, 1])
        XCTAssertTrue(Tensor.maximum(Tensor([Float.nan, 1]), Tensor([0, Float.nan])).scalars.allSatisfy(\.isNaN))
        XCTAssertTrue(Tensor.minimum(Tensor([Float.nan, 1]), Tensor([0, Float.nan])).scalars.allSatisfy(\.isNaN))
    }

    func testUnaryOnViewsEmptyAndZeroD() {
        let t = Tensor(shape: [2, 3], scalars: [1, 2, 3, 4, 5, 6])
        XCTAssertEqual(t.T.square().scalars, [1, 16, 4, 25, 9, 36])
        XCTAssertEqual(t.T.square().shape, [3, 2])
        OpsA.assertClose(t.sliced(axis: 1, start: 0, step: 2).exp().scalars, [1, 3, 4, 6].map { Foundation.exp($0) }, atol: 0, rtol: 1.2e-7)
        XCTAssertEqual(Tensor(scalar: 4).sqrt().shape, [])
        XCTAssertEqual(Tensor(scalar: 4).sqrt().item(), 2)
        let e = Tensor(shape: [0, 3], scalars: [])
        XCTAssertEqual(e.exp().shape, [0, 3])
        XCTAssertEqual((e + Tensor([1, 2, 3])).shape, [0, 3])
        XCTAssertEqual(Tensor([1, 2]).expanded(to: [3, 2]).relu().scalars, [1, 2, 1, 2, 1, 2])
    }

    func testComparisonsAndWhere() {
        let a = Tensor([1, 2, 3, 4])
        XCTAssertEqual(a.greater(2).scalars, [0, 0, 1, 1])
        XCTAssertEqual(a.greaterEqual(2).scalars, [0, 1, 1, 1])
        XCTAssertEqual(a.less(2).scalars, [1, 0, 0, 0])
        XCTAssertEqual(a.lessEqual(2).scalars, [1, 1, 0, 0])
        XCTAssertEqual(a.equal(2).scalars, [0, 1, 0, 0])
        XCTAssertEqual(a.notEqual(2).scalars, [1, 0, 1, 1])
        XCTAssertEqual(a.equal(Tensor([1, 0, 3, 0])).scalars, [1, 0, 1, 0])
        XCTAssertEqual(a.notEqual(Tensor([1, 0, 3, 0])).scalars, [0, 1, 0, 1])
        XCTAssertEqual(a.less(Tensor(shape: [2, 1], scalars: [2, 4])).scalars, [1, 0, 0, 0, 1, 1, 1, 0])
        XCTAssertEqual(Tensor([Float.nan]).equal(Tensor([Float.nan])).scalars, [0])

        let cond = Tensor(shape: [2, 1], scalars: [1, 0])
        let w = Tensor.where(cond, Tensor([1, 2, 3]), Tensor(scalar: -1))
        XCTAssertEqual(w.shape, [2, 3])
        XCTAssertEqual(w.scalars, [1, 2, 3, -1, -1, -1])
        // Strided operands: transposed condition, expanded branch.
        let c2 = Tensor(shape: [3, 2], scalars: [1, 0, 0, 1, 1, 1]).T  // [[1,0,1],[0,1,1]]
        let w2 = Tensor.where(c2, Tensor(shape: [2, 3], scalars: [1, 2, 3, 4, 5, 6]), Tensor([7, 8, 9]).expanded(to: [2, 3]))
        XCTAssertEqual(w2.scalars, [1, 8, 3, 7, 5, 6])
    }

    func testCreation() {
        XCTAssertEqual(Tensor.zeros([2, 2]).scalars, [0, 0, 0, 0])
        XCTAssertEqual(Tensor.ones([3]).scalars, [1, 1, 1])
        XCTAssertEqual(Tensor.full([2], 7).scalars, [7, 7])
        let t = Tensor(shape: [2, 1, 3], repeating: 5)
        XCTAssertEqual(Tensor.zeros(like: t).shape, [2, 1, 3])
        XCTAssertEqual(Tensor.ones(like: t).scalars, [Float](repeating: 1, count: 6))
        XCTAssertEqual(Tensor.arange(5).scalars, [0, 1, 2, 3, 4])
        XCTAssertEqual(Tensor.arange(2, 5).scalars, [2, 3, 4])
        XCTAssertEqual(Tensor.arange(1, 2, step: 0.25).scalars, [1, 1.25, 1.5, 1.75])
        XCTAssertEqual(Tensor.arange(5, 1, step: -2).scalars, [5, 3])
        XCTAssertEqual(Tensor.arange(3, 3).shape, [0])
        XCTAssertEqual(Tensor.linspace(0, 1, count: 5).scalars, [0, 0.25, 0.5, 0.75, 1])
        XCTAssertEqual(Tensor.linspace(2, 3, count: 1).scalars, [2])
        XCTAssertEqual(Tensor.linspace(2, 3, count: 0).shape, [0])
        XCTAssertEqual(Tensor.linspace(-1, 1, count: 3).scalars, [-1, 0, 1])
        XCTAssertEqual(Tensor.eye(3).scalars, [1, 0, 0, 0, 1, 0, 0, 0, 1])
        XCTAssertEqual(Tensor.zeros([0, 4]).count, 0)
    }

    func testBroadcastShapeErrorNamesOpAndShapes() {
        XCTAssertThrowsError(try Tensor.broadcastShape([2, 3], [4, 1, 2], op: "mul")) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("mul"), text)
            XCTAssertTrue(text.contains("[2, 3]") && text.contains("[4, 1, 2]"), text)
        }
        XCTAssertEqual(try Tensor.broadcastShape([0, 1], [3], op: "add"), [0, 3])
        XCTAssertEqual(try Tensor.broadcastShape([5, 1, 1], [1, 0], op: "add"), [5, 1, 0])
    }
}

import Foundation
import Tensor
import XCTest

final class ActivationSoftmaxTests: XCTestCase {
    // Double-precision closed forms (independent of the Float kernels).
    static func sigmoid(_ x: Double) -> Double { 1 / (1 + Foundation.exp(-x)) }
    static func gelu(_ x: Double) -> Double { 0.5 * x * Foundation.erfc(-x / 2.0.squareRoot()) }
    static func geluTanh(_ x: Double) -> Double {
        0.5 * x * (1 + Foundation.tanh((2 / Double.pi).squareRoot() * (x + 0.044715 * x * x * x)))
    }
    static func silu(_ x: Double) -> Double { x * sigmoid(x) }
    static func quickGelu(_ x: Double) -> Double { x * sigmoid(1.702 * x) }

    let grid: [Float] = stride(from: -6.0, through: 6.0, by: 0.37).map { Float($0) } + [0, 1e-4, -1e-4, 20, -20]

    func testActivationsMatchClosedForms() {
        let x = Tensor(grid)
        let d = grid.map(Double.init)
        OpsA.assertClose(x.relu().scalars, grid.map { Swift.max($0, 0) }, atol: 0, rtol: 0)
        OpsA.assertClose(x.gelu().scalars, d.map { Float(Self.gelu($0)) }, atol: 1e-6, rtol: 2e-6, "gelu")
        OpsA.assertClose(x.gelu(approximate: .tanh).scalars, d.map { Float(Self.geluTanh($0)) }, atol: 1e-6, rtol: 2e-6, "gelu tanh")
        OpsA.assertClose(x.silu().scalars, d.map { Float(Self.silu($0)) }, atol: 1e-6, rtol: 2e-6, "silu")
        OpsA.assertClose(x.quickGelu().scalars, d.map { Float(Self.quickGelu($0)) }, atol: 1e-6, rtol: 2e-6, "quickGelu")
        OpsA.assertClose(x.sigmoid().scalars, d.map { Float(Self.sigmoid($0)) }, atol: 1e-7, rtol: 2e-6, "sigmoid")
        XCTAssertEqual(Tensor([1]).gelu().item(), 0.8413447, accuracy: 1e-6)
        XCTAssertEqual(Tensor([1]).gelu(approximate: .tanh).item(), 0.841192, accuracy: 1e-6)
        XCTAssertTrue(Tensor([Float.nan]).relu().item().isNaN)
        XCTAssertEqual(GELUApproximation.tanh, GeluApproximation.tanh)
    }

    /// exp (a vectorised polynomial) is within 1 ulp of the correctly rounded value over the whole range.
    func testExpAccuracyAcrossRange() {
        let xs = (0..<200_001).map { Float(-104 + Double($0) * (192.7 / 200_000)) }
        let got = Tensor(xs).exp().scalars
        for (x, y) in zip(xs, got) {
            let exact = Foundation.exp(Double(x))
            let ulp = Double(Swift.max(Float(exact).ulp, Float.leastNonzeroMagnitude))
            if exact > Double(Float.greatestFiniteMagnitude) { XCTAssertEqual(y, .infinity); continue }
            XCTAssertLessThanOrEqual(Swift.abs(Double(y) - exact), ulp, "exp(\(x))")
        }
        let special = Tensor([.nan, .infinity, -.infinity, 0, 89, -200]).exp().scalars
        XCTAssertTrue(special[0].isNaN)
        XCTAssertEqual(Array(special[1...]), [.infinity, 0, 1, .infinity, 0])
    }

    /// Exact GELU keeps relative accuracy deep in the negative tail (where 1 + erf cancels) and saturates cleanly.
    func testGeluTailAccuracy() {
        let xs = stride(from: -12.0, through: 12.0, by: 0.01).map { Float($0) }
        let got = Tensor(xs).gelu().scalars
        for (x, y) in zip(xs, got) {
            let exact = Self.gelu(Double(x))
            // Rounding x/sqrt2 to Float alone perturbs erfc by ~x^2 * 6e-8 relative (its conditioning).
            let rel = 4e-7 * (1 + Double(x * x))
            XCTAssertLessThanOrEqual(Swift.abs(Double(y) - exact), rel * Swift.abs(exact) + 1e-44, "gelu(\(x))")
        }
        XCTAssertEqual(Tensor([Float.infinity]).gelu().item(), .infinity)
        XCTAssertTrue(Tensor([Float.nan]).gelu().item().isNaN)
    }

    /// Fused derivatives equal central differences of the Double closed forms.
    func testActivationDerivativesMatchFiniteDifferences() {
        var rng = OpsA.Rng(30)
        let x = Tensor(grid)
        let g = Tensor(grid.map { _ in rng.uniform() * 2 })
        let h = 1e-5
        func numeric(_ f: (Double) -> Double) -> [Float] {
            zip(grid, g.scalars).map { xv, gv in
                let xd = Double(xv)
                return Float(Double(gv) * (f(xd + h) - f(xd - h)) / (2 * h))
            }
        }
        OpsA.assertClose(Tensor.geluBackward(g, x).scalars, numeric(Self.gelu), atol: 2e-5, rtol: 1e-4, "gelu'")
        OpsA.assertClose(Tensor.geluBackward(g, x, approximate: .tanh).scalars, numeric(Self.geluTanh), atol: 2e-5, rtol: 1e-4, "gelu tanh'")
        OpsA.assertClose(Tensor.siluBackward(g, x).scalars, numeric(Self.silu), atol: 2e-5, rtol: 1e-4, "silu'")
        OpsA.assertClose(Tensor.quickGeluBackward(g, x).scalars, numeric(Self.quickGelu), atol: 2e-5, rtol: 1e-4, "quickGelu'")
        let y = x.sigmoid(), t = x.tanh()
        OpsA.assertClose(Tensor.sigmoidBackward(g, output: y).scalars, numeric(Self.sigmoid), atol: 2e-5, rtol: 1e-4, "sigmoid'")
        OpsA.assertClose(Tensor.tanhBackward(g, output: t).scalars, numeric { Foundation.tanh($0) }, atol: 2e-5, rtol: 1e-4, "tanh'")
        XCTAssertEqual(Tensor.reluBackward(Tensor([5, 5, 5]), Tensor([-1, 0, 2])).scalars, [0, 0, 5])
        // Strided operands give the same result.
        let x2 = Tensor(shape: [3, 4], scalars: Array(grid.prefix(12))), g2 = Tensor(shape: [4, 3], scalars: Array(g.scalars.prefix(12)))
        // The strided operand may take the scalar loop instead of the vector one: a few ulps of the result apart.
        let strided = Tensor.geluBackward(g2.T, x2), dense = Tensor.geluBackward(g2.T.contiguous(), x2)
        OpsA.assertClose(strided.scalars, dense.scalars, atol: 4 * Float.ulpOfOne, rtol: 4 * Float.ulpOfOne, "strided geluBackward")
    }

    /// Double reference softmax of one lane.
    static func softmaxRef(_ v: [Double]) -> [Double] {
        let m = v.max()!
        let e = v.map { Foundation.exp($0 - m) }
        let s = e.reduce(0, +)
        return e.map { $0 / s }
    }

    func testSoftmaxEveryAxisAgainstReference() {
        var rng = OpsA.Rng(31)
        let t = rng.tensor([3, 4, 5], scale: 5)
        for axis in 0..<3 {
            let y = t.softmax(axis: axis), ly = t.logSoftmax(axis: axis)
            XCTAssertEqual(y.shape, t.shape)
            // Move the axis last, compute lane by lane.
            var perm = Array(0..<3).filter { $0 != axis }
            perm.append(axis)
            let moved = t.permuted(perm).contiguous().scalars.map(Double.init)
            let n = t.shape[axis]
            var ref: [Double] = []
            for l in stride(from: 0, to: moved.count, by: n) { ref += Self.softmaxRef(Array(moved[l..<(l + n)])) }
            OpsA.assertClose(y.permuted(perm).contiguous().scalars, ref.map { Float($0) }, atol: 1e-7, rtol: 1e-5, "softmax \(axis)")
            OpsA.assertClose(ly.permuted(perm).contiguous().scalars, ref.map { Float(Foundation.log($0)) }, atol: 1e-5, rtol: 1e-5, "logSoftmax \(axis)")
            // A negative axis is normalised before the kernel runs: the same path, so the same bits.
            XCTAssertEqual(t.softmax(axis: axis - 3).scalars, y.scalars)
            // A strided input walks its lanes in another order (and maybe another loop): equal up to a lane's
            // rounding (a 3-5 term sum of exponentials normalising values at most 1).
            let strided = t.permuted([2, 1, 0]).contiguous().permuted([2, 1, 0])
            OpsA.assertClose(strided.softmax(axis: axis).scalars, y.scalars, atol: OpsB.summationBound(terms: 5 + 4, magnitude: 1),
                             rtol: 0, "strided softmax \(axis)")
        }
    }

    func testSoftmaxStability() {
        let big = Tensor(shape: [2, 3], scalars: [1000, 1001, 1002, -1000, -1001, -1002])
        let y = big.softmax(axis: 1)
        let ref = Self.softmaxRef([0, 1, 2]).map { Float($0) }
        OpsA.assertClose(Array(y.scalars.prefix(3)), ref, atol: 1e-7, rtol: 1e-6)
        OpsA.assertClose(Array(y.scalars.suffix(3)), ref.reversed(), atol: 1e-7, rtol: 1e-6)
        let ly = big.logSoftmax(axis: 1)
        XCTAssertTrue(ly.scalars.allSatisfy(\.isFinite))
        OpsA.assertClose(Array(ly.scalars.prefix(3)), ref.map { Foundation.log($0) }, atol: 1e-5, rtol: 1e-6)
        // A NaN poisons only its own lane, along either axis.
        let withNaN = Tensor(shape: [2, 2], scalars: [1, .nan, 2, 3])
        let c0 = withNaN.softmax(axis: 0).scalars
        OpsA.assertClose([c0[0], c0[2]], Self.softmaxRef([1, 2]).map { Float($0) })
        XCTAssertTrue(c0[1].isNaN && c0[3].isNaN)
        let r1 = withNaN.softmax(axis: 1).scalars
        XCTAssertTrue(r1[0].isNaN && r1[1].isNaN)
        OpsA.assertClose([r1[2], r1[3]], Self.softmaxRef([2, 3]).map { Float($0) })
        // Masked entries (-inf, as in causal attention) get probability 0.
        let masked = Tensor([0, -.infinity, 0]).softmax(axis: 0)
        XCTAssertEqual(masked.scalars, [0.5, 0, 0.5])
        XCTAssertEqual(Tensor([0, -.infinity]).logSoftmax(axis: 0).scalars, [0, -.infinity])
        // logSumExp, including an all -inf lane.
        let lse = Tensor(shape: [2, 2], scalars: [1000, 1000, -.infinity, -.infinity]).logSumExp(axis: 1)
        XCTAssertEqual(lse.scalars[0], 1000 + Float(Foundation.log(2.0)), accuracy: 1e-3)
        XCTAssertEqual(lse.scalars[1], -.infinity)
        XCTAssertEqual(Tensor(shape: [2, 3], scalars: [1, 2, 3, 4, 5, 6]).logSumExp(axis: 0, keepDims: true).shape, [1, 3])
    }

    func testLargeSoftmaxRowsSumToOne() {
        var rng = OpsA.Rng(32)
        let t = rng.tensor([256, 1000], scale: 8)
        let y = t.softmax(axis: -1)
        for v in y.sum(axis: -1).scalars { XCTAssertEqual(v, 1, accuracy: 2e-6) }
        let row = 137
        let ref = Self.softmaxRef(t.selecting(axis: 0, index: row).scalars.map(Double.init)).map { Float($0) }
        OpsA.assertClose(y.selecting(axis: 0, index: row).scalars, ref, atol: 1e-8, rtol: 1e-5)
        let y0 = t.softmax(axis: 0)
        for v in y0.sum(axis: 0).scalars { XCTAssertEqual(v, 1, accuracy: 2e-6) }
    }

    /// softmaxBackward / logSoftmaxBackward equal the Jacobian-vector product from central differences.
    func testSoftmaxBackwardMatchesFiniteDifferences() {
        var rng = OpsA.Rng(33)
        let x = rng.tensor([2, 3, 4], scale: 2)
        let g = rng.tensor([2, 3, 4])
        for axis in [2, 1, 0] {
            for isLog in [false, true] {
                // Objective L(x) = sum(g * f(x)) in Double; dL/dx_i numerically.
                func objective(_ xs: [Double]) -> Double {
                    let t = Tensor(shape: x.shape, scalars: xs.map { Float($0) })
                    var perm = Array(0..<3).filter { $0 != axis }
                    perm.append(axis)
                    let moved = t.permuted(perm).contiguous().scalars.map(Double.init)
                    let gm = g.permuted(perm).contiguous().scalars.map(Double.init)
                    let n = x.shape[axis]
                    var total = 0.0
                    for l in stride(from: 0, to: moved.count, by: n) {
                        let p = Self.softmaxRef(Array(moved[l..<(l + n)]))
                        for i in 0..<n { total += gm[l + i] * (isLog ? Foundation.log(p[i]) : p[i]) }
                    }
                    return total
                }
                // Central differences with a step large enough for the Float rounding of the perturbed inputs.
                let xs = x.scalars.map(Double.init)
                let eps = 1e-3
                var numeric = [Float]()
                for i in 0..<xs.count {
                    var p = xs, m = xs
                    p[i] += eps; m[i] -= eps
                    numeric.append(Float((objective(p) - objective(m)) / (2 * eps)))
                }
                let got = isLog ? Tensor.logSoftmaxBackward(g, x.logSoftmax(axis: axis), axis: axis)
                                : Tensor.softmaxBackward(g, x.softmax(axis: axis), axis: axis)
                OpsA.assertClose(got.scalars, numeric, atol: 5e-4, rtol: 5e-3, "\(isLog ? "logSoftmax" : "softmax") backward axis \(axis)")
            }
        }
        // The unlabelled-axis overload forwards to the labelled one: the same path, so the same bits.
        let y = x.softmax(axis: 1)
        XCTAssertEqual(Tensor.softmaxBackward(g, y, 1).scalars, Tensor.softmaxBackward(g, y, axis: 1).scalars)
    }
}

import XCTest
import Tensor

final class NormalizationTests: XCTestCase {
    func testGroupNormAgainstPyTorch() {
        for c in ["gn", "gn_plain"] {
            let groups = OpsB.int(c, "groups")
            let x = OpsB.t("\(c).x"), gy = OpsB.t("\(c).gy")
            let affine = OpsB.has("\(c).w")
            let w = affine ? OpsB.t("\(c).w") : nil, b = affine ? OpsB.t("\(c).b") : nil
            let f = Tensor.groupNormForward(x, groups: groups, weight: w, bias: b, eps: 1e-5)
            OpsB.assertClose(f.output, OpsB.t("\(c).out"), "\(c) forward")
            OpsB.assertClose(Tensor.groupNorm(x, groups: groups, weight: w, bias: b, eps: 1e-5), OpsB.t("\(c).out"), "\(c) groupNorm")
            XCTAssertEqual(f.mean.shape, [x.shape[0], groups])
            let g = Tensor.groupNormBackward(gy, x: x, mean: f.mean, rstd: f.rstd, groups: groups, weight: w)
            OpsB.assertClose(g.dx, OpsB.t("\(c).gx"), atol: 2e-4, "\(c) grad x")
            if affine {
                OpsB.assertClose(g.dweight!, OpsB.t("\(c).gw"), atol: 2e-4, "\(c) grad weight")
                OpsB.assertClose(g.dbias!, OpsB.t("\(c).gb"), atol: 2e-4, "\(c) grad bias")
            } else {
                XCTAssertNil(g.dweight)
            }
        }
    }

    func testLayerNormAgainstPyTorch() {
        let x = OpsB.t("ln.x"), w = OpsB.t("ln.w"), b = OpsB.t("ln.b"), gy = OpsB.t("ln.gy")
        let f = Tensor.layerNormForward(x, weight: w, bias: b, eps: 1e-5)
        OpsB.assertClose(f.output, OpsB.t("ln.out"), "ln forward")
        XCTAssertEqual(f.mean.shape, [3, 4, 1])
        let g = Tensor.layerNormBackward(gy, x: x, mean: f.mean, rstd: f.rstd, weight: w)
        OpsB.assertClose(g.dx, OpsB.t("ln.gx"), atol: 2e-4, "ln grad x")
        OpsB.assertClose(g.dweight!, OpsB.t("ln.gw"), atol: 2e-4, "ln grad weight")
        OpsB.assertClose(g.dbias!, OpsB.t("ln.gb"), atol: 2e-4, "ln grad bias")
        // Non-contiguous input gives the same as its contiguous copy.
        let xt = x.transposed(0, 1)
        OpsB.assertClose(Tensor.layerNorm(xt, weight: w, bias: b), Tensor.layerNorm(xt.contiguous(), weight: w, bias: b),
                         atol: 1e-6, "ln strided")
    }

    /// Without affine parameters: rows have mean 0 and variance 1/(1 + eps/var), and the backward agrees with
    /// central differences of sum(out * g) (large rows, several worker chunks).
    func testLayerNormPlainStatisticsAndFiniteDifferences() {
        let x = OpsB.random([64, 1024], seed: 41)
        let f = Tensor.layerNormForward(x, eps: 1e-5)
        let y = f.output.scalars
        for r in [0, 31, 63] {
            let row = y[(r * 1024)..<((r + 1) * 1024)].map(Double.init)
            let mean = row.reduce(0, +) / 1024
            let variance = row.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / 1024
            XCTAssertEqual(mean, 0, accuracy: 1e-5)
            XCTAssertEqual(variance, 1, accuracy: 1e-3)
        }
        let g = OpsB.random(x.shape, seed: 42)
        let back = Tensor.layerNormBackward(g, x: x, mean: f.mean, rstd: f.rstd, weight: nil)
        XCTAssertNil(back.dweight)
        let xs = x.scalars, gs = g.scalars.map(Double.init), dx = back.dx.scalars
        for i in [0, 517, 40_000, 65_535] {
            // Only the row of element i depends on it: differentiate that row's loss.
            let r = i / 1024, j = i % 1024
            var row = Array(xs[(r * 1024)..<((r + 1) * 1024)])
            func loss(_ v: [Float]) -> Double {
                let out = Tensor.layerNorm(Tensor(shape: [1, 1024], scalars: v), eps: 1e-5).scalars
                return out.enumerated().reduce(0) { $0 + Double($1.element) * gs[r * 1024 + $1.offset] }
            }
            let h: Float = 1e-2
            let keep = row[j]
            row[j] = keep + h; let up = loss(row)
            row[j] = keep - h; let down = loss(row)
            XCTAssertEqual((up - down) / Double(2 * h), Double(dx[i]), accuracy: 1e-3)
        }
    }

    /// Groups of half a million elements with a large offset: statistics match a Double computation.
    func testGroupNormStatisticsOnLargeGroups() {
        let r = OpsB.random([1, 4, 512, 256], seed: 71)
        let x = Tensor(shape: r.shape, scalars: r.scalars.map { 100 + 3 * $0 })
        let f = Tensor.groupNormForward(x, groups: 2, eps: 1e-5)
        let xs = x.scalars
        let m = xs.count / 2
        for g in 0..<2 {
            let part = xs[(g * m)..<((g + 1) * m)].map(Double.init)
            let mean = part.reduce(0, +) / Double(m)
            let variance = part.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(m)
            XCTAssertEqual(Double(f.mean[0, g]), mean, accuracy: 1e-5 * mean)
            XCTAssertEqual(Double(f.rstd[0, g]), 1 / (variance + 1e-5).squareRoot(), accuracy: 1e-4 / variance.squareRoot())
        }
    }
}

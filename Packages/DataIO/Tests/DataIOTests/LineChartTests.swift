import DataIO
import Foundation
import XCTest

final class LineChartTests: XCTestCase {
    func testTicksLabelsAndSmoothing() {
        XCTAssertEqual(LineChart.niceTicks(0, 1), [0, 0.2, 0.4, 0.6000000000000001, 0.8, 1].map { ($0 * 10).rounded() / 10 }.enumerated().map { Double($0.offset) * 0.2 })
        let t = LineChart.niceTicks(0.013, 0.087)
        XCTAssertEqual(t.count, 4)
        for (a, b) in zip(t, [0.02, 0.04, 0.06, 0.08]) { XCTAssertEqual(a, b, accuracy: 1e-12) }
        XCTAssertEqual(LineChart.niceTicks(-3, 97), [0, 20, 40, 60, 80])
        XCTAssertEqual(LineChart.label(0.5), "0.5")
        XCTAssertEqual(LineChart.label(1234), "1234")
        XCTAssertEqual(LineChart.label(-2.5), "-2.5")
        XCTAssertEqual(LineChart.label(1e-4), "1e-4")
        XCTAssertEqual(LineChart.label(250_000), "2.5e5")
        XCTAssertEqual(LineChart.label(0.0125), "0.0125")
        // Debiased EMA: constants stay constant; [0, 2] at 0.5 gives 0 and (0.5*0*0.5 + 0.5*2) / 0.75.
        XCTAssertEqual(LineChart.smoothed([3, 3, 3], weight: 0.9).map { ($0 * 1e9).rounded() / 1e9 }, [3, 3, 3])
        let s = LineChart.smoothed([0, 2], weight: 0.5)
        XCTAssertEqual(s[0], 0)
        XCTAssertEqual(s[1], 1 / 0.75, accuracy: 1e-12)
    }

    /// Pixels of a series' colour, as (x, y).
    func pixels(of color: [UInt8], in img: RasterImage) -> [(Double, Double)] {
        var out: [(Double, Double)] = []
        for y in 0..<img.height { for x in 0..<img.width where img.pixel(x: x, y: y) == color { out.append((Double(x), Double(y))) } }
        return out
    }

    /// Least-squares line through points; returns slope and the largest residual.
    func fit(_ p: [(Double, Double)]) -> (slope: Double, maxResidual: Double) {
        let n = Double(p.count)
        let mx = p.map(\.0).reduce(0, +) / n, my = p.map(\.1).reduce(0, +) / n
        let sxy = p.map { ($0.0 - mx) * ($0.1 - my) }.reduce(0, +), sxx = p.map { ($0.0 - mx) * ($0.0 - mx) }.reduce(0, +)
        let slope = sxy / sxx
        return (slope, p.map { abs($0.1 - (my + slope * ($0.0 - mx))) }.max()!)
    }

    func testLinesAreStraightInTheirAxisScaleAndSpanThePlot() throws {
        let red: [UInt8] = [220, 0, 0], blue: [UInt8] = [0, 0, 230]
        let xs = (0...50).map(Double.init)
        var c = LineChart(title: "Loss", yLabel: "loss", width: 400, height: 300)
        c.add("linear", x: xs, y: xs.map { 2 * $0 + 1 }, color: red)
        let img = try c.render()
        XCTAssertEqual([img.width, img.height, img.channels], [400, 300, 3])
        let p = pixels(of: red, in: img).filter { $0.0 < 300 }  // left of the legend
        XCTAssertGreaterThan(p.count, 200)
        let f = fit(p)
        XCTAssertLessThan(f.slope, -0.3, "rising data goes up the image")
        XCTAssertLessThan(f.maxResidual, 3, "a straight line")
        XCTAssertGreaterThan(p.map(\.0).max()! - p.map(\.0).min()!, 200)

        // Exponential data on a log axis is a straight line; on a linear axis it is not.
        var l = LineChart(logY: true, width: 400, height: 300)
        l.add("exp", x: xs, y: xs.map { exp($0 / 12) }, color: blue)
        let pl = pixels(of: blue, in: try l.render()).filter { $0.0 < 300 }
        XCTAssertLessThan(fit(pl).maxResidual, 3)
        l.logY = false
        let pn = pixels(of: blue, in: try l.render()).filter { $0.0 < 300 }
        XCTAssertGreaterThan(fit(pn).maxResidual, 20)

        // The PNG written decodes to the rendered image.
        let dir = try makeTemporaryFolder(self)
        let url = dir.appendingPathComponent("loss.png")
        try c.write(to: url)
        XCTAssertEqual(try PNG.read(url), img)
    }

    func testSmoothingDrawsFaintRawDataAndSmoothedLineAndHandlesGaps() throws {
        let xs = (0..<200).map(Double.init)
        var g = SystemRandomNumberGenerator()
        var ys = xs.map { 5 * exp(-$0 / 50) + Double.random(in: -0.5...0.5, using: &g) }
        ys[100] = .nan
        var c = LineChart(smoothing: 0.9)
        c.add("train", x: xs, y: ys, color: [200, 0, 0])
        c.add("val", x: [0, 100, 199], y: [5, 1, 0.5])
        let img = try c.render()
        XCTAssertFalse(pixels(of: [200, 0, 0], in: img).isEmpty)
        XCTAssertFalse(pixels(of: [236, 170, 170], in: img).isEmpty, "raw data in the faint colour")
        XCTAssertFalse(pixels(of: LineChart.palette[1], in: img).isEmpty, "second series uses the palette")
        var bad = LineChart()
        bad.add("broken", x: [1, 2], y: [1])
        assertDataIOError(.invalidArgument, file: "<chart>", item: "broken") { try bad.render() }
        XCTAssertNoThrow(try LineChart().render(), "an empty chart still renders axes")
        if let out = ProcessInfo.processInfo.environment["DATAIO_CHART_OUT"] {  // to look at the rendering
            c.title = "Loss (smoothing 0.9)"
            c.yLabel = "loss"
            try c.write(to: URL(fileURLWithPath: out).appendingPathComponent("chart.png"))
            c.logY = true
            try c.write(to: URL(fileURLWithPath: out).appendingPathComponent("chart-log.png"))
        }
    }
}

import Foundation

/// A line chart (loss curves) rendered to an RGB image with no external program: axes with numbered ticks,
/// several series with a legend, optional logarithmic y axis and exponential smoothing.
public struct LineChart: Sendable {
    public struct Series: Sendable {
        public var name: String
        public var x: [Double]
        public var y: [Double]
        /// RGB; nil picks from the palette.
        public var color: [UInt8]?
        public init(name: String, x: [Double], y: [Double], color: [UInt8]? = nil) {
            self.name = name
            self.x = x
            self.y = y
            self.color = color
        }
    }

    public var series: [Series] = []
    public var title: String? = nil
    public var xLabel: String? = "step"
    public var yLabel: String? = nil
    /// Logarithmic y axis (values <= 0 are left out).
    public var logY = false
    /// Exponential moving average weight in [0, 1), as TensorBoard's slider (debiased); 0 draws the raw data only.
    /// With smoothing the raw data is drawn faintly behind the smoothed line.
    public var smoothing: Double = 0
    public var width = 640
    public var height = 400

    public static let palette: [[UInt8]] = [[31, 119, 180], [255, 127, 14], [44, 160, 44], [214, 39, 40],
                                            [148, 103, 189], [140, 86, 75], [227, 119, 194], [127, 127, 127]]

    public init(title: String? = nil, xLabel: String? = "step", yLabel: String? = nil, logY: Bool = false,
                smoothing: Double = 0, width: Int = 640, height: Int = 400) {
        self.title = title
        self.xLabel = xLabel
        self.yLabel = yLabel
        self.logY = logY
        self.smoothing = smoothing
        self.width = width
        self.height = height
    }

    public mutating func add(_ name: String, x: [Double], y: [Double], color: [UInt8]? = nil) {
        series.append(Series(name: name, x: x, y: y, color: color))
    }

    /// TensorBoard's debiased exponential moving average; non-finite values pass through without updating it.
    public static func smoothed(_ y: [Double], weight: Double) -> [Double] {
        guard weight > 0 else { return y }
        var last = 0.0, n = 0
        return y.map { v in
            guard v.isFinite else { return v }
            last = last * weight + (1 - weight) * v
            n += 1
            return last / (1 - pow(weight, Double(n)))
        }
    }

    /// Rounded tick positions covering [lo, hi] (about `target` of them).
    public static func niceTicks(_ lo: Double, _ hi: Double, target: Int = 6) -> [Double] {
        guard hi > lo, lo.isFinite, hi.isFinite else { return [lo] }
        let raw = (hi - lo) / Double(max(target - 1, 1))
        let mag = pow(10, floor(log10(raw)))
        let step = [1.0, 2, 2.5, 5, 10].map { $0 * mag }.first { $0 >= raw } ?? 10 * mag
        var ticks: [Double] = []
        var t = (lo / step).rounded(.up) * step
        while t <= hi + step * 1e-9 {
            ticks.append(abs(t) < step * 1e-9 ? 0 : t)
            t += step
        }
        return ticks
    }

    /// Short tick label: plain decimals for moderate magnitudes, else mantissa/exponent ("2.5e-4").
    public static func label(_ v: Double) -> String {
        if v == 0 { return "0" }
        let a = abs(v)
        if a >= 1e5 || a < 1e-3 {
            let e = Int(floor(log10(a)))
            var m = v / pow(10, Double(e))
            if abs(abs(m) - 10) < 1e-9 { m /= 10 }
            let ms = trimmed(String(format: "%.2f", m))
            return "\(ms)e\(e)"
        }
        return trimmed(String(format: a >= 100 ? "%.0f" : (a >= 1 ? "%.2f" : "%.4f"), v))
    }

    private static func trimmed(_ s: String) -> String {
        guard s.contains(".") else { return s }
        var t = s
        while t.hasSuffix("0") { t.removeLast() }
        if t.hasSuffix(".") { t.removeLast() }
        return t
    }

    /// Renders the chart.
    public func render() throws -> RasterImage {
        guard width >= 160, height >= 120 else {
            throw DataIOError(.invalidArgument, file: "<chart>", "chart size \(width)x\(height) is too small (min 160x120)")
        }
        guard (0..<1).contains(smoothing) else {
            throw DataIOError(.invalidArgument, file: "<chart>", "smoothing \(smoothing) must be in [0, 1)")
        }
        for s in series where s.x.count != s.y.count {
            throw DataIOError(.invalidArgument, file: "<chart>", item: s.name, "has \(s.x.count) x values but \(s.y.count) y values")
        }
        var img = RasterImage(width: width, height: height, color: [255, 255, 255])
        let ink: [UInt8] = [40, 40, 40], grid: [UInt8] = [225, 225, 225]
        func ty(_ v: Double) -> Double? {
            guard v.isFinite else { return nil }
            if logY { return v > 0 ? log10(v) : nil }
            return v
        }
        let drawn: [(Series, [Double])] = series.map { ($0, LineChart.smoothed($0.y, weight: smoothing)) }
        var xlo = Double.infinity, xhi = -Double.infinity, ylo = Double.infinity, yhi = -Double.infinity
        for (s, _) in drawn {
            for (x, y) in zip(s.x, s.y) where x.isFinite {
                guard let t = ty(y) else { continue }
                xlo = min(xlo, x); xhi = max(xhi, x); ylo = min(ylo, t); yhi = max(yhi, t)
            }
        }
        let hasData = xlo <= xhi
        if !hasData { xlo = 0; xhi = 1; ylo = 0; yhi = 1 }
        if xhi == xlo { xlo -= 0.5; xhi += 0.5 }
        if yhi == ylo { ylo -= logY ? 0.5 : max(abs(ylo) * 0.1, 0.5); yhi += logY ? 0.5 : max(abs(yhi) * 0.1, 0.5) }
        let pad = (yhi - ylo) * 0.05
        ylo -= pad; yhi += pad

        // Ticks and layout.
        let yTicks: [Double]
        let yTickLabels: [String]
        if logY {
            var t = Array(Int(ceil(ylo))...max(Int(ceil(ylo)), Int(floor(yhi)))).map(Double.init).filter { $0 >= ylo && $0 <= yhi }
            if t.count < 2 { t = LineChart.niceTicks(ylo, yhi, target: 5) }
            yTicks = t
            yTickLabels = t.map { LineChart.label(pow(10, $0)) }
        } else {
            yTicks = LineChart.niceTicks(ylo, yhi)
            yTickLabels = yTicks.map(LineChart.label)
        }
        let xTicks = LineChart.niceTicks(xlo, xhi)
        let maxYLabel = yTickLabels.map { BitmapFont.width($0) }.max() ?? 0
        let left = 12 + maxYLabel + (yLabel == nil ? 0 : 12)
        let top = title == nil ? 12 : 26
        let bottom = height - (xLabel == nil ? 22 : 34)
        let right = width - 14
        guard right - left > 40, bottom - top > 40 else {
            throw DataIOError(.invalidArgument, file: "<chart>", "chart size \(width)x\(height) leaves no room for the plot")
        }
        func px(_ x: Double) -> Double { Double(left) + (x - xlo) / (xhi - xlo) * Double(right - left) }
        func py(_ t: Double) -> Double { Double(bottom) - (t - ylo) / (yhi - ylo) * Double(bottom - top) }

        for (t, lab) in zip(yTicks, yTickLabels) {
            let y = Int(py(t).rounded())
            for x in (left + 1)..<right { img.setPixel(x: x, y: y, grid) }
            for x in (left - 4)..<left { img.setPixel(x: x, y: y, ink) }
            BitmapFont.draw(lab, x: left - 6 - BitmapFont.width(lab), y: y - 3, color: ink, into: &img)
        }
        for t in xTicks {
            let x = Int(px(t).rounded())
            for y in (top)..<bottom { img.setPixel(x: x, y: y, grid) }
            for y in bottom...(bottom + 4) { img.setPixel(x: x, y: y, ink) }
            let lab = LineChart.label(t)
            BitmapFont.draw(lab, x: x - BitmapFont.width(lab) / 2, y: bottom + 7, color: ink, into: &img)
        }
        for x in left...right { img.setPixel(x: x, y: bottom, ink) }
        for y in top...bottom { img.setPixel(x: left, y: y, ink) }
        if let title { BitmapFont.draw(title, x: (width - BitmapFont.width(title, scale: 1)) / 2, y: 8, color: ink, into: &img) }
        if let xLabel { BitmapFont.draw(xLabel, x: (left + right - BitmapFont.width(xLabel)) / 2, y: height - 12, color: ink, into: &img) }
        if let yLabel { BitmapFont.drawVertical(yLabel, x: 4, y: (top + bottom - BitmapFont.width(yLabel)) / 2, color: ink, into: &img) }

        // Series: faint raw data under smoothed lines.
        let clip = (left + 1, top, right, bottom - 1)
        for (i, (s, ys)) in drawn.enumerated() {
            let color = s.color ?? LineChart.palette[i % LineChart.palette.count]
            if smoothing > 0 {
                let faint = color.map { UInt8((Int($0) + 2 * 255) / 3) }
                polyline(s.x, s.y, color: faint, thick: false, px: px, py: py, ty: ty, clip: clip, into: &img)
            }
            polyline(s.x, ys, color: color, thick: true, px: px, py: py, ty: ty, clip: clip, into: &img)
        }
        // Legend, top right inside the plot.
        if !series.isEmpty {
            let w = (series.map { BitmapFont.width($0.name) }.max() ?? 0) + 26
            let x0 = right - w - 6, y0 = top + 6
            for y in y0..<(y0 + series.count * 12 + 6) { for x in x0..<(x0 + w) { img.setPixel(x: x, y: y, [255, 255, 255]) } }
            for (i, s) in series.enumerated() {
                let color = s.color ?? LineChart.palette[i % LineChart.palette.count]
                let y = y0 + 6 + i * 12
                for dy in 2...4 { for x in (x0 + 4)..<(x0 + 16) { img.setPixel(x: x, y: y + dy, color) } }
                BitmapFont.draw(s.name, x: x0 + 20, y: y, color: ink, into: &img)
            }
        }
        return img
    }

    /// Renders and writes a PNG atomically.
    public func write(to url: URL) throws { try PNG.write(render(), to: url) }

    private func polyline(_ xs: [Double], _ ys: [Double], color: [UInt8], thick: Bool, px: (Double) -> Double,
                          py: (Double) -> Double, ty: (Double) -> Double?, clip: (Int, Int, Int, Int),
                          into img: inout RasterImage) {
        var prev: (Double, Double)? = nil
        for (x, y) in zip(xs, ys) {
            guard x.isFinite, let t = ty(y) else { prev = nil; continue }  // gaps at NaN / non-positive log values
            let p = (px(x), py(t))
            if let q = prev { LineChart.line(q, p, color: color, thick: thick, clip: clip, into: &img) }
            else { LineChart.line(p, p, color: color, thick: thick, clip: clip, into: &img) }
            prev = p
        }
    }

    /// A line between two points (DDA stepping one pixel at a time), clipped to the plot rectangle.
    static func line(_ a: (Double, Double), _ b: (Double, Double), color: [UInt8], thick: Bool,
                     clip: (Int, Int, Int, Int), into img: inout RasterImage) {
        let dx = b.0 - a.0, dy = b.1 - a.1
        let steps = max(1, Int(max(abs(dx), abs(dy)).rounded(.up)))
        for k in 0...steps {
            let f = Double(k) / Double(steps)
            let x = Int((a.0 + dx * f).rounded()), y = Int((a.1 + dy * f).rounded())
            let r = thick ? 1 : 0
            for oy in 0...r { for ox in 0...r {
                let X = x + ox, Y = y + oy
                if X >= clip.0 && X <= clip.2 && Y >= clip.1 && Y <= clip.3 { img.setPixel(x: X, y: Y, color) }
            } }
        }
    }
}

import DataIO
import Foundation

/// One labelled grid of values (rows x columns), drawn as coloured cells with the value in each cell.
public struct Heatmap: Sendable {
    public var title: String
    public var rowLabels: [String]
    public var columnLabels: [String]
    /// values[row][column]; NaN marks a missing cell.
    public var values: [[Double]]
    /// Values at or below `low` get the first colour, at or above `high` the last.
    public var low: Double
    public var high: Double
    /// How a value is printed in its cell (default: percent, no decimals).
    public var format: @Sendable (Double) -> String

    public init(title: String, rowLabels: [String], columnLabels: [String], values: [[Double]], low: Double = 0.5,
                high: Double = 1, format: @escaping @Sendable (Double) -> String = { String(Int(($0 * 100).rounded())) }) {
        self.title = title
        self.rowLabels = rowLabels
        self.columnLabels = columnLabels
        self.values = values
        self.low = low
        self.high = high
        self.format = format
    }

    /// Throws unless the values form a rows x columns grid and the range is valid.
    public func validate() throws {
        guard !rowLabels.isEmpty, !columnLabels.isEmpty else { throw EvaluationError("heatmap '\(title)': no rows or no columns") }
        guard values.count == rowLabels.count, values.allSatisfy({ $0.count == columnLabels.count }) else {
            throw EvaluationError("heatmap '\(title)': values must be \(rowLabels.count) rows of \(columnLabels.count), got \(values.map(\.count))")
        }
        guard low.isFinite, high.isFinite, high > low else { throw EvaluationError("heatmap '\(title)': range \(low)...\(high) is empty") }
    }
}

/// Heatmap panels side by side with a shared title, a colour bar per distinct range and note lines, rendered to an
/// RGB image without external programs (5x7 pixel font).
public struct HeatmapFigure: Sendable {
    public var title: String?
    public var panels: [Heatmap]
    public var notes: [String]
    public var cellWidth = 30
    public var cellHeight = 18

    public init(title: String? = nil, panels: [Heatmap], notes: [String] = []) {
        self.title = title
        self.panels = panels
        self.notes = notes
    }

    /// Viridis at five stops, linearly interpolated; `f` in [0, 1].
    static let stops: [[Double]] = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]]

    /// The colour of a fraction of the range (clamped to [0, 1]).
    public static func color(_ f: Double) -> [UInt8] {
        let x = Swift.min(1, Swift.max(0, f.isFinite ? f : 0)) * Double(stops.count - 1)
        let i = Swift.min(stops.count - 2, Int(x)), u = x - Double(i)
        return (0..<3).map { UInt8((stops[i][$0] * (1 - u) + stops[i + 1][$0] * u).rounded()) }
    }

    /// Renders the figure.
    public func render() throws -> RasterImage {
        guard !panels.isEmpty else { throw EvaluationError("heatmap figure: no panels") }
        for p in panels { try p.validate() }
        let ink: [UInt8] = [30, 30, 30], missing: [UInt8] = [200, 200, 200]
        let gap = 24, margin = 12
        let rowLabelWidth = panels.map { ($0.rowLabels.map { BitmapFont.width($0) }.max() ?? 0) + 6 }
        let panelWidths = panels.enumerated().map { i, p in
            Swift.max(rowLabelWidth[i] + p.columnLabels.count * cellWidth, BitmapFont.width(p.title))
        }
        let maxRows = panels.map(\.rowLabels.count).max()!
        let titleHeight = title == nil ? 0 : 16
        let panelTop = margin + titleHeight + 14                       // panel title line above the grid
        let gridBottom = panelTop + maxRows * cellHeight
        let barTop = gridBottom + 16 + 14                              // below the column labels
        let notesTop = barTop + 10 + 16
        let width = Swift.max(margin * 2 + panelWidths.reduce(0, +) + gap * (panels.count - 1),
                              margin * 2 + (notes.map { BitmapFont.width($0) }.max() ?? 0),
                              margin * 2 + (title.map { BitmapFont.width($0) } ?? 0))
        let height = notesTop + notes.count * 11 + margin
        var img = RasterImage(width: width, height: height, color: [255, 255, 255])
        if let title { BitmapFont.draw(title, x: (width - BitmapFont.width(title)) / 2, y: margin, color: ink, into: &img) }

        var x0 = margin
        for (pi, p) in panels.enumerated() {
            let gridLeft = x0 + rowLabelWidth[pi]
            BitmapFont.draw(p.title, x: x0, y: panelTop - 13, color: ink, into: &img)
            for (r, label) in p.rowLabels.enumerated() {
                let y = panelTop + r * cellHeight
                BitmapFont.draw(label, x: gridLeft - 6 - BitmapFont.width(label), y: y + (cellHeight - 7) / 2, color: ink, into: &img)
                for c in 0..<p.columnLabels.count {
                    let v = p.values[r][c]
                    let fill = v.isFinite ? HeatmapFigure.color((v - p.low) / (p.high - p.low)) : missing
                    let cx = gridLeft + c * cellWidth
                    for yy in (y + 1)..<(y + cellHeight) { for xx in (cx + 1)..<(cx + cellWidth) { img.setPixel(x: xx, y: yy, fill) } }
                    let text = v.isFinite ? p.format(v) : "-"
                    let lum = 0.299 * Double(fill[0]) + 0.587 * Double(fill[1]) + 0.114 * Double(fill[2])
                    BitmapFont.draw(text, x: cx + (cellWidth - BitmapFont.width(text)) / 2 + 1, y: y + (cellHeight - 7) / 2 + 1,
                                   color: lum < 128 ? [255, 255, 255] : [0, 0, 0], into: &img)
                }
            }
            for (c, label) in p.columnLabels.enumerated() {
                let cx = gridLeft + c * cellWidth
                BitmapFont.draw(label, x: cx + (cellWidth - BitmapFont.width(label)) / 2 + 1, y: panelTop + p.rowLabels.count * cellHeight + 5,
                               color: ink, into: &img)
            }
            // Colour bar of this panel's range.
            let barWidth = Swift.min(120, p.columnLabels.count * cellWidth)
            for i in 0..<barWidth {
                let col = HeatmapFigure.color(Double(i) / Double(Swift.max(1, barWidth - 1)))
                for yy in barTop..<(barTop + 8) { img.setPixel(x: gridLeft + i, y: yy, col) }
            }
            let lo = p.format(p.low), hi = p.format(p.high)
            BitmapFont.draw(lo, x: gridLeft, y: barTop + 11, color: ink, into: &img)
            BitmapFont.draw(hi, x: gridLeft + barWidth - BitmapFont.width(hi), y: barTop + 11, color: ink, into: &img)
            x0 += panelWidths[pi] + gap
        }
        for (i, line) in notes.enumerated() { BitmapFont.draw(line, x: margin, y: notesTop + i * 11, color: ink, into: &img) }
        return img
    }

    /// Renders and writes a PNG (atomically).
    public func write(to url: URL) throws { try PNG.write(render(), to: url) }
}

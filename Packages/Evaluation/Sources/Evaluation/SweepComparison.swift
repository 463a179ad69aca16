import DataIO
import DiscriminativeAdapter
import Foundation

/// The probing map's control comparison: two finished sweeps (trained U-Net and random-U-Net control, read back from
/// their `sweep.json`) cell by cell, as the difference trained - control in points of each metric.
public struct SweepComparison: Sendable {
    /// One sweep's counts per cell: cells[metric][tap][timestep index].
    public struct Cells: Sendable {
        public var taps: [String]
        public var timesteps: [Int]
        public var text: [[Proportion]]
        public var image: [[Proportion]]
        public var rec: [[Proportion]]
    }

    public var trained: Cells
    public var control: Cells

    /// Reads a sweep's `sweep.json`; errors name the file and the missing field.
    public static func load(_ url: URL) throws -> Cells {
        let json: JSONValue
        do { json = try JSONValue.parse(try Data(contentsOf: url)) } catch {
            throw EvaluationError("\(url.path): cannot read the sweep (\(error))")
        }
        guard let taps = json["taps"]?.arrayValue?.compactMap(\.stringValue), !taps.isEmpty,
              let ts = json["timesteps"]?.arrayValue?.compactMap(\.intValue), !ts.isEmpty,
              let cells = json["cells"]?.arrayValue else {
            throw EvaluationError("\(url.path): not a sweep.json (needs taps, timesteps and cells)")
        }
        let empty = Proportion(successes: 0, total: 0)
        var out = Cells(taps: taps, timesteps: ts, text: [], image: [], rec: [])
        out.text = Array(repeating: Array(repeating: empty, count: ts.count), count: taps.count)
        out.image = out.text
        out.rec = out.text
        var seen = Set<[Int]>()
        for (k, c) in cells.enumerated() {
            guard let tap = c["tap"]?.stringValue, let i = taps.firstIndex(of: tap), let t = c["timestep"]?.intValue,
                  let j = ts.firstIndex(of: t), let overall = c["overall"] else {
                throw EvaluationError("\(url.path): cell \(k) names no tap and timestep of the sweep")
            }
            func p(_ key: String) throws -> Proportion {
                guard let s = overall[key]?["successes"]?.intValue, let n = overall[key]?["total"]?.intValue, s >= 0, n >= s else {
                    throw EvaluationError("\(url.path): cell \(k) (\(tap), t \(t)) has no valid \(key) counts")
                }
                return Proportion(successes: s, total: n)
            }
            out.text[i][j] = try p("itm_text")
            out.image[i][j] = try p("itm_image")
            out.rec[i][j] = try p("rec_p_at_1")
            seen.insert([i, j])
        }
        guard seen.count == taps.count * ts.count else {
            throw EvaluationError("\(url.path): \(seen.count) of \(taps.count * ts.count) cells present")
        }
        return out
    }

    /// Throws unless both sweeps cover the same taps and timesteps.
    public init(trained: Cells, control: Cells) throws {
        guard trained.taps == control.taps, trained.timesteps == control.timesteps else {
            throw EvaluationError("the sweeps differ: taps \(trained.taps) vs \(control.taps), timesteps \(trained.timesteps) vs \(control.timesteps)")
        }
        self.trained = trained
        self.control = control
    }

    /// trained - control per cell, as a fraction.
    static func difference(_ a: [[Proportion]], _ b: [[Proportion]]) -> [[Double]] {
        zip(a, b).map { ra, rb in zip(ra, rb).map { $0.value - $1.value } }
    }

    /// The 95% interval of a difference of two proportions, treated as independent (the two sweeps score the same
    /// samples, so this is wider than a paired interval).
    static func interval(_ a: Proportion, _ b: Proportion) -> (low: Double, high: Double) {
        let d = a.value - b.value
        let se = (a.value * (1 - a.value) / Double(max(1, a.total)) + b.value * (1 - b.value) / Double(max(1, b.total))).squareRoot()
        return (d - 1.959963984540054 * se, d + 1.959963984540054 * se)
    }

    /// Per metric: a table of trained, control and difference (points, with its interval) per (tap, t).
    public var markdown: String {
        var out = ""
        for (name, a, b) in [("ITM text accuracy", trained.text, control.text), ("ITM image accuracy", trained.image, control.image),
                             ("REC P@1 (IoU>=0.5)", trained.rec, control.rec)] {
            out += "**\(name), trained - control (points)**; each cell: trained % / control %, difference [95% interval]\n\n"
            out += "| tap | " + trained.timesteps.map { "t = \($0)" }.joined(separator: " | ") + " |\n"
            out += "|---|" + trained.timesteps.map { _ in "---|" }.joined() + "\n"
            for (i, tap) in trained.taps.enumerated() {
                let cells = trained.timesteps.indices.map { j -> String in
                    let ci = Self.interval(a[i][j], b[i][j])
                    return String(format: "%.1f / %.1f, %+.1f [%+.1f, %+.1f]", 100 * a[i][j].value, 100 * b[i][j].value,
                                  100 * (a[i][j].value - b[i][j].value), 100 * ci.low, 100 * ci.high)
                }
                out += "| \(tap) | " + cells.joined(separator: " | ") + " |\n"
            }
            out += "\n"
        }
        return out
    }

    /// Three panels of trained - control in points (colour range -10 .. +50).
    public func figure(title: String, notes: [String] = []) -> HeatmapFigure {
        let cols = trained.timesteps.map { "T\($0)" }
        func panel(_ t: String, _ a: [[Proportion]], _ b: [[Proportion]]) -> Heatmap {
            Heatmap(title: t, rowLabels: trained.taps, columnLabels: cols, values: Self.difference(a, b), low: -0.1, high: 0.5,
                    format: { String(format: "%+d", Int(($0 * 100).rounded())) })
        }
        return HeatmapFigure(title: title, panels: [panel("ITM TEXT, TRAINED - CONTROL", trained.text, control.text),
                                                    panel("ITM IMAGE, TRAINED - CONTROL", trained.image, control.image),
                                                    panel("REC P@1, TRAINED - CONTROL", trained.rec, control.rec)], notes: notes)
    }
}

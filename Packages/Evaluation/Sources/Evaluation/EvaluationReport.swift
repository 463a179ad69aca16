import DiscriminativeAdapter
import Foundation

/// Markdown tables of discriminative evaluations (what `evaluate discriminative` prints and writes).
public enum EvaluationReport {
    /// "73.1 [68.2, 77.5]" (percent with the 95% Wilson interval), "-" for an empty count.
    public static func cell(_ p: Proportion) -> String {
        guard p.total > 0 else { return "-" }
        let ci = p.interval95
        return String(format: "%.1f [%.1f, %.1f]", 100 * p.value, 100 * ci.low, 100 * ci.high)
    }

    /// The overall table: one row per (label, split), then the chance line (ITM 2-way: 50%).
    public static func overallTable(_ rows: [(label: String, evaluation: SplitEvaluation)]) -> String {
        var out = "| model | split | t | n | ITM text acc. % | ITM image acc. % | REC P@1 (IoU>=0.5) % |\n|---|---|---|---|---|---|---|\n"
        for (label, e) in rows {
            out += "| \(label) | \(e.split.rawValue) | \(e.timestep) | \(e.overall.text.total) | \(cell(e.overall.text)) | \(cell(e.overall.image)) | \(cell(e.overall.rec)) |\n"
        }
        let chance = rows.compactMap { r -> String? in
            let c = r.evaluation.recObjectChance
            return c.isFinite ? String(format: "%.1f (%@)", 100 * c, r.evaluation.split.rawValue) : nil
        }
        var seen = Set<String>()
        let recChance = chance.filter { seen.insert($0).inserted }.joined(separator: ", ")
        out += "| chance | | | | 50.0 | 50.0 | \(recChance) |\n"
        out += "\nChance: ITM is 2-way; REC chance is a uniform pick among the scene's objects (a perfect detector that ignores the expression).\n"
        return out
    }

    /// One table per evaluation, by category (rows) with the three metrics.
    public static func categoryTable(label: String, _ e: SplitEvaluation) -> String {
        var out = "**\(label), \(e.split.rawValue), t = \(e.timestep)**\n\n| category | n | ITM text % | ITM image % | REC P@1 % |\n|---|---|---|---|---|\n"
        for (k, s) in e.byCategory.sorted(by: { $0.key < $1.key }) {
            out += "| \(k) | \(s.text.total) | \(cell(s.text)) | \(cell(s.image)) | \(cell(s.rec)) |\n"
        }
        return out
    }

    /// One table per evaluation by hard-negative kind (ITM only).
    public static func negativeKindTable(label: String, _ e: SplitEvaluation) -> String {
        var out = "**\(label), \(e.split.rawValue), t = \(e.timestep), by hard-negative kind**\n\n| negative | n | ITM text % | ITM image % |\n|---|---|---|---|\n"
        for (k, s) in e.byNegativeKind.sorted(by: { $0.key < $1.key }) {
            out += "| \(k) | \(s.text.total) | \(cell(s.text)) | \(cell(s.image)) |\n"
        }
        return out
    }
}

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

    /// "0.42 / 0.37" (the centre correlation per axis), "-" where undefined.
    public static func pair(_ v: (x: Double, y: Double)) -> String {
        func f(_ d: Double) -> String { d.isFinite ? String(format: "%.2f", d) : "-" }
        return "\(f(v.x)) / \(f(v.y))"
    }

    /// The overall table: one row per (label, split), then per split the baselines REC must beat: the training mean
    /// box, the best constant box (both fitted on the training split's referents), and the uniform referent pick (a
    /// perfect detector that ignores the expression; not chance). ITM's chance is 50% (2-way).
    public static func overallTable(_ rows: [(label: String, evaluation: SplitEvaluation)]) -> String {
        var out = "| model | split | t | n | ITM text acc. % | ITM image acc. % | REC P@1 (IoU>=0.5) % | REC P@1 (IoU>=0.3) % | REC centre corr. x / y | predicted centre spread x / y |\n"
        out += "|---|---|---|---|---|---|---|---|---|---|\n"
        for (label, e) in rows {
            let o = e.overall
            out += "| \(label) | \(e.split.rawValue) | \(e.timestep) | \(o.text.total) | \(cell(o.text)) | \(cell(o.image)) | \(cell(o.rec)) | \(cell(o.recLoose)) | \(pair(o.centreCorrelation)) | \(pair(o.predictedCentreSpread)) |\n"
        }
        var seen = Set<String>()
        for (_, e) in rows where seen.insert(e.split.rawValue).inserted {
            let n = e.overall.rec.total
            if e.recBaselines != nil {
                out += "| constant mean box (train) | \(e.split.rawValue) | | \(n) | | | \(cell(e.overall.meanBox)) | | | 0 / 0 |\n"
                out += "| best constant box (train) | \(e.split.rawValue) | | \(n) | | | \(cell(e.overall.bestConstantBox)) | | | 0 / 0 |\n"
            }
            let u = e.recUniformReferentPick
            out += "| uniform referent pick (ignores the expression) | \(e.split.rawValue) | | \(n) | | | \(u.isFinite ? String(format: "%.1f", 100 * u) : "-") | | | |\n"
        }
        out += "| chance (ITM 2-way) | | | | 50.0 | 50.0 | | | | |\n"
        out += "\nBaselines: ITM is 2-way (50%). REC: a constant box (the training referents' mean box, and the one box with the "
            + "highest P@1 on them) ignores image and expression; the uniform referent pick is a perfect detector that picks one "
            + "of the scene's objects at random. Centre correlation: Pearson's r of the top query's centre with the referent's.\n"
        if let b = rows.compactMap({ $0.evaluation.recBaselines }).first {
            func box(_ v: [Double]) -> String { "(" + v.map { String(format: "%.2f", $0) }.joined(separator: ", ") + ")" }
            out += "Constant boxes (cx, cy, w, h), fitted on \(b.trainReferents) referents of \(b.trainSamples) training samples: "
                + "mean \(box(b.meanBox)) (train P@1 \(String(format: "%.1f", 100 * b.meanBoxTrainP1))%), "
                + "best \(box(b.bestConstantBox)) (train P@1 \(String(format: "%.1f", 100 * b.bestConstantBoxTrainP1))%).\n"
        }
        return out
    }

    /// One table per evaluation, by category (rows), with REC's baselines on the same referents.
    public static func categoryTable(label: String, _ e: SplitEvaluation) -> String {
        var out = "**\(label), \(e.split.rawValue), t = \(e.timestep)**\n\n| category | n | ITM text % | ITM image % | REC P@1 % | REC P@1 (IoU>=0.3) % | mean box P@1 % | best constant box P@1 % | REC centre corr. x / y |\n|---|---|---|---|---|---|---|---|---|\n"
        for (k, s) in e.byCategory.sorted(by: { $0.key < $1.key }) {
            out += "| \(k) | \(s.text.total) | \(cell(s.text)) | \(cell(s.image)) | \(cell(s.rec)) | \(cell(s.recLoose)) | \(cell(s.meanBox)) | \(cell(s.bestConstantBox)) | \(pair(s.centreCorrelation)) |\n"
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

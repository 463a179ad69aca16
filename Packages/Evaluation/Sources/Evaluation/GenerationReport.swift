import Foundation
import ShapesWorld
import Tensor

/// Merging generation evaluation results: variants x categories per suite, seconds per image, and the paired
/// difference of each variant against a base variant.
public enum GenerationReport {
    /// The difference in all-pass rate (variant minus base) over the images both share (same prompt id and seed),
    /// with a 95% paired-bootstrap interval over prompts.
    public struct PairedDifference: Equatable, Sendable {
        public var variant: String
        public var base: String
        public var suite: String
        public var group: String
        /// Prompts and images paired.
        public var prompts: Int
        public var images: Int
        /// Mean over paired prompts of (mean over their shared seeds of variant pass - base pass), as a fraction.
        public var mean: Double
        public var low: Double
        public var high: Double
    }

    /// Every `*.json` in `folder` as a result, sorted by suite then variant (`base` first). A JSON file that is not
    /// a result, or two files with the same variant and suite, throw naming the file.
    public static func loadResults(in folder: URL) throws -> [GenerationEvaluationResult] {
        let names: [String]
        do { names = try FileManager.default.contentsOfDirectory(atPath: folder.path) } catch {
            throw EvaluationError("cannot list the results folder \(folder.path): \(error.localizedDescription)")
        }
        var results: [GenerationEvaluationResult] = []
        var seen: [String: String] = [:]
        for name in names.sorted() where name.hasSuffix(".json") {
            let r = try GenerationEvaluation.read(folder.appendingPathComponent(name))
            let key = "\(r.variant) / \(r.suite)"
            if let other = seen[key] { throw EvaluationError("\(folder.path): \(other) and \(name) both hold variant \(r.variant) on suite \(r.suite)") }
            seen[key] = name
            results.append(r)
        }
        guard !results.isEmpty else { throw EvaluationError("no result JSON in \(folder.path)") }
        return sort(results, base: "base")
    }

    static func sort(_ results: [GenerationEvaluationResult], base: String) -> [GenerationEvaluationResult] {
        results.sorted { a, b in
            if a.suite != b.suite { return a.suite < b.suite }
            if (a.variant == base) != (b.variant == base) { return a.variant == base }
            return a.variant < b.variant
        }
    }

    /// The paired difference of `variant` minus `base` in `group` (a category, or "all"): images are paired by
    /// (prompt id, seed); per prompt, the mean pass difference over its shared seeds; the estimate is the mean over
    /// prompts and the interval the 2.5 / 97.5 percentiles of `resamples` bootstrap means (prompts drawn with
    /// replacement from `TorchGenerator(seed:)`). nil when the two share no image in the group.
    public static func pairedDifference(_ variant: GenerationEvaluationResult, minus base: GenerationEvaluationResult,
                                        group: String = "all", resamples: Int = 2000, seed: UInt64 = 0) -> PairedDifference? {
        func passes(_ r: GenerationEvaluationResult) -> [String: Bool] {
            var out: [String: Bool] = [:]
            for i in r.images where group == "all" || i.category == group { out["\(i.promptID)\u{1F}\(i.seed)"] = i.verdict.allPassed }
            return out
        }
        let a = passes(variant), b = passes(base)
        var byPrompt: [String: (sum: Double, count: Int)] = [:]
        var order: [String] = []
        for i in variant.images where group == "all" || i.category == group {
            let key = "\(i.promptID)\u{1F}\(i.seed)"
            guard let pa = a[key], let pb = b[key] else { continue }
            if byPrompt[i.promptID] == nil { order.append(i.promptID) }
            byPrompt[i.promptID, default: (0, 0)].sum += (pa ? 1 : 0) - (pb ? 1 : 0)
            byPrompt[i.promptID, default: (0, 0)].count += 1
        }
        guard !order.isEmpty else { return nil }
        let d = order.map { byPrompt[$0]!.sum / Double(byPrompt[$0]!.count) }
        let (mean, low, high) = bootstrapMean(d, resamples: resamples, seed: seed)
        return PairedDifference(variant: variant.variant, base: base.variant, suite: variant.suite, group: group, prompts: d.count,
                                images: byPrompt.values.reduce(0) { $0 + $1.count }, mean: mean, low: low, high: high)
    }

    /// Mean of `xs` and the 2.5 / 97.5 percentiles (nearest rank) of the means of `resamples` resamples drawn with
    /// replacement by `TorchGenerator(seed:)`.
    public static func bootstrapMean(_ xs: [Double], resamples: Int, seed: UInt64) -> (mean: Double, low: Double, high: Double) {
        guard !xs.isEmpty else { return (0, 0, 0) }
        let mean = xs.reduce(0, +) / Double(xs.count)
        var g = TorchGenerator(seed: seed)
        var means = [Double](repeating: 0, count: max(1, resamples))
        for k in means.indices {
            means[k] = g.randint(low: 0, high: xs.count, count: xs.count).reduce(0.0) { $0 + xs[$1] } / Double(xs.count)
        }
        means.sort()
        let lo = means[Int((0.025 * Double(means.count - 1)).rounded())], hi = means[Int((0.975 * Double(means.count - 1)).rounded())]
        return (mean, lo, hi)
    }

    /// "12.5 [8.0, 17.5]" (percent).
    public static func cell(_ i: JudgeSummary.Interval) -> String {
        String(format: "%.1f [%.1f, %.1f]", 100 * i.mean, 100 * i.low, 100 * i.high)
    }

    /// "+3.1 [-1.2, 7.5]" (percentage points).
    public static func cell(_ d: PairedDifference) -> String {
        String(format: "%+.1f [%+.1f, %+.1f]", 100 * d.mean, 100 * d.low, 100 * d.high)
    }

    /// A number without trailing zeros ("3", "0.5").
    static func number(_ x: Double) -> String {
        x == x.rounded() && abs(x) < 1e9 ? String(Int(x)) : String(format: "%g", x)
    }

    /// The merged markdown report of `results`: per suite, a table of variants x categories (all-pass % [95% CI],
    /// images), a table of seconds per image (variants x suites), and per suite the paired difference of each
    /// variant sharing prompts and seeds with `base` (percentage points [95% CI], prompts paired).
    public static func markdown(_ results: [GenerationEvaluationResult], base: String = "base", resamples: Int = 2000,
                                seed: UInt64 = 0) -> String {
        let results = sort(results, base: base)
        let suites = results.map(\.suite).reduce(into: [String]()) { if !$0.contains($1) { $0.append($1) } }
        let variants = results.map(\.variant).reduce(into: [String]()) { if !$0.contains($1) { $0.append($1) } }
            .sorted { a, b in (a == base) != (b == base) ? a == base : a < b }
        var md = "## Generation evaluation (ShapesWorld judge)\n\n"
        md += "All-pass: the share of images whose every prompt constraint the exact judge confirms, % with a 95% bootstrap "
            + "interval over images. Seeds 0 ..< images-per-prompt for every prompt, identical across variants.\n\n"
        for suite in suites {
            let rows = results.filter { $0.suite == suite }
            // Categories in ShapesWorld's order, then any other group the results hold.
            let groups = Set(rows.flatMap { $0.summaries.map(\.group) }).subtracting(["all"])
            let known = Category.allCases.map(\.rawValue)
            let categories = known.filter(groups.contains) + groups.subtracting(known).sorted()
            let columns = categories + ["all"]
            md += "### Suite `\(suite)`: all-pass % [95% CI]\n\n"
            md += "| variant | settings | images | " + columns.joined(separator: " | ") + " |\n"
            md += "|---|---|---|" + String(repeating: "---|", count: columns.count) + "\n"
            for r in rows {
                let cells = columns.map { c in r.summary(c).map { cell($0.allPass) } ?? "-" }
                md += "| \(r.variant) | \(settings(r)) | \(r.images.count) | " + cells.joined(separator: " | ") + " |\n"
            }
            md += "\n"
            let others = rows.filter { $0.variant != base }
            if let b = rows.first(where: { $0.variant == base }) {
                var lines: [String] = []
                for r in others {
                    let diffs = columns.map { pairedDifference(r, minus: b, group: $0, resamples: resamples, seed: seed) }
                    guard let all = diffs.last!, all.prompts > 0 else { continue }
                    lines.append("| \(r.variant) | \(all.prompts) | \(all.images) | " + diffs.map { $0.map(cell) ?? "-" }.joined(separator: " | ") + " |")
                }
                if !lines.isEmpty {
                    md += "Paired difference vs `\(base)` (all-pass, percentage points, 95% paired bootstrap over prompts, \(resamples) resamples, seed \(seed)):\n\n"
                    md += "| variant | prompts | images | " + columns.joined(separator: " | ") + " |\n"
                    md += "|---|---|---|" + String(repeating: "---|", count: columns.count) + "\n"
                    md += lines.joined(separator: "\n") + "\n\n"
                }
            }
        }
        md += "### Seconds per image (wall)\n\n| variant | " + suites.joined(separator: " | ") + " |\n|---|" + String(repeating: "---|", count: suites.count) + "\n"
        for v in variants {
            let cells = suites.map { s in results.first { $0.variant == v && $0.suite == s }.map { String(format: "%.3f (batch %d)", $0.secondsPerImage, $0.batch) } ?? "-" }
            md += "| \(v) | " + cells.joined(separator: " | ") + " |\n"
        }
        return md
    }

    /// "DDIMScheduler 20 steps, cfg 3, LoRA x, SC first 10 steps at 0.5 release".
    static func settings(_ r: GenerationEvaluationResult) -> String {
        var s = "\(r.steps) steps, cfg \(number(r.guidanceScale))"
        if let l = r.lora { s += ", LoRA `\(l)`" }
        if let c = r.selfCorrection { s += ", self-correction \(c.schedule) (\(c.mode)), adapter `\(c.adapter)`" }
        return s
    }
}

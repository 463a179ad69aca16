import DataIO
import Foundation
import ShapesWorld
import Tensor

/// One generated image of a suite prompt with the judge's verdict.
public struct EvaluatedImage: Codable, Sendable {
    public var promptID: String
    public var category: String
    public var prompt: String
    public var seed: UInt64
    public var verdict: Verdict
}

/// The result of sampling a prompt suite and judging every image.
public struct SuiteEvaluationResult: Codable, Sendable {
    public var suite: String
    public var promptsPerCategory: Int
    public var imagesPerPrompt: Int
    public var steps: Int
    public var guidanceScale: Double
    /// diffusers' `guidance_rescale` (0 = off); absent in results written before it existed.
    public var guidanceRescale: Double?
    public var scheduler: String
    public var images: [EvaluatedImage]
    /// Per category (all-pass rate and mean constraint fraction, per image, 95% bootstrap intervals) and "all".
    public var summaries: [JudgeSummary]
}

/// Samples a ShapesWorld prompt suite with a model and scores every image with the exact judge (the "base model"
/// baseline of Docs/RESULTS.md). Prompt j of the suite gets the images of seeds 0 ..< imagesPerPrompt.
public enum SuiteEvaluation {
    /// Runs the evaluation. `promptsPerCategory` nil takes every prompt (60 per category); otherwise the first n of
    /// each category in suite order. `grids` receives, per category, the images of its first `gridPrompts` prompts.
    public static func run(model: T2IModel, suite: PromptSuite, promptsPerCategory: Int?, imagesPerPrompt: Int = 4,
                           steps: Int, guidanceScale: Float, guidanceRescale: Float = 0, imageSize: Int, batchSize: Int = 32,
                           gridPrompts: Int = 6, progress: (Int, Int) -> Void = { _, _ in })
        throws -> (result: SuiteEvaluationResult, grids: [(category: String, image: RasterImage)]) {
        var taken: [String: Int] = [:]
        var prompts: [PromptSuite.Prompt] = []
        for p in suite.prompts {
            let c = p.category.rawValue
            if let n = promptsPerCategory, taken[c, default: 0] >= n { continue }
            taken[c, default: 0] += 1
            prompts.append(p)
        }
        var jobs: [(prompt: PromptSuite.Prompt, seed: UInt64)] = []
        for p in prompts { for s in 0..<imagesPerPrompt { jobs.append((p, UInt64(s))) } }
        let judge = Judge(config: .square(imageSize))
        var images: [EvaluatedImage] = []
        var gridImages: [String: [Tensor]] = [:]
        var gridCount: [String: Set<String>] = [:]
        var start = 0
        while start < jobs.count {
            let end = Swift.min(jobs.count, start + batchSize)
            let chunk = Array(jobs[start..<end])
            let x = try T2ISampler.sample(model: model, prompts: chunk.map(\.prompt.text), seeds: chunk.map(\.seed),
                                          steps: steps, guidanceScale: guidanceScale, guidanceRescale: guidanceRescale,
                                          imageSize: imageSize, batchSize: batchSize)
            for (i, job) in chunk.enumerated() {
                let t = x.selecting(axis: 0, index: i).contiguous()
                let verdict = judge.judge(try RGBImage(tensor: t), job.prompt.meaning)
                let c = job.prompt.category.rawValue
                images.append(EvaluatedImage(promptID: job.prompt.id, category: c, prompt: job.prompt.text, seed: job.seed, verdict: verdict))
                var ids = gridCount[c, default: []]
                if ids.contains(job.prompt.id) || ids.count < gridPrompts {
                    ids.insert(job.prompt.id)
                    gridCount[c] = ids
                    gridImages[c, default: []].append(t.unsqueezed(0))
                }
            }
            start = end
            progress(start, jobs.count)
        }
        let summaries = JudgeSummary.aggregate(images.map { (group: $0.category, verdict: $0.verdict) })
        var grids: [(String, RasterImage)] = []
        for c in gridImages.keys.sorted() {
            let batch = Tensor.upsampleNearest(Tensor.concat(gridImages[c]!, axis: 0), scale: 2)
            grids.append((c, try ImageGrid.make(batch: batch, columns: imagesPerPrompt)))
        }
        let result = SuiteEvaluationResult(suite: suite.suite.rawValue, promptsPerCategory: promptsPerCategory ?? PromptSuite.promptsPerCategory,
                                           imagesPerPrompt: imagesPerPrompt, steps: steps, guidanceScale: Double(guidanceScale),
                                           guidanceRescale: Double(guidanceRescale), scheduler: model.scheduler.className, images: images, summaries: summaries)
        return (result, grids)
    }

    /// A Markdown table of the summaries: category, images, all-pass [95% CI], constraint fraction [95% CI], unparseable.
    public static func markdownTable(_ r: SuiteEvaluationResult) -> String {
        func pct(_ i: JudgeSummary.Interval) -> String { String(format: "%.1f%% [%.1f, %.1f]", 100 * i.mean, 100 * i.low, 100 * i.high) }
        var lines = ["| category | images | all-pass [95% CI] | constraints passed [95% CI] | unparseable |",
                     "|---|---|---|---|---|"]
        for s in r.summaries {
            lines.append("| \(s.group) | \(s.count) | \(pct(s.allPass)) | \(pct(s.fraction)) | \(s.unparseable) |")
        }
        return lines.joined(separator: "\n")
    }

    /// What the failed images got wrong, per category: how many fail a count constraint (the asked colour-shape
    /// pair missing, doubled, or miscounted), a size constraint, a relation, or cannot be parsed. An image failing
    /// several kinds counts in each column.
    public static func failureTable(_ r: SuiteEvaluationResult) -> String {
        var lines = ["| category | failed images | count wrong | size wrong | relation wrong | unparseable |",
                     "|---|---|---|---|---|---|"]
        var order: [String] = []
        var rows: [String: [Int]] = [:]
        for im in r.images {
            if rows[im.category] == nil { order.append(im.category); rows[im.category] = [0, 0, 0, 0, 0] }
            guard !im.verdict.allPassed else { continue }
            var row = rows[im.category]!
            row[0] += 1
            if !im.verdict.parseable {
                row[4] += 1
            } else {
                let failed = Set(im.verdict.constraints.filter { !$0.passed }.map(\.kind))
                if failed.contains(.count) { row[1] += 1 }
                if failed.contains(.size) { row[2] += 1 }
                if failed.contains(.relation) { row[3] += 1 }
            }
            rows[im.category] = row
        }
        let total = order.reduce(into: [0, 0, 0, 0, 0]) { acc, c in for i in 0..<5 { acc[i] += rows[c]![i] } }
        for c in order + ["all"] {
            let v = c == "all" ? total : rows[c]!
            lines.append("| \(c) | \(v[0]) | \(v[1]) | \(v[2]) | \(v[3]) | \(v[4]) |")
        }
        return lines.joined(separator: "\n")
    }
}

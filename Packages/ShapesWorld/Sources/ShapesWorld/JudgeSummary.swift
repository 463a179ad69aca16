/// Aggregation of verdicts per group (category, split, ...) with seeded percentile-bootstrap 95% confidence intervals.
public struct JudgeSummary: Codable, Hashable, Sendable {
    public struct Interval: Codable, Hashable, Sendable {
        public var mean: Double, low: Double, high: Double
    }
    public var group: String
    public var count: Int
    public var unparseable: Int
    /// Fraction of prompts whose constraints all pass, and the mean fraction of constraints passed.
    public var allPass: Interval
    public var fraction: Interval

    /// One summary per group (in first-seen order) plus "all".
    public static func aggregate(_ records: [(group: String, verdict: Verdict)], resamples: Int = 1000, seed: UInt64 = 0) -> [JudgeSummary] {
        var order: [String] = []
        var byGroup: [String: [Verdict]] = [:]
        for (g, v) in records {
            if byGroup[g] == nil { order.append(g) }
            byGroup[g, default: []].append(v)
        }
        var out = order.map { summary($0, byGroup[$0]!, resamples: resamples, seed: seed) }
        if order.count > 1 { out.append(summary("all", records.map(\.verdict), resamples: resamples, seed: seed)) }
        return out
    }

    static func summary(_ g: String, _ vs: [Verdict], resamples: Int, seed: UInt64) -> JudgeSummary {
        let pass = vs.map { $0.allPassed ? 1.0 : 0.0 }, frac = vs.map(\.fractionPassed)
        return JudgeSummary(group: g, count: vs.count, unparseable: vs.filter { !$0.parseable }.count,
                            allPass: bootstrap(pass, resamples: resamples, seed: seed),
                            fraction: bootstrap(frac, resamples: resamples, seed: seed &+ 1))
    }

    /// Mean and the 2.5 / 97.5 percentiles of the means of `resamples` resamples with replacement.
    public static func bootstrap(_ xs: [Double], resamples: Int = 1000, seed: UInt64 = 0) -> Interval {
        guard !xs.isEmpty else { return Interval(mean: 0, low: 0, high: 0) }
        let mean = xs.reduce(0, +) / Double(xs.count)
        var r = WorldRandom(seed: seed, stream: 0xB007, index: UInt64(xs.count))
        var means = [Double](repeating: 0, count: max(1, resamples))
        for b in means.indices {
            var s = 0.0
            for _ in 0..<xs.count { s += xs[r.below(xs.count)] }
            means[b] = s / Double(xs.count)
        }
        means.sort()
        let lo = means[Int((0.025 * Double(means.count - 1)).rounded())], hi = means[Int((0.975 * Double(means.count - 1)).rounded())]
        return Interval(mean: mean, low: lo, high: hi)
    }
}

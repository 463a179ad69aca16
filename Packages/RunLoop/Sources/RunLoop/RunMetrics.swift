import DataIO
import Foundation

/// The metrics side of a run folder: `metrics.jsonl` trimmed back to a resumed step, and loss plots drawn from it.
public enum RunMetrics {
    /// Drops the records of the log at `url` past `step` (left by an interrupted run) so that the log matches the
    /// resumed run. A missing log is left missing.
    public static func trim(at url: URL, after step: Int) throws {
        guard FileManager.default.fileExists(atPath: url.path) else { return }
        let records = try MetricsLog.read(url)
        let keep = records.filter { ($0["step"]?.intValue ?? 0) <= step }
        guard keep.count != records.count else { return }
        let w = try MetricsLogWriter(url: url, truncate: true)
        for r in keep { try w.log(r) }
        try w.sync()
        w.close()
    }

    /// Draws `keys` of the log at `metrics` against the step into `output` (log scale, smoothed 0.6). Nothing is
    /// drawn until every key has two points.
    public static func plot(metrics: URL, keys: [String], title: String, to output: URL) throws {
        let records = try MetricsLog.read(metrics)
        var chart = LineChart(title: title, logY: true, smoothing: 0.6)
        for key in keys {
            let s = MetricsLog.series(records, key: key)
            guard s.x.count >= 2 else { return }
            chart.add(key, x: s.x, y: s.y)
        }
        try chart.write(to: output)
    }
}

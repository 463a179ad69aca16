import Diffusion
import Foundation

/// A one-line terminal progress bar for long runs: `label [#####-----] 12/50 3.21 it/s ETA 0:12`.
/// Redraws in place with `\r` on a terminal; elsewhere (logs, pipes) prints a line every `logEvery` seconds.
public final class ProgressBar {
    public let label: String
    public let width: Int
    private let isTerminal: Bool
    private let logEvery: Double
    private var lastLog = -Double.infinity
    private let write: (String) -> Void

    public init(label: String, width: Int = 30, logEvery: Double = 5,
                write: @escaping (String) -> Void = { FileHandle.standardError.write(Data($0.utf8)) }) {
        self.label = label
        self.width = width
        self.logEvery = logEvery
        self.write = write
        isTerminal = isatty(fileno(stderr)) != 0
    }

    /// The bar's text for `done` of `total` units at `rate` units per second.
    public static func render(label: String, done: Int, total: Int, rate: Double, eta: Double?, width: Int = 30) -> String {
        let filled = total > 0 ? min(width, done * width / total) : 0
        let bar = String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled)
        let etaText = eta.map { formatDuration($0) } ?? "?"
        return "\(label) [\(bar)] \(done)/\(total) \(String(format: "%.2f", rate)) it/s ETA \(etaText)"
    }

    /// "m:ss" or "h:mm:ss".
    public static func formatDuration(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        return s >= 3600 ? String(format: "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60) : String(format: "%d:%02d", s / 60, s % 60)
    }

    /// Draws the state; `final` ends the line.
    public func update(done: Int, total: Int, rate: Double, eta: Double?, elapsed: Double, final: Bool = false) {
        let text = Self.render(label: label, done: done, total: total, rate: rate, eta: eta, width: width)
        if isTerminal {
            write("\r" + text + (final ? "\n" : ""))
        } else if final || elapsed - lastLog >= logEvery {
            lastLog = elapsed
            write(text + "\n")
        }
    }

    /// Adapter for `TextToImagePipeline.generate(progress:)` (steps of one run).
    public func update(_ p: GenerationProgress) {
        update(done: p.step, total: p.stepCount, rate: p.stepsPerSecond, eta: p.etaSeconds, elapsed: p.elapsed,
               final: p.phase == .done)
    }
}

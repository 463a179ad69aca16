import Foundation

/// Progress of a generation, reported after every denoising step and after decoding.
public struct GenerationProgress: Sendable {
    public enum Phase: String, Sendable {
        case denoising, decoding, done
    }

    public let phase: Phase
    /// Steps completed (denoising) out of `stepCount`.
    public let step: Int
    public let stepCount: Int
    /// Seconds since the run started.
    public let elapsed: Double
    /// Denoising steps per second so far (0 before the first step).
    public let stepsPerSecond: Double
    /// Estimated seconds until denoising ends (nil before the first step).
    public let etaSeconds: Double?

    public init(phase: Phase, step: Int, stepCount: Int, elapsed: Double) {
        self.phase = phase
        self.step = step
        self.stepCount = stepCount
        self.elapsed = elapsed
        stepsPerSecond = step > 0 && elapsed > 0 ? Double(step) / elapsed : 0
        etaSeconds = stepsPerSecond > 0 ? Double(stepCount - step) / stepsPerSecond : nil
    }
}

import Foundation

/// The step loop every trainer runs (train-t2i, DPT stage 1 and stage 2): steps until `target`, a log record every
/// `logEvery` steps (and at the target) from the window of step results since the last one, a checkpoint every
/// `checkpointEvery` steps and at the end of the schedule, and any periodic work (e.g. sample grids) on its own
/// interval. Seconds per step are measured over the window, excluding checkpoint and periodic work; the ETA uses
/// their exponential average (0.3 on the newest window).
public struct RunLoop<Result> {
    /// A piece of work done every `interval` steps and at `totalSteps` (interval 0: never).
    public struct Periodic {
        public var interval: Int
        public var action: () throws -> Void

        public init(every interval: Int, _ action: @escaping () throws -> Void) {
            self.interval = interval
            self.action = action
        }
    }

    /// The step the loop stops at (`totalSteps`, or fewer to stop early).
    public var target: Int
    /// The steps of the whole schedule (the ETA counts to it).
    public var totalSteps: Int
    public var logEvery: Int
    public var checkpointEvery: Int
    /// Whether a run stopped before `totalSteps` writes a checkpoint at `target` (true: it can resume from
    /// exactly there). At `totalSteps` a checkpoint is always written.
    public var checkpointAtTarget: Bool
    public var periodic: [Periodic]

    public init(target: Int, totalSteps: Int, logEvery: Int, checkpointEvery: Int, checkpointAtTarget: Bool = true,
                periodic: [Periodic] = []) {
        precondition(logEvery >= 1 && checkpointEvery >= 1, "RunLoop: logEvery \(logEvery) and checkpointEvery \(checkpointEvery) must be >= 1")
        self.target = target
        self.totalSteps = totalSteps
        self.logEvery = logEvery
        self.checkpointEvery = checkpointEvery
        self.checkpointAtTarget = checkpointAtTarget
        self.periodic = periodic
    }

    /// Runs `trainStep` while `step()` < `target`. `log` gets the window's results, its seconds per step and the
    /// ETA in seconds.
    public func run(step: () -> Int, trainStep: () throws -> Result,
                    log: (_ window: [Result], _ secondsPerStep: Double, _ etaSeconds: Double) throws -> Void,
                    checkpoint: () throws -> Void) throws {
        var window: [Result] = []
        var windowStart = Date()
        var smoothed: Double? = nil
        while step() < target {
            window.append(try trainStep())
            let s = step()
            if s % logEvery == 0 || s == target {
                let sps = Date().timeIntervalSince(windowStart) / Double(window.count)
                smoothed = smoothed.map { 0.7 * $0 + 0.3 * sps } ?? sps
                try log(window, sps, smoothed! * Double(totalSteps - s))
                window.removeAll()
                windowStart = Date()
            }
            if s % checkpointEvery == 0 || s == totalSteps || (checkpointAtTarget && s == target) {
                try checkpoint()
                windowStart = Date()
            }
            for p in periodic where p.interval > 0 && (s % p.interval == 0 || s == totalSteps) {
                try p.action()
                windowStart = Date()
            }
        }
    }
}

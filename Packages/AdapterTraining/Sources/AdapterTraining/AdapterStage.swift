import DataIO
import Foundation
import RunLoop
import Tensor

/// What DPT's two stage trainers (`ProbeTrainer`, `TuneTrainer`) share: a step on the batch at the data cursor,
/// and the run around it (metrics trimmed on resume, `RunLoop` with log records and checkpoints, the stage's
/// outputs at the end of the schedule). Each stage supplies its inputs, its optimisation step and its log record.
protocol AdapterStage: AnyObject {
    associatedtype StepResult
    var stageSteps: Int { get }
    var stageLogEvery: Int { get }
    var stageCheckpointEvery: Int { get }
    var step: Int { get set }
    var dataCursor: Int { get set }
    var resumedFrom: Int? { get }
    var metrics: MetricsLogWriter? { get set }
    var metricsURL: URL { get }
    var checkpointDirectory: URL { get }
    var output: (String) -> Void { get }
    /// The run's one-line description (printed at the start).
    var summary: String { get }
    func currentInputs() throws -> (inputs: ProbeInputs, next: Int, generator: TorchGenerator)
    func optimise(on inputs: ProbeInputs, generator: inout TorchGenerator) throws -> StepResult
    /// The progress line and the metrics values of a log window.
    func logRecord(_ window: [StepResult], secondsPerStep: Double, etaSeconds: Double) -> (line: String, values: [String: Double])
    func saveCheckpoint() throws -> URL
    func writeLossPlot() throws
    /// Writes the stage's outputs (called once the schedule is complete) and says where.
    func finish() throws
}

extension AdapterStage {
    /// One step of the run: the current step's batch, then step and cursor move on.
    func stageStep() throws -> StepResult {
        var (inputs, next, g) = try currentInputs()
        let r = try optimise(on: inputs, generator: &g)
        step += 1
        dataCursor = next
        return r
    }

    /// Trains until the schedule's end (or `stopAfter` steps in total, e.g. to simulate an interruption).
    func runStage(stopAfter: Int?) throws {
        let target = Swift.min(stageSteps, stopAfter ?? stageSteps)
        try RunMetrics.trim(at: metricsURL, after: step)
        metrics = try MetricsLogWriter(url: metricsURL)
        defer { metrics?.close(); metrics = nil }
        if let r = resumedFrom { output("resumed from step \(r), data cursor \(dataCursor) (\(checkpointDirectory.path))") }
        output(summary)
        let loop = RunLoop<StepResult>(target: target, totalSteps: stageSteps, logEvery: stageLogEvery,
                                       checkpointEvery: stageCheckpointEvery)
        try loop.run(step: { step }, trainStep: { try stageStep() }, log: { window, sps, eta in
            let (line, values) = logRecord(window, secondsPerStep: sps, etaSeconds: eta)
            output(line)
            try metrics?.log(step: step, values, extra: ["data_cursor": .int(dataCursor)])
        }, checkpoint: {
            let url = try saveCheckpoint()
            try writeLossPlot()
            output("checkpoint \(url.lastPathComponent)")
        })
        try metrics?.sync()
        if step == stageSteps { try finish() }
    }
}

/// The mean of `f` over a log window.
func windowMean<R>(_ window: [R], _ f: (R) -> Float) -> Double {
    window.reduce(0) { $0 + Double(f($1)) } / Double(window.count)
}

import DataIO
import Foundation
import Tensor

/// Checkpoint plumbing shared by `ProbeTrainer` and `TuneTrainer`: tensors stored under prefixes ("adapter.",
/// "lora.", "opt."), the data cursor in the metadata, and the resume rule.
enum AdapterRunCheckpoint {
    /// Throws unless `saved` (the checkpoint's config) equals `config` up to the keys a resume may change; the error
    /// lists the keys that differ.
    static func checkResumable<C: AdapterRunConfig>(saved: C, config: C, step: Int, checkpoint: URL) throws {
        var saved = saved
        saved.logEvery = config.logEvery
        saved.checkpointEvery = config.checkpointEvery
        saved.keepCheckpoints = config.keepCheckpoints
        if saved.lrSchedule == "constant", config.lrSchedule == "constant", step <= config.steps { saved.steps = config.steps }
        guard saved != config else { return }
        let a = try saved.json().objectValue ?? [:], b = try config.json().objectValue ?? [:]
        let diff = a.keys.filter { a[$0] != b[$0] }.sorted()
        throw AdapterTrainingError("the checkpoint \(checkpoint.lastPathComponent) was written with a different config (keys: \(diff.joined(separator: ", "))); resume with the same settings")
    }

    /// One map per prefix (`Checkpoint.tensorGroups`); a stray tensor throws naming the checkpoint and the tensor.
    static func split(_ file: SafetensorsFile, url: URL, prefixes: [String]) throws -> [String: [String: Tensor]] {
        do { return try Checkpoint.tensorGroups(file, prefixes: prefixes) } catch let e as DataIOError {
            throw AdapterTrainingError("checkpoint \(url.lastPathComponent): \(e)")
        }
    }

    /// The tensors of each prefix's map, named with the prefix.
    static func join(_ groups: [(prefix: String, tensors: [String: Tensor])]) -> [String: Tensor] {
        var out: [String: Tensor] = [:]
        for (p, ts) in groups { for (k, v) in ts { out[p + k] = v } }
        return out
    }

    /// The data cursor a checkpoint's metadata records.
    static func dataCursor(_ info: CheckpointInfo, url: URL) throws -> Int {
        guard let cursor = info.extra["data_cursor"].flatMap(Int.init) else {
            throw AdapterTrainingError("checkpoint \(url.lastPathComponent) lacks the data_cursor metadata")
        }
        return cursor
    }
}

/// The step loop both adapter stages run: steps until `target`, a log record every `logEvery` steps (and at the
/// target) from the window of step results since the last one, a checkpoint every `checkpointEvery` steps (and at
/// the target). Seconds per step are measured over the window, excluding checkpoint writes; the ETA uses their
/// exponential average (0.3 on the newest window).
struct AdapterRunLoop<Result> {
    var target: Int
    var totalSteps: Int
    var logEvery: Int
    var checkpointEvery: Int

    func run(step: () -> Int, trainStep: () throws -> Result,
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
            if s % checkpointEvery == 0 || s == target {
                try checkpoint()
                windowStart = Date()
            }
        }
    }
}

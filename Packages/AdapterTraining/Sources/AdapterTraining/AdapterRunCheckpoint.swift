import DataIO
import Foundation
import Tensor

/// Checkpoint plumbing shared by `ProbeTrainer` and `TuneTrainer` (the step loop itself is `RunLoop`): tensors stored under prefixes ("adapter.",
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

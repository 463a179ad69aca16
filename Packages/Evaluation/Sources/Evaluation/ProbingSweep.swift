import AdapterTraining
import DataIO
import DiscriminativeAdapter
import Foundation
import ShapesWorld

/// The probing analysis (where does the discriminative signal live?): one short adapter per U-Net tap, each
/// evaluated at several timesteps on a fixed evaluation set; a table, a JSON file and a heatmap PNG of ITM text,
/// ITM image and REC accuracy over taps x timesteps.
///
/// Output folder: `tap-<name>/` (a resumable `ProbeTrainer` run per tap; a finished tap is not retrained),
/// `sweep.json`, `sweep.md`, `heatmap.png`.
public struct ProbingSweep {
    /// Training settings of every tap's adapter (its `feature_taps` is replaced by the tap).
    public var base: ProbeConfig
    /// Taps to probe (nil: every tap of the U-Net, down0 .. mid .. upN).
    public var taps: [String]?
    /// Evaluation timesteps.
    public var timesteps: [Int]
    public var split: Split
    public var count: Int
    public var evaluationSeed: UInt64 = 0
    public var evaluationBatchSize = 16

    public init(base: ProbeConfig, taps: [String]? = nil, timesteps: [Int], split: Split = .testID, count: Int) {
        self.base = base
        self.taps = taps
        self.timesteps = timesteps
        self.split = split
        self.count = count
    }

    /// `n` timesteps spread evenly over 0..<T, centred in their intervals (T = 1000, n = 5: 100, 300, 500, 700, 900).
    public static func evenTimesteps(_ n: Int, numTrainTimesteps t: Int) -> [Int] {
        (0..<n).map { (2 * $0 + 1) * t / (2 * n) }
    }

    /// The result: accuracy of each (tap, timestep).
    public struct Result: Sendable {
        public var taps: [String]
        public var timesteps: [Int]
        /// evaluations[tap][timestep index].
        public var evaluations: [[SplitEvaluation]]
        public var randomUNetSeed: UInt64?

        public func values(_ metric: (DiscriminativeScores) -> Proportion) -> [[Double]] {
            evaluations.map { row in row.map { metric($0.overall).value } }
        }

        public var json: JSONValue {
            .object(["taps": .array(taps.map { .string($0) }), "timesteps": .array(timesteps.map { .int($0) }),
                     "random_unet_seed": randomUNetSeed.map { .string(String($0)) } ?? .null,
                     "cells": .array(zip(taps, evaluations).flatMap { tap, row in
                         row.map { e in .object(["tap": .string(tap), "timestep": .int(e.timestep), "split": .string(e.split.rawValue),
                                                 "overall": e.overall.json]) }
                     })])
        }

        /// A markdown table per metric: rows taps, columns timesteps, cells percent with 95% interval.
        public var markdown: String {
            var out = ""
            for (name, metric) in [("ITM text accuracy %", { (s: DiscriminativeScores) in s.text }),
                                   ("ITM image accuracy %", { (s: DiscriminativeScores) in s.image }),
                                   ("REC P@1 (IoU>=0.5) %", { (s: DiscriminativeScores) in s.rec })] {
                out += "**\(name)** (chance: ITM 50; REC's uniform referent pick, a perfect detector ignoring the expression: \(String(format: "%.1f", 100 * (evaluations.first?.first?.recUniformReferentPick ?? .nan))))\n\n| tap | " + timesteps.map { "t = \($0)" }.joined(separator: " | ") + " |\n"
                out += "|---|" + timesteps.map { _ in "---|" }.joined() + "\n"
                for (tap, row) in zip(taps, evaluations) {
                    out += "| \(tap) | " + row.map { EvaluationReport.cell(metric($0.overall)) }.joined(separator: " | ") + " |\n"
                }
                out += "\n"
            }
            return out
        }

        /// Three panels (ITM text, ITM image: colour range chance 50% .. 100%; REC: 0 .. 100%).
        public func figure(title: String, notes: [String] = []) -> HeatmapFigure {
            let cols = timesteps.map { "T\($0)" }
            return HeatmapFigure(title: title, panels: [
                Heatmap(title: "ITM TEXT ACC %", rowLabels: taps, columnLabels: cols, values: values { $0.text }, low: 0.5, high: 1),
                Heatmap(title: "ITM IMAGE ACC %", rowLabels: taps, columnLabels: cols, values: values { $0.image }, low: 0.5, high: 1),
                Heatmap(title: "REC PRECISION AT 1 %", rowLabels: taps, columnLabels: cols, values: values { $0.rec }, low: 0, high: 1),
            ], notes: notes)
        }
    }

    /// Runs the sweep on `model` into `output` (resuming finished or interrupted taps). `log` gets progress lines.
    public func run(model: ProbeModel, output: URL, log: @escaping (String) -> Void) throws -> Result {
        let tapList = taps ?? model.unet.tapNames
        try model.unet.validateTaps(Set(tapList))
        guard !timesteps.isEmpty, timesteps.allSatisfy({ $0 >= 0 && $0 < model.numTrainTimesteps }) else {
            throw EvaluationError("sweep timesteps \(timesteps) must be non-empty and inside 0..<\(model.numTrainTimesteps)")
        }
        try FileManager.default.createDirectory(at: output, withIntermediateDirectories: true)
        log("evaluation set: \(count) \(split.rawValue) samples")
        let world = model.world(seed: base.worldSeed, side: base.imageSize)
        let set = try EvaluationSet.make(model: model, world: world, split: split, count: count, seed: evaluationSeed,
                                         batchSize: evaluationBatchSize)
        var rows: [[SplitEvaluation]] = []
        for tap in tapList {
            var cfg = base
            cfg.featureTaps = [tap]
            let runDir = output.appendingPathComponent("tap-\(tap)")
            let adapterDir = runDir.appendingPathComponent(DiscriminativeAdapter.componentName)
            let adapter: DiscriminativeAdapter
            if FileManager.default.fileExists(atPath: adapterDir.appendingPathComponent("config.json").path) {
                adapter = try DiscriminativeAdapter.load(from: ComponentFolder(adapterDir))
                log("tap \(tap): trained adapter found in \(adapterDir.path)")
            } else {
                log("tap \(tap): training \(cfg.steps) steps")
                let trainer = try ProbeTrainer(config: cfg, model: model, runDirectory: runDir, resume: true)
                trainer.output = { log("  [\(tap)] " + $0) }
                try trainer.run()
                adapter = trainer.adapter
            }
            let dm = try DiscriminativeModel(denoiser: model.unet, adapter: adapter)
            var row: [SplitEvaluation] = []
            for t in timesteps {
                let e = try DiscriminativeEvaluator.evaluate(model: dm, set: set, timestep: t, schedule: model.schedule)
                log(String(format: "tap %@ t %d: ITM text %.1f%%  image %.1f%%  REC %.1f%%", tap, t, 100 * e.overall.text.value,
                           100 * e.overall.image.value, 100 * e.overall.rec.value))
                row.append(e)
            }
            rows.append(row)
        }
        let result = Result(taps: tapList, timesteps: timesteps, evaluations: rows, randomUNetSeed: model.randomUNetSeed)
        try AtomicFile.write(Data((result.json.serialized() + "\n").utf8), to: output.appendingPathComponent("sweep.json"))
        let unet = model.randomUNetSeed.map { "random U-Net (seed \($0))" } ?? "trained U-Net"
        let header = "# Probing sweep: \(model.folder.lastPathComponent), \(unet)\n\n\(count) \(split.rawValue) samples, adapter \(base.preset) with the \(base.recHead) REC head\(base.heatmapText ? " reading the expression (heatmap_text)" : ""), \(base.steps) steps x batch \(base.batchSize) per tap.\n\n"
        try AtomicFile.write(Data((header + result.markdown).utf8), to: output.appendingPathComponent("sweep.md"))
        let notes = ["\(model.folder.lastPathComponent.uppercased()), \(unet.uppercased()), \(count) \(split.rawValue.uppercased()) SAMPLES",
                     "ROWS: U-NET TAP, COLUMNS: TIMESTEP T. ADAPTER: \(base.recHead.uppercased()) REC HEAD, \(base.steps) STEPS X BATCH \(base.batchSize) PER TAP",
                     String(format: "CHANCE: ITM 50%%. REC: UNIFORM REFERENT PICK %.0f%% (A PERFECT DETECTOR IGNORING THE EXPRESSION)", 100 * (rows.first?.first?.recUniformReferentPick ?? .nan))]
        try result.figure(title: "WHERE IS THE DISCRIMINATIVE SIGNAL? (PROBE ACCURACY)", notes: notes)
            .write(to: output.appendingPathComponent("heatmap.png"))
        return result
    }
}

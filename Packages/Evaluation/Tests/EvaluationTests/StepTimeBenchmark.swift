import AdapterTraining
import Evaluation
import Foundation
import TinyModels
import XCTest

/// Step time of the bundled model's architecture (random weights): run with ADAPTER_BENCH=1 to size the default
/// run. Prints wall and process CPU seconds per step (CPU / cores = wall on an otherwise idle machine) per tap.
final class StepTimeBenchmark: XCTestCase {
    func testStepTimeOfTheBundledArchitecture() throws {
        guard ProcessInfo.processInfo.environment["ADAPTER_BENCH"] == "1" else { throw XCTSkip("set ADAPTER_BENCH=1 to time steps") }
        let folder = try TinyModel.temporaryFolder(self, "bundled")
        try TinyModel.write(to: folder, spec: .bundled)
        let model = try ProbeModel(folder: folder)
        let taps = (ProcessInfo.processInfo.environment["ADAPTER_BENCH_TAPS"] ?? "up1,up0").split(separator: ",").map(String.init)
        let batch = Int(ProcessInfo.processInfo.environment["ADAPTER_BENCH_BATCH"] ?? "4")!
        for tap in taps {
            var c = ProbeConfig()
            c.batchSize = batch
            c.featureTaps = [tap]
            let trainer = try ProbeTrainer(config: c, model: model, runDirectory: try TinyModel.temporaryFolder(self, tap), resume: false)
            try trainer.trainStep()   // warm-up
            let start = Date(), cpu0 = TinyModel.cpuSeconds()
            let n = 2
            for _ in 0..<n { try trainer.trainStep() }
            let wall = Date().timeIntervalSince(start) / Double(n), cpu = (TinyModel.cpuSeconds() - cpu0) / Double(n)
            let set = try EvaluationSet.make(model: model, world: model.world(seed: 0), split: .testID, count: 16, batchSize: 16)
            let e0 = Date(), c0 = TinyModel.cpuSeconds()
            _ = try DiscriminativeEvaluator.evaluate(model: trainer.discriminative, set: set, timestep: 500, schedule: model.schedule)
            print(String(format: "bundled architecture, tap %@, batch %d: %.2f s/step wall, %.2f CPU-s/step; evaluation %.3f s/sample wall, %.3f CPU-s/sample",
                         tap, batch, wall, cpu, Date().timeIntervalSince(e0) / 16, (TinyModel.cpuSeconds() - c0) / 16))
        }
    }
}

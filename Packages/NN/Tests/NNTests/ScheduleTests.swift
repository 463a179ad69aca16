import NN
import XCTest

/// Learning rates against torch.optim.lr_scheduler.CosineAnnealingLR and diffusers' schedules (schedules.json).
final class ScheduleTests: XCTestCase {
    func testSchedulesMatchPyTorchAndDiffusers() throws {
        let fx = try Fixtures.json("schedules.json")
        let base = fx["base_lr"] as! Double
        func check(_ key: String, _ schedule: (([String: Any]) -> LRSchedule)) {
            let entry = fx[key] as! [String: Any]
            let expected = entry["lr"] as! [Double]
            let s = schedule(entry)
            for (step, want) in expected.enumerated() {
                XCTAssertEqual(s.learningRate(baseLR: base, step: step), want, accuracy: 1e-12 + 1e-9 * abs(want), "\(key) step \(step)")
            }
        }
        check("cosine_annealing") { .cosineAnnealing(tMax: $0["tMax"] as! Int, minLR: $0["minLR"] as! Double) }
        check("constant_with_warmup") { .constantWithWarmup(warmupSteps: $0["warmupSteps"] as! Int) }
        check("linear_with_warmup") { .linearWithWarmup(warmupSteps: $0["warmupSteps"] as! Int, totalSteps: $0["totalSteps"] as! Int) }
        check("cosine_with_warmup") {
            .cosineWithWarmup(warmupSteps: $0["warmupSteps"] as! Int, totalSteps: $0["totalSteps"] as! Int, cycles: $0["cycles"] as! Double)
        }
        check("cosine_with_warmup_cycles") {
            .cosineWithWarmup(warmupSteps: $0["warmupSteps"] as! Int, totalSteps: $0["totalSteps"] as! Int, cycles: $0["cycles"] as! Double)
        }
        XCTAssertEqual(LRSchedule.constant.learningRate(baseLR: 0.3, step: 1000), 0.3)
    }
}

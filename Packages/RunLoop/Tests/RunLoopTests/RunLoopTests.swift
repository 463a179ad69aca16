import DataIO
import Foundation
import RunLoop
import XCTest

final class RunLoopTests: XCTestCase {
    /// Which steps log, checkpoint and run periodic work, and what the log sees.
    func testScheduleOfLogsCheckpointsAndPeriodicWork() throws {
        var step = 0
        var logged: [(step: Int, window: [Int])] = [], checkpoints: [Int] = [], samples: [Int] = []
        let loop = RunLoop<Int>(target: 7, totalSteps: 10, logEvery: 3, checkpointEvery: 4,
                                periodic: [.init(every: 5) { samples.append(step) }])
        try loop.run(step: { step }, trainStep: { step += 1; return step * 10 }, log: { window, sps, eta in
            XCTAssertGreaterThanOrEqual(sps, 0)
            XCTAssertGreaterThanOrEqual(eta, 0)
            logged.append((step, window))
        }, checkpoint: { checkpoints.append(step) })
        XCTAssertEqual(logged.map(\.step), [3, 6, 7])
        XCTAssertEqual(logged.map(\.window), [[10, 20, 30], [40, 50, 60], [70]])
        XCTAssertEqual(checkpoints, [4, 7], "every 4 and at the stop")
        XCTAssertEqual(samples, [5])

        // Resumed at 7 to the end: checkpoints at 8 and at the schedule's end, periodic work at 10.
        checkpoints = []; samples = []; logged = []
        try RunLoop<Int>(target: 10, totalSteps: 10, logEvery: 3, checkpointEvery: 4, checkpointAtTarget: false,
                         periodic: [.init(every: 5) { samples.append(step) }])
            .run(step: { step }, trainStep: { step += 1; return step }, log: { w, _, _ in logged.append((step, w)) },
                 checkpoint: { checkpoints.append(step) })
        XCTAssertEqual(checkpoints, [8, 10])
        XCTAssertEqual(samples, [10])
        XCTAssertEqual(logged.map(\.step), [9, 10])

        // Stopped early without checkpointAtTarget: no checkpoint at the stop.
        step = 0; checkpoints = []
        try RunLoop<Int>(target: 3, totalSteps: 10, logEvery: 1, checkpointEvery: 4, checkpointAtTarget: false)
            .run(step: { step }, trainStep: { step += 1; return step }, log: { _, _, _ in }, checkpoint: { checkpoints.append(step) })
        XCTAssertEqual(checkpoints, [])
    }

    func testTrimDropsRecordsPastTheStepAndPlotWaitsForTwoPoints() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("runloop-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("metrics.jsonl")
        try RunMetrics.trim(at: url, after: 3)                        // missing: stays missing
        XCTAssertFalse(FileManager.default.fileExists(atPath: url.path))
        let w = try MetricsLogWriter(url: url)
        for s in 1...5 { try w.log(step: s, ["loss": 1 / Double(s)]) }
        w.close()
        try RunMetrics.trim(at: url, after: 3)
        XCTAssertEqual(try MetricsLog.read(url).compactMap { $0["step"]?.intValue }, [1, 2, 3])
        let png = dir.appendingPathComponent("loss.png")
        try RunMetrics.plot(metrics: url, keys: ["loss", "absent"], title: "t", to: png)
        XCTAssertFalse(FileManager.default.fileExists(atPath: png.path), "a key with fewer than two points draws nothing")
        try RunMetrics.plot(metrics: url, keys: ["loss"], title: "t", to: png)
        XCTAssertTrue(FileManager.default.fileExists(atPath: png.path))
    }
}

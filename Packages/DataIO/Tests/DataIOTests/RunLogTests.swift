import DataIO
import Foundation
import Tensor
import XCTest

final class RunLogTests: XCTestCase {
    func testMetricsAreReadableLineByLineWhileWriting() throws {
        let dir = try makeTemporaryFolder(self)
        let url = dir.appendingPathComponent("metrics.jsonl")
        let w = try MetricsLogWriter(url: url)
        for step in 0..<25 {
            try w.log(step: step, ["loss": 1 / Double(step + 1), "lr": 1e-4], extra: ["phase": "train"])
            // Another reader sees every line written so far, without the writer closing or flushing.
            XCTAssertEqual(try MetricsLog.read(url).count, step + 1)
        }
        try w.log(step: 25, ["loss": .nan, "acc": .infinity])
        w.close()
        let records = try MetricsLog.read(url)
        XCTAssertEqual(records.count, 26)
        XCTAssertEqual(records[3]["step"], 3)
        XCTAssertEqual(records[3]["loss"]?.doubleValue, 0.25)
        XCTAssertEqual(records[3]["phase"], "train")
        XCTAssertTrue(records[25]["loss"]!.doubleValue!.isNaN)
        XCTAssertEqual(records[25]["acc"]?.doubleValue, .infinity)
        let s = MetricsLog.series(records, key: "loss")
        XCTAssertEqual(s.x.count, 26)
        XCTAssertEqual(Array(s.y.prefix(4)), [1, 0.5, 1.0 / 3, 0.25])
        // Appending reopens; a line being written (no newline yet) is skipped; a broken complete line is an error.
        let w2 = try MetricsLogWriter(url: url)
        try w2.log(["step": 26, "loss": 0.1])
        w2.close()
        let h = try FileHandle(forWritingTo: url)
        h.seekToEndOfFile()
        h.write(Data(#"{"step": 27, "lo"#.utf8))
        try h.close()
        XCTAssertEqual(try MetricsLog.read(url).count, 27)
        let bad = dir.appendingPathComponent("bad.jsonl")
        try Data("{\"a\":1}\n{oops}\n{\"b\":2}\n".utf8).write(to: bad)
        assertDataIOError(.invalidJSON, file: "bad.jsonl", item: "line 2") { try MetricsLog.read(bad) }
        // Lines are compact JSON that Python's json module reads (NaN as NaN).
        let text = try String(contentsOf: url, encoding: .utf8)
        XCTAssertTrue(text.hasPrefix("{\"loss\":1.0,\"lr\":0.0001,\"phase\":\"train\",\"step\":0}\n"), text)
    }

    func testCheckpointsSaveAtomicallyAndResumeFromLatestComplete() throws {
        let dir = try makeTemporaryFolder(self)
        XCTAssertNil(Checkpoint.latest(in: dir))
        let config: JSONValue = ["lr": 1e-4, "model": "tiny", "layers": [1, 2]]
        for step in [100, 200, 300] {
            let t = Tensor(shape: [2, 2], scalars: [Float(step), 1, 2, 3])
            var w = SafetensorsWriter()
            try w.add("w", t)
            try w.add("rng_state", integers: [step, 7], shape: [2], as: .I64)
            try Checkpoint.save(w, info: CheckpointInfo(step: step, seed: 42, config: config, extra: ["note": "x"]), in: dir)
        }
        // A crash mid-save leaves a temporary file; a foreign, non-atomic writer may leave a truncated file.
        try Data(repeating: 1, count: 100).write(to: dir.appendingPathComponent(AtomicFile.temporaryPrefix + "checkpoint-00000400.safetensors.a1B2c3"))
        let full = try Data(contentsOf: dir.appendingPathComponent(Checkpoint.fileName(step: 300)))
        try full.prefix(full.count - 5).write(to: dir.appendingPathComponent(Checkpoint.fileName(step: 500)))
        // A checkpoint without metadata (e.g. copied from elsewhere) is not a resumable checkpoint.
        try SafetensorsFile.write(["w": Tensor([1])], to: dir.appendingPathComponent(Checkpoint.fileName(step: 600)))

        XCTAssertEqual(Checkpoint.list(in: dir).map(\.step), [100, 200, 300, 500, 600])
        let latest = try XCTUnwrap(Checkpoint.latest(in: dir))
        XCTAssertEqual(latest.info.step, 300)
        XCTAssertEqual(latest.url.lastPathComponent, "checkpoint-00000300.safetensors")
        let (file, info) = try Checkpoint.load(latest.url)
        XCTAssertEqual(info, CheckpointInfo(step: 300, seed: 42, config: config, extra: ["note": "x", "format": "pt"]))
        XCTAssertEqual(try file.tensor("w").scalars, [300, 1, 2, 3])
        XCTAssertEqual(try file.integers("rng_state"), [300, 7])
        assertDataIOError(.invalidHeader, file: "checkpoint-00000600", item: "dpt.format_version") {
            try Checkpoint.load(dir.appendingPathComponent(Checkpoint.fileName(step: 600)))
        }
        assertDataIOError(.invalidOffsets, file: "checkpoint-00000500") {
            try Checkpoint.load(dir.appendingPathComponent(Checkpoint.fileName(step: 500)))
        }

        // keepLast prunes older checkpoints after a successful save.
        let pruned = try makeTemporaryFolder(self)
        for step in 1...5 { try Checkpoint.save(["w": Tensor([Float(step)])], info: CheckpointInfo(step: step, seed: 1, config: .null), in: pruned, keepLast: 2) }
        XCTAssertEqual(Checkpoint.list(in: pruned).map(\.step), [4, 5])
        XCTAssertFalse(try FileManager.default.contentsOfDirectory(atPath: pruned.path).contains { $0.hasPrefix(AtomicFile.temporaryPrefix) })
    }

    /// Saving over an existing checkpoint replaces it whole: readers holding the old file keep valid data.
    func testAtomicReplaceKeepsOpenReadersValid() throws {
        let dir = try makeTemporaryFolder(self)
        let url = dir.appendingPathComponent("m.safetensors")
        try SafetensorsFile.write(["w": Tensor([1, 2, 3])], to: url)
        let old = try SafetensorsFile(contentsOf: url)
        try SafetensorsFile.write(["w": Tensor([4, 5, 6, 7])], to: url)
        XCTAssertEqual(try old.tensor("w").scalars, [1, 2, 3])
        XCTAssertEqual(try SafetensorsFile(contentsOf: url).tensor("w").scalars, [4, 5, 6, 7])
        try AtomicFile.write(Data("hello".utf8), to: dir.appendingPathComponent("t.txt"))
        XCTAssertEqual(try String(contentsOf: dir.appendingPathComponent("t.txt"), encoding: .utf8), "hello")
        assertDataIOError(.io, file: "no-such-dir") { try AtomicFile.write(Data(), to: dir.appendingPathComponent("no-such-dir/x")) }
    }
}

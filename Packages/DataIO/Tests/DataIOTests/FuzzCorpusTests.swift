import DataIO
import Foundation
import XCTest

/// Replays the libFuzzer corpus (Packages/DataIO/Fuzz/corpus) through the parsers in the normal test run:
/// every input must give a value or a DataIOError, never a crash. Crashing inputs found by fuzzing go here too.
final class FuzzCorpusTests: XCTestCase {
    func corpus(_ kind: String) throws -> [URL] {
        let dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Fuzz/corpus/\(kind)")
        guard FileManager.default.fileExists(atPath: dir.path) else { throw XCTSkip("fuzz corpus not found at \(dir.path)") }
        return try FileManager.default.contentsOfDirectory(at: dir, includingPropertiesForKeys: nil)
    }

    func testSafetensorsCorpusNeverCrashes() throws {
        let files = try corpus("safetensors")
        XCTAssertGreaterThan(files.count, 3)
        var accepted = 0
        for url in files {
            do {
                let f = try SafetensorsFile(contentsOf: url)
                accepted += 1
                for n in f.tensorNames { _ = try? f.tensor(n); _ = try? f.integers(n) }
            } catch is DataIOError {}
        }
        XCTAssertGreaterThan(accepted, 0)
    }

    func testPNGCorpusNeverCrashes() throws {
        for url in try corpus("png") {
            do { _ = try PNG.read(url).tensor() } catch is DataIOError {}
        }
    }
}

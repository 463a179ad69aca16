import Foundation
import Pipeline
import XCTest

/// `SampleJob` refuses guidance scales and step counts the pipeline would misread: NaN fails the pipeline's
/// `guidance > 1` test and would sample silently without guidance.
final class SampleJobRangeTests: XCTestCase {
    func testRejectsNonFiniteOrNegativeGuidanceAndZeroSteps() throws {
        let pipe = Fixture.pipeline
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sample-range-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        for g: Float in [.nan, .infinity, -.infinity, -1] {
            var job = SampleJob(prompts: ["a red circle"], output: dir)
            job.guidanceScale = g
            XCTAssertThrowsError(try job.run(on: pipe)) { XCTAssertTrue("\($0)".contains("guidance"), "\(g): \($0)") }
        }
        var job = SampleJob(prompts: ["a red circle"], output: dir)
        job.steps = 0
        XCTAssertThrowsError(try job.run(on: pipe)) { XCTAssertTrue("\($0)".contains("steps"), "\($0)") }
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.path), "the checks come before the output folder is made")
    }
}

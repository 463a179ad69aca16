import DataIO
import Diffusion
import Foundation
import Pipeline
import Tensor
import XCTest

/// The `sample` tool's work (`SampleJob`) on the tiny diffusers folder.
final class SampleJobTests: XCTestCase {
    func temporaryFolder() -> URL {
        FileManager.default.temporaryDirectory.appendingPathComponent("sample-test-\(UUID().uuidString)")
    }

    func testWritesOnePNGPerImageAndAGridIndependentOfBatch() throws {
        let pipe = Fixture.pipeline
        try pipe.useScheduler("ddim")
        var outputs: [[RasterImage]] = []
        for batch in [3, 1] {
            let dir = temporaryFolder()
            defer { try? FileManager.default.removeItem(at: dir) }
            var job = SampleJob(prompts: ["a red circle", "two green triangles!"], output: dir)
            job.imagesPerPrompt = 3
            job.batch = batch
            job.steps = 3
            job.seed = 5
            job.height = 16
            job.width = 24
            job.negativePrompt = "blurry"
            var lines: [String] = []
            let report = try job.run(on: pipe, progress: ProgressBar(label: "t", write: { lines.append($0) }))
            XCTAssertEqual(report.images.map(\.lastPathComponent),
                           ["000-a-red-circle-s5.png", "000-a-red-circle-s6.png", "000-a-red-circle-s7.png",
                            "001-two-green-triangles-s5.png", "001-two-green-triangles-s6.png", "001-two-green-triangles-s7.png"])
            let images = try report.images.map { try PNG.read($0) }
            XCTAssertTrue(images.allSatisfy { $0.width == 24 && $0.height == 16 })
            let grid = try PNG.read(report.grid)
            XCTAssertEqual(grid.width, 3 * 24 + 4 * 2)   // 3 columns, 2 px margins
            XCTAssertEqual(grid.height, 2 * 16 + 3 * 2)
            XCTAssertTrue(lines.last?.contains("6/6") ?? false, "\(lines)")
            outputs.append(images)
        }
        // Image j of a prompt starts from seed + j whatever the batch: batch 3 and batch 1 give the same pixels
        // up to rounding of float differences between batched and single GEMMs.
        for (a, b) in zip(outputs[0], outputs[1]) {
            let diff = zip(a.pixels, b.pixels).map { abs(Int($0) - Int($1)) }.max()!
            XCTAssertLessThanOrEqual(diff, 1)
        }
        XCTAssertNotEqual(outputs[0][0].pixels, outputs[0][1].pixels)
    }

    func testPromptFileAndSlugs() throws {
        let url = temporaryFolder().appendingPathExtension("txt")
        defer { try? FileManager.default.removeItem(at: url) }
        try "# suite\na red circle\n\n  two squares  \n".write(to: url, atomically: true, encoding: .utf8)
        XCTAssertEqual(try SampleJob.readPrompts(url), ["a red circle", "two squares"])
        try "# nothing\n\n".write(to: url, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try SampleJob.readPrompts(url)) { XCTAssertTrue("\($0)".contains("holds no prompt"), "\($0)") }
        XCTAssertEqual(ImageOutput.slug("A Red circle, left of: the BLUE square!"), "a-red-circle-left-of-the-blue-square")
        XCTAssertEqual(ImageOutput.slug("!!!"), "prompt")
        XCTAssertEqual(ProgressBar.render(label: "s", done: 5, total: 10, rate: 2, eta: 65, width: 10),
                       "s [#####-----] 5/10 2.00 it/s ETA 1:05")
    }

    /// `guidanceRescale` reaches the pipeline (the images change) and is range-checked by name.
    func testGuidanceRescaleChangesTheImagesAndIsChecked() throws {
        let pipe = Fixture.pipeline
        try pipe.useScheduler("ddim")
        func run(_ rescale: Float) throws -> RasterImage {
            let dir = temporaryFolder()
            defer { try? FileManager.default.removeItem(at: dir) }
            var job = SampleJob(prompts: ["a red circle"], output: dir)
            job.imagesPerPrompt = 1
            job.steps = 2
            job.guidanceScale = 5
            job.guidanceRescale = rescale
            job.height = 16
            job.width = 16
            return try PNG.read(try job.run(on: pipe).images[0])
        }
        XCTAssertNotEqual(try run(0).pixels, try run(0.7).pixels)
        XCTAssertThrowsError(try run(1.5)) { XCTAssertTrue("\($0)".contains("guidance rescale must be in 0...1"), "\($0)") }
    }
}

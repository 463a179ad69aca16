import DataIO
import Diffusion
import Foundation
import Pipeline
import Tensor
import XCTest

/// The tiny diffusers pipeline fixture (Tools/reference/fixtures/pipeline_tiny_sd.py) and its reference runs.
enum Fixture {
    static var folder: URL { Bundle.module.url(forResource: "Fixtures", withExtension: nil)!.appendingPathComponent("tiny-sd") }
    static var fixtures: URL { Bundle.module.url(forResource: "Fixtures", withExtension: nil)! }

    static let reference: SafetensorsFile = try! SafetensorsFile(contentsOf: fixtures.appendingPathComponent("pipeline_reference.safetensors"))

    struct Case: Decodable {
        let name: String
        let prompts: [String]
        let negative_prompt: String?
        let num_images_per_prompt: Int
        let seed: UInt64
        let steps: Int
        let guidance: Float
        let scheduler: String
        let height: Int?
        let width: Int?
    }

    static let cases: [Case] = try! JSONDecoder().decode([Case].self, from: Data(contentsOf: fixtures.appendingPathComponent("pipeline_cases.json")))

    /// One loaded pipeline shared by the tests (loading is the slow part).
    static let pipeline: StableDiffusionPipeline = try! StableDiffusionPipeline(folder: folder)

    /// A writable copy of the fixture folder.
    static func copy() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pipeline-test-\(UUID().uuidString)")
        try FileManager.default.copyItem(at: folder, to: dir)
        return dir
    }
}

/// Peak signal-to-noise ratio in dB of two equally shaped tensors of values in [0, 1].
func psnr(_ a: Tensor, _ b: Tensor) -> Double {
    precondition(a.shape == b.shape, "psnr: shapes \(a.shape) and \(b.shape) differ")
    let x = a.scalars, y = b.scalars
    var se = 0.0
    for i in 0..<x.count { let d = Double(x[i]) - Double(y[i]); se += d * d }
    let mse = se / Double(x.count)
    return mse == 0 ? .infinity : 10 * log10(1 / mse)
}

func maxAbsDiff(_ a: Tensor, _ b: Tensor) -> Float {
    precondition(a.shape == b.shape, "maxAbsDiff: shapes \(a.shape) and \(b.shape) differ")
    let x = a.scalars, y = b.scalars
    var m: Float = 0
    for i in 0..<x.count { m = max(m, abs(x[i] - y[i])) }
    return m
}

/// diffusers' `output_type="np"` from our CHW [-1, 1] images: NHWC in [0, 1].
func numpyImages(_ images: Tensor) -> Tensor {
    (images / 2 + 0.5).clamped(min: 0, max: 1).permuted([0, 2, 3, 1]).contiguous()
}

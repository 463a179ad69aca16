import DataIO
import Foundation
import Tensor
import TextEncoder
import XCTest

/// Fixtures written by Tools/reference/fixtures/textencoder_clip.py (transformers 5.24.0).
enum Fixtures {
    static func url(_ name: String) throws -> URL {
        guard let base = Bundle.module.resourceURL else { throw TextEncoderError.invalidInput("no resource bundle") }
        return base.appendingPathComponent("Fixtures").appendingPathComponent(name)
    }

    static func io() throws -> SafetensorsFile { try SafetensorsFile(contentsOf: url("io.safetensors")) }

    static func model(_ name: String) throws -> CLIPTextModel { try CLIPTextModel(folder: url(name)) }

    /// The `<case>.input_ids` (and `<case>.attention_mask` where stored) as a model input.
    static func input(_ file: SafetensorsFile, _ name: String) throws -> CLIPTextInput {
        let info = try file.info("\(name).input_ids")
        let (b, l) = (info.shape[0], info.shape[1])
        let ids = try file.integers("\(name).input_ids")
        let rows = (0..<b).map { Array(ids[($0 * l)..<(($0 + 1) * l)]) }
        var mask: [[Int]]? = nil
        if file.contains("\(name).attention_mask") {
            let m = try file.integers("\(name).attention_mask")
            mask = (0..<b).map { Array(m[($0 * l)..<(($0 + 1) * l)]) }
        }
        return try CLIPTextInput(ids: rows, attentionMask: mask)
    }
}

/// Largest |a - b| (shapes must match).
func maxAbsDiff(_ a: Tensor, _ b: Tensor, file: StaticString = #filePath, line: UInt = #line) -> Float {
    XCTAssertEqual(a.shape, b.shape, "shapes differ", file: file, line: line)
    guard a.shape == b.shape else { return .infinity }
    let x = a.scalars, y = b.scalars
    var m: Float = 0
    for i in 0..<x.count { m = max(m, abs(x[i] - y[i])) }
    return m
}

func assertClose(_ a: Tensor, _ b: Tensor, _ tol: Float, _ what: String, file: StaticString = #filePath, line: UInt = #line) {
    let d = maxAbsDiff(a, b, file: file, line: line)
    XCTAssertLessThanOrEqual(d, tol, "\(what): max |diff| \(d) > \(tol)", file: file, line: line)
}

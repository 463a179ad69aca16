import DataIO
import Foundation
import Tensor
import XCTest

final class SafetensorsWriteTests: XCTestCase {
    /// The content of Fixtures/safetensors/swift_written.safetensors; the Python script's `swift_expected()` mirrors it.
    static func swiftWrittenFile() throws -> SafetensorsWriter {
        var base = [Float]()
        for i in 0..<24 { base.append(Float(i) * Float(0.37) - 4) }
        var w = SafetensorsWriter(metadata: ["format": "pt", "dpt.step": "12", "note": "written by Swift"])
        try w.add("weight_f32", Tensor(shape: [2, 3, 4], scalars: base))
        try w.add("weight_f16", Tensor(shape: [4, 6], scalars: base), as: .F16)
        try w.add("weight_bf16", Tensor(base), as: .BF16)
        try w.add("scalar", Tensor(scalar: 2.5))
        try w.add("empty", Tensor(shape: [0, 4], scalars: []))
        try w.add("ids", integers: [0, 49406, -3], shape: [1, 3], as: .I64)
        try w.add("mask", integers: [1, 0, 1], shape: [3], as: .BOOL)
        try w.add("bytes", integers: [0, 7, 255], shape: [3], as: .U8)
        return w
    }

    /// Swift still writes the committed file byte for byte; the Python script verifies that file
    /// (`dataio_safetensors.py --verify`). Set DATAIO_FIXTURE_OUT to a folder to write a fresh copy there.
    func testSwiftWrittenFileIsCommitted() throws {
        let data = try Self.swiftWrittenFile().encoded()
        if let out = ProcessInfo.processInfo.environment["DATAIO_FIXTURE_OUT"] {
            try data.write(to: URL(fileURLWithPath: out).appendingPathComponent("swift_written.safetensors"))
        }
        let committed = try Data(contentsOf: fixtureURL("safetensors/swift_written.safetensors"))
        XCTAssertEqual(data, committed)
        // And it reads back here as written.
        let f = try SafetensorsFile(data: data, name: "swift_written")
        XCTAssertEqual(f.metadata["dpt.step"], "12")
        XCTAssertEqual(try f.info("weight_f16").dtype, .F16)
        XCTAssertEqual(try f.integers("ids"), [0, 49406, -3])
        XCTAssertEqual(try f.bools("mask"), [true, false, true])
        XCTAssertEqual(try f.tensor("weight_f32").shape, [2, 3, 4])
        XCTAssertEqual(try f.tensor("scalar").item(), 2.5)
    }

    func testRoundTripThroughFileWithEveryFloatStorage() throws {
        let dir = try makeTemporaryFolder(self)
        let url = dir.appendingPathComponent("rt.safetensors")
        var g = SystemRandomNumberGenerator()
        let x = Tensor(shape: [3, 5, 7], scalars: (0..<105).map { _ in Float.random(in: -3...3, using: &g) })
        var w = SafetensorsWriter(metadata: ["a": "1", "b": "é"])
        try w.add("x32", x)
        try w.add("x16", x, as: .F16)
        try w.add("xb16", x, as: .BF16)
        try w.add("x64", x, as: .F64)
        try w.add("t", x.transposed(0, 2))  // a strided view is written in row-major order of its shape
        try w.write(to: url)
        let f = try SafetensorsFile(contentsOf: url)
        XCTAssertEqual(f.metadata, ["a": "1", "b": "é"])
        XCTAssertEqual(try f.tensor("x32").scalars, x.scalars)
        XCTAssertEqual(try f.tensor("x64").scalars, x.scalars)
        XCTAssertEqual(try f.tensor("x16").scalars, x.scalars.map { HalfPrecision.halfToFloat(HalfPrecision.floatToHalf($0)) })
        XCTAssertEqual(try f.tensor("xb16").scalars, x.scalars.map { HalfPrecision.bfloat16ToFloat(HalfPrecision.floatToBFloat16($0)) })
        XCTAssertEqual(try f.tensor("t").shape, [7, 5, 3])
        XCTAssertEqual(try f.tensor("t").scalars, x.transposed(0, 2).scalars)
        // No temporary file is left behind.
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), ["rt.safetensors"])
        // The static convenience.
        try SafetensorsFile.write(["w": x], metadata: ["m": "n"], as: .F16, to: url)
        XCTAssertEqual(try SafetensorsFile(contentsOf: url).info("w").dtype, .F16)
    }

    func testZeroCopyF32TensorsAreCopyOnWrite() throws {
        let dir = try makeTemporaryFolder(self)
        let url = dir.appendingPathComponent("z.safetensors")
        try SafetensorsFile.write(["w": Tensor([1, 2, 3, 4])], to: url)
        let f = try SafetensorsFile(contentsOf: url)
        let a = try f.tensor("w")
        var b = try f.tensor("w")
        XCTAssertTrue(a.storage === b.storage, "an aligned F32 tensor borrows the mapping")
        b[1] = 20
        XCTAssertEqual(a.scalars, [1, 2, 3, 4])
        XCTAssertEqual(b.scalars, [1, 20, 3, 4])
        XCTAssertEqual(try f.tensor("w").scalars, [1, 2, 3, 4])
        XCTAssertEqual(try SafetensorsFile(contentsOf: url).tensor("w").scalars, [1, 2, 3, 4])
    }

    func testWriterRejectsBadInput() throws {
        var w = SafetensorsWriter()
        try w.add("a", Tensor([1]))
        assertDataIOError(.invalidArgument, file: "<writer>", item: "a") { try w.add("a", Tensor([2])) }
        assertDataIOError(.invalidArgument, file: "<writer>", item: "__metadata__") { try w.add("__metadata__", Tensor([2])) }
        assertDataIOError(.invalidArgument, file: "<writer>", item: "b") { try w.add("b", Tensor([2]), as: .I32) }
        assertDataIOError(.invalidArgument, file: "<writer>", item: "c") { try w.add("c", integers: [300], shape: [1], as: .U8) }
        assertDataIOError(.invalidArgument, file: "<writer>", item: "d") { try w.add("d", integers: [1, 2], shape: [3], as: .I32) }
    }
}

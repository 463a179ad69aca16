import DataIO
import Foundation
import Tensor
import XCTest

/// Reading files written by Python's `safetensors` (Tools/reference/fixtures/dataio_safetensors.py).
final class SafetensorsReadTests: XCTestCase {
    func testReadsEveryDTypeWrittenByPython() throws {
        let file = try SafetensorsFile(contentsOf: fixtureURL("safetensors/python_all_dtypes.safetensors"))
        let expected = try JSONValue.parse(Data(contentsOf: fixtureURL("safetensors/python_all_dtypes.json")))
        XCTAssertEqual(file.metadata, expected["metadata"]!.objectValue!.mapValues { $0.stringValue! })
        let tensors = expected["tensors"]!.objectValue!
        XCTAssertEqual(Set(file.tensorNames), Set(tensors.keys))
        let dtypeNames = ["float32": "F32", "float16": "F16", "bfloat16": "BF16", "float64": "F64", "int64": "I64",
                          "int32": "I32", "int16": "I16", "int8": "I8", "uint8": "U8", "bool": "BOOL"]
        for (name, e) in tensors {
            let info = try file.info(name)
            XCTAssertEqual(info.dtype.rawValue, dtypeNames[e["dtype"]!.stringValue!], name)
            let shape = e["shape"]!.arrayValue!.map { $0.intValue! }
            XCTAssertEqual(info.shape, shape, name)
            if let floats = e["float32"]?.arrayValue {
                let t = try file.tensor(name)
                XCTAssertEqual(t.shape, shape, name)
                let got = t.scalars
                XCTAssertEqual(got.count, floats.count, name)
                for (g, w) in zip(got, floats) {
                    XCTAssertTrue(sameFloat(g, Float(w.doubleValue!)), "\(name): \(g) vs \(w)")
                }
            }
            if let f64 = e["float64"]?.arrayValue {
                XCTAssertEqual(try file.doubles(name), f64.map { $0.doubleValue! }, name)
            }
            if let ints = e["ints"]?.arrayValue {
                XCTAssertEqual(try file.integers(name), ints.map { $0.intValue! }, name)
            }
        }
        // Typed access and exact conversion of small integers to Float32.
        XCTAssertEqual(try file.int64s("i64"), [-(1 << 62) - 5, 0, (1 << 40) + 7])
        XCTAssertEqual(try file.int32s("i32"), [Int32.min, Int32.max, 7, -7])
        XCTAssertEqual(try file.int16s("i16"), [-32768, 32767, 12])
        XCTAssertEqual(try file.int8s("i8"), [-128, 127, 0, -1])
        XCTAssertEqual(try file.uint8s("u8"), [0, 255, 128])
        XCTAssertEqual(try file.bools("bool"), [true, false, true, true])
        XCTAssertEqual(try file.tensor("u8").scalars, [0, 255, 128])
        XCTAssertEqual(try file.tensor("i16").scalars, [-32768, 32767, 12])
        XCTAssertEqual(try file.tensor("scalar").shape, [])
        XCTAssertEqual(try file.tensor("scalar").item(), 3.75)
        XCTAssertEqual(try file.tensor("empty").shape, [0, 3])
        XCTAssertEqual(try file.tensor("empty_f16").shape, [2, 0])
        // Integers that Float32 cannot hold round to nearest, as torch's `.float()` rounds them.
        XCTAssertEqual(try file.tensor("i64").scalars, [-0x1p62, 0, 0x1p40])
        assertDataIOError(.wrongDType, file: "python_all_dtypes", item: "f32") { try file.integers("f32") }
        assertDataIOError(.wrongDType, file: "python_all_dtypes", item: "i32") { try file.int64s("i32") }
        assertDataIOError(.notFound, file: "python_all_dtypes", item: "missing") { try file.tensor("missing") }
    }

    func testRoundingToHalfAndBFloat16MatchesNumPyAndTorch() throws {
        let file = try SafetensorsFile(contentsOf: fixtureURL("safetensors/python_rounding.safetensors"))
        let input = try file.tensor("input_f32").scalars
        let f16Bits = try file.withRawBytes("expected_f16") { Array($0.bindMemory(to: UInt16.self)) }
        let bf16Bits = try file.int16s("expected_bf16_bits").map { UInt16(bitPattern: $0) }
        XCTAssertEqual(input.count, f16Bits.count)
        for (k, x) in input.enumerated() {
            let h = HalfPrecision.floatToHalf(x)
            if x.isNaN {
                XCTAssertTrue(HalfPrecision.halfToFloat(h).isNaN)
            } else {
                XCTAssertEqual(h, f16Bits[k], "float16 of \(x) (index \(k))")
            }
            XCTAssertEqual(HalfPrecision.floatToBFloat16(x), bf16Bits[k], "bfloat16 of \(x) (index \(k))")
        }
        // The file's F16 tensor decodes to the values NumPy rounded to.
        let decoded = try file.tensor("expected_f16").scalars
        for (k, h) in f16Bits.enumerated() {
            XCTAssertTrue(sameFloat(decoded[k], HalfPrecision.halfToFloat(h)))
        }
    }

    #if arch(x86_64) || arch(arm64)
    /// Every one of the 65536 half values against Swift's own `Float16` (compiler-rt / F16C), an independent reference.
    func testHalfConversionMatchesFloat16ForAllBitPatterns() {
        for bits in 0...UInt16.max {
            let mine = HalfPrecision.halfToFloat(bits)
            let ref = Float(Float16(bitPattern: bits))
            XCTAssertTrue(sameFloat(mine, ref) || (mine.isNaN && ref.isNaN), "half 0x\(String(bits, radix: 16))")
            if !mine.isNaN { XCTAssertEqual(HalfPrecision.floatToHalf(mine), bits, "round trip 0x\(String(bits, radix: 16))") }
        }
        var g = SystemRandomNumberGenerator()
        for _ in 0..<200_000 {
            let x = Float(bitPattern: UInt32.random(in: 0...UInt32.max, using: &g))
            let mine = HalfPrecision.floatToHalf(x)
            if x.isNaN { XCTAssertTrue(HalfPrecision.halfToFloat(mine).isNaN); continue }
            XCTAssertEqual(mine, Float16(x).bitPattern, "float16 of \(x) (0x\(String(x.bitPattern, radix: 16)))")
        }
    }
    #endif

    /// A header whose length is not a multiple of 8 leaves F32 data unaligned: it must be copied, not borrowed.
    func testUnalignedDataIsReadCorrectly() throws {
        let header = #"{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,12]},"h":{"dtype":"F16","shape":[2],"data_offsets":[12,16]}}"#
        var values: [Float] = [1.5, -2, 1e-3]
        var data = Data()
        var n = UInt64(header.utf8.count + 1).littleEndian
        data.append(Data(bytes: &n, count: 8))
        data.append(contentsOf: Array(header.utf8) + [0x20])
        data.append(Data(bytes: &values, count: 12))
        data.append(contentsOf: [0x00, 0x3C, 0x00, 0xC0])  // 1.0, -2.0 in half
        XCTAssertNotEqual((8 + header.utf8.count + 1) % 4, 0)
        let f = try SafetensorsFile(data: data, name: "unaligned")
        XCTAssertEqual(try f.tensor("a").scalars, values)
        XCTAssertEqual(try f.tensor("h").scalars, [1, -2])
    }

    func testLargeF16TensorConvertsInParallelChunks() throws {
        let n = 300_001
        var t = Tensor(uninitializedShape: [n])
        t.withMutableBuffer { b in for k in 0..<n { b[k] = Float(k % 4099) * 0.125 - 200 } }
        var w = SafetensorsWriter()
        try w.add("big", t, as: .F16)
        let f = try SafetensorsFile(data: try w.encoded(), name: "big")
        let got = try f.tensor("big").scalars
        let want = t.scalars
        var mismatches = 0
        for k in 0..<n where got[k] != HalfPrecision.halfToFloat(HalfPrecision.floatToHalf(want[k])) { mismatches += 1 }
        XCTAssertEqual(mismatches, 0)
    }
}

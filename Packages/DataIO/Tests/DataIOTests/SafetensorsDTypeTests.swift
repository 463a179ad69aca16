import DataIO
import Foundation
import Tensor
import XCTest

/// Every dtype of safetensors 0.8 against PyTorch: the fixture (Tools/reference/fixtures/dataio_safetensors.py) holds
/// each source tensor and torch's `.float()` of it as `<name>.float`.
final class SafetensorsDTypeTests: XCTestCase {
    let fixture = "safetensors/python_v08_dtypes"

    func testEveryDTypeConvertsAsTorchFloat() throws {
        let file = try SafetensorsFile(contentsOf: fixtureURL(fixture + ".safetensors"))
        let expected = try JSONValue.parse(Data(contentsOf: fixtureURL(fixture + ".json")))
        let dtypes = try XCTUnwrap(expected["dtypes"]?.objectValue)
        // The fixture covers every dtype torch can hold; the F6 formats (no torch dtype) are checked below.
        XCTAssertEqual(Set(dtypes.values.compactMap(\.stringValue)).union(["F6_E2M3", "F6_E3M2"]),
                       Set(SafetensorsDType.allCases.map(\.rawValue)))
        var compared = 0
        for (name, dtypeName) in dtypes {
            let info = try file.info(name)
            XCTAssertEqual(info.dtype.rawValue, dtypeName.stringValue, name)
            XCTAssertEqual(info.shape, expected["shapes"]?[name]?.arrayValue?.compactMap(\.intValue), name)
            guard file.contains(name + ".float") else { continue }   // C64: no Float32 form (refused, tested below)
            compared += 1
            let got = try file.tensor(name)
            let want = try file.tensor(name + ".float")
            XCTAssertEqual(got.shape, want.shape, name)
            var mismatches: [String] = []
            for (k, (g, w)) in zip(got.scalars, want.scalars).enumerated() {
                // The 8-bit formats match bit for bit, NaN payloads included; elsewhere any NaN matches any NaN.
                let same = name.hasPrefix("float8") ? g.bitPattern == w.bitPattern : sameFloat(g, w)
                if !same { mismatches.append("[\(k)] \(g) (0x\(String(g.bitPattern, radix: 16))) vs torch \(w) (0x\(String(w.bitPattern, radix: 16)))") }
            }
            XCTAssertEqual(mismatches, [], "\(name) (\(dtypeName))")
        }
        // Every tensor but the C64 one has torch's .float() beside it: a fixture without them must not pass silently.
        XCTAssertEqual(compared, dtypes.count - dtypes.values.filter { $0.stringValue == "C64" }.count, "tensors compared with torch")
        // Integers read exactly, in their own types too.
        let ints = try XCTUnwrap(expected["ints"]?.objectValue).mapValues { $0.arrayValue!.map { $0.stringValue! } }
        XCTAssertEqual(try file.uint64s("uint64").map { String($0) }, ints["uint64"])
        XCTAssertEqual(try file.uint32s("uint32").map { String($0) }, ints["uint32"])
        XCTAssertEqual(try file.uint16s("uint16").map { String($0) }, ints["uint16"])
        XCTAssertEqual(try file.int64s("int64").map { String($0) }, ints["int64"])
        for name in ["uint32", "uint16", "int64", "int32", "int16", "int8", "uint8", "bool"] {
            XCTAssertEqual(try file.integers(name).map { String($0) }, ints[name], name)
        }
        // U64 values above Int.max have no Int form: the error names the tensor and the value.
        assertDataIOError(.wrongDType, file: "python_v08_dtypes", item: "uint64") { try file.integers("uint64") }
        // Float widening to Double goes through the same conversion.
        XCTAssertEqual(try file.doubles("float8_e4m3fn").map(Float.init).map(\.bitPattern),
                       try file.tensor("float8_e4m3fn").scalars.map(\.bitPattern))
        // Complex values are readable as bytes only.
        assertDataIOError(.unsupportedDType, file: "python_v08_dtypes", item: "complex64") { try file.tensor("complex64") }
        assertDataIOError(.wrongDType, file: "python_v08_dtypes", item: "complex64") { try file.integers("complex64") }
        assertDataIOError(.wrongDType, file: "python_v08_dtypes", item: "complex64") { try file.doubles("complex64") }
        let parts = try file.withRawBytes("complex64") { b in (0..<4).map { b.loadUnaligned(fromByteOffset: 4 * $0, as: Float.self) } }
        XCTAssertEqual(parts, [1.5, -2, 0, 0.25])
    }

    /// Independent checks of the 8-bit tables: e5m2 is the top byte of an IEEE half; the fnuz formats are the fn/IEEE
    /// ones with the exponent bias one higher (half the value), 0x80 as their only NaN and no infinities.
    func testFloat8TablesAgreeWithTheirDefinitions() {
        for b in 0...255 {
            let bits = UInt8(b)
            let e5m2 = HalfPrecision.float8ToFloat(bits, .e5m2)
            let half = HalfPrecision.halfToFloat(UInt16(b) << 8)
            XCTAssertTrue(sameFloat(e5m2, half), "e5m2 0x\(String(b, radix: 16))")
            let e4m3 = HalfPrecision.float8ToFloat(bits, .e4m3fn)
            XCTAssertFalse(e4m3.isInfinite, "e4m3fn has no infinities")
            XCTAssertEqual(e4m3.isNaN, b & 0x7F == 0x7F, "e4m3fn NaN 0x\(String(b, radix: 16))")
            let e4m3fnuz = HalfPrecision.float8ToFloat(bits, .e4m3fnuz)
            let e5m2fnuz = HalfPrecision.float8ToFloat(bits, .e5m2fnuz)
            if b == 0x80 {
                XCTAssertTrue(e4m3fnuz.isNaN && e5m2fnuz.isNaN)
            } else {
                // The e4m3fn pattern 0x7F/0xFF (NaN there) would be +-480: fnuz has +-240 in its place.
                let fnEquivalent = b & 0x7F == 0x7F ? (b & 0x80 == 0 ? 480 : -480) : e4m3
                XCTAssertEqual(e4m3fnuz, fnEquivalent / 2, "e4m3fnuz 0x\(String(b, radix: 16))")
                let ieeeEquivalent = b & 0x7C == 0x7C ? Float(sign: b & 0x80 == 0 ? .plus : .minus, exponent: 16, significand: 1 + Float(b & 3) / 4) : e5m2
                XCTAssertEqual(e5m2fnuz, ieeeEquivalent / 2, "e5m2fnuz 0x\(String(b, radix: 16))")
            }
            let e8m0 = HalfPrecision.float8ToFloat(bits, .e8m0fnu)
            if b == 0xFF { XCTAssertTrue(e8m0.isNaN) } else { XCTAssertEqual(e8m0, Float(sign: .plus, exponent: b - 127, significand: 1)) }
        }
        XCTAssertEqual(HalfPrecision.float8ToFloat(0x01, .e4m3fn), 0.001953125)   // smallest subnormal 2^-9
        XCTAssertEqual(HalfPrecision.float8ToFloat(0x7E, .e4m3fn), 448)           // largest finite
        XCTAssertEqual(HalfPrecision.float8ToFloat(0x00, .e8m0fnu), Float(sign: .plus, exponent: -127, significand: 1))
        XCTAssertEqual((0..<16).map { HalfPrecision.float4E2M1ToFloat(UInt8($0)) },
                       [0, 0.5, 1, 1.5, 2, 3, 4, 6, -0.0, -0.5, -1, -1.5, -2, -3, -4, -6])
    }

    /// Tensors larger than one conversion chunk (2^16 elements) convert correctly across chunk boundaries.
    func testLargeEightAndFourBitTensorsConvertInChunks() throws {
        let n = 200_003 * 2
        let bytes = (0..<n / 2).map { UInt8(truncatingIfNeeded: ($0 &* 2_654_435_761) >> 13) }
        let header = #"{"f4":{"dtype":"F4","shape":[\#(n)],"data_offsets":[0,\#(n / 2)]},"f8":{"dtype":"F8_E4M3","shape":[\#(n / 2)],"data_offsets":[\#(n / 2),\#(n)]}}"#
        var data = Data()
        var len = UInt64(header.utf8.count).littleEndian
        data.append(Data(bytes: &len, count: 8))
        data.append(contentsOf: Array(header.utf8))
        data.append(contentsOf: bytes)
        data.append(contentsOf: bytes)
        let f = try SafetensorsFile(data: data, name: "big-f8")
        let f4 = try f.tensor("f4").scalars, f8 = try f.tensor("f8").scalars
        var bad = 0
        for (k, b) in bytes.enumerated() {
            if f4[2 * k] != HalfPrecision.float4E2M1ToFloat(b & 0xF) || f4[2 * k + 1] != HalfPrecision.float4E2M1ToFloat(b >> 4) { bad += 1 }
            if !sameFloat(f8[k], HalfPrecision.float8ToFloat(b, .e4m3fn)) { bad += 1 }
        }
        XCTAssertEqual(bad, 0)
    }

    /// F6 and sub-byte sizes: the header accepts a whole number of bytes only; F6 values are refused by name.
    func testSubByteDTypesNeedWholeBytesAndF6IsReadAsBytesOnly() throws {
        func file(_ dtype: String, _ shape: [Int], _ bytes: Int) -> Data {
            let header = #"{"w":{"dtype":"\#(dtype)","shape":\#(shape),"data_offsets":[0,\#(bytes)]}}"#
            var d = Data()
            var len = UInt64(header.utf8.count).littleEndian
            d.append(Data(bytes: &len, count: 8))
            d.append(contentsOf: Array(header.utf8))
            d.append(Data(repeating: 0xA5, count: bytes))
            return d
        }
        for dtype in ["F6_E2M3", "F6_E3M2"] {
            let f = try SafetensorsFile(data: file(dtype, [2, 4], 6), name: "f6.safetensors")
            XCTAssertEqual(try f.info("w").shape, [2, 4])
            assertDataIOError(.unsupportedDType, file: "f6.safetensors", item: "w") { try f.tensor("w") }
            XCTAssertEqual(try f.withRawBytes("w") { Array($0) }, Array(repeating: 0xA5, count: 6))
            assertDataIOError(.sizeMismatch, file: "f6-odd", item: "w") { try SafetensorsFile(data: file(dtype, [3], 3), name: "f6-odd") }
        }
        assertDataIOError(.sizeMismatch, file: "f4-odd", item: "w") { try SafetensorsFile(data: file("F4", [3], 2), name: "f4-odd") }
        assertDataIOError(.sizeMismatch, file: "f4-size", item: "w") { try SafetensorsFile(data: file("F4", [4], 4), name: "f4-size") }
        let f4 = try SafetensorsFile(data: file("F4", [1, 2], 1), name: "f4")
        // Bitwise by construction: F4 values come from one fixed table, with no arithmetic.
        XCTAssertEqual(try f4.tensor("w").scalars, [HalfPrecision.float4E2M1ToFloat(0x5), HalfPrecision.float4E2M1ToFloat(0xA)])
    }

    /// Large integers round to nearest even as torch's `.float()` does (one rounding, not through Double).
    func testIntegersRoundToNearestLikeTorch() throws {
        var w = SafetensorsWriter()
        let i64 = [Int.min, Int.max, (1 << 60) + (1 << 36) + 1, (1 << 24) + 1, (1 << 24) + 3, -((1 << 24) + 1)]
        try w.add("i64", integers: i64, shape: [i64.count], as: .I64)
        try w.add("u32", integers: [Int(UInt32.max), (1 << 24) + 1], shape: [2], as: .U32)
        try w.add("u16", integers: [0, 65535], shape: [2], as: .U16)
        try w.add("u64", integers: [Int.max, 0], shape: [2], as: .U64)
        let f = try SafetensorsFile(data: try w.encoded(), name: "ints")
        // Bitwise by construction: an integer-to-Float conversion is one correctly rounded IEEE operation.
        XCTAssertEqual(try f.tensor("i64").scalars, [-0x1p63, 0x1p63, 0x1p60 + 0x1p37, 0x1p24, 0x1p24 + 4, -0x1p24])
        XCTAssertEqual(try f.tensor("u32").scalars, [0x1p32, 0x1p24])
        XCTAssertEqual(try f.tensor("u64").scalars, [0x1p63, 0])
        XCTAssertEqual(try f.uint16s("u16"), [0, 65535])
        XCTAssertEqual(try f.integers("u64"), [Int.max, 0])
        XCTAssertEqual(try f.uint32s("u32"), [UInt32.max, (1 << 24) + 1])
        assertDataIOError(.invalidArgument, file: "<writer>", item: "u") { try w.add("u", integers: [-1], shape: [1], as: .U32) }
        assertDataIOError(.invalidArgument, file: "<writer>", item: "x") { try w.add("x", integers: [65536], shape: [1], as: .U16) }
        assertDataIOError(.invalidArgument, file: "<writer>", item: "f") { try w.add("f", Tensor([1]), as: .F8_E4M3) }
        assertDataIOError(.invalidArgument, file: "<writer>", item: "g") { try w.add("g", integers: [1], shape: [1], as: .F8_E5M2) }
        assertDataIOError(.invalidArgument, file: "<writer>", item: "h") { try w.add("h", integers: [1], shape: [Int.max, 2], as: .I8) }
    }
}

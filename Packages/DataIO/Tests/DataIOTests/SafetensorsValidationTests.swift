import DataIO
import Foundation
import Tensor
import XCTest

/// Every malformed case gives a DataIOError naming the file and the tensor; none crashes or reads out of bounds.
final class SafetensorsValidationTests: XCTestCase {
    /// A file from a header text and `dataBytes` bytes of data; `declaredLength` overrides the length prefix.
    func file(_ header: String, dataBytes: Int, declaredLength: UInt64? = nil) -> Data {
        safetensorsBytes(header, dataBytes: dataBytes, fill: 0x3F, declaredLength: declaredLength)
    }

    func check(_ kind: DataIOError.Kind, item: String?, _ data: Data, _ what: String, line: UInt = #line) {
        let name = "bad-\(what.replacingOccurrences(of: " ", with: "-")).safetensors"
        assertDataIOError(kind, file: name, item: item, { try SafetensorsFile(data: data, name: name) }, what, line: line)
    }

    func testEachMalformedCaseIsAClearError() {
        let ok = #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#
        XCTAssertNoThrow(try SafetensorsFile(data: file(ok, dataBytes: 8), name: "ok"))

        check(.truncated, item: nil, Data([1, 0, 0]), "shorter than the prefix")
        check(.headerTooLarge, item: nil, file(ok, dataBytes: 8, declaredLength: 1000), "header length beyond the file")
        check(.headerTooLarge, item: nil, file(ok, dataBytes: 8, declaredLength: UInt64.max), "header length huge")
        check(.invalidJSON, item: nil, file(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}"#, dataBytes: 8), "invalid JSON")
        check(.invalidJSON, item: nil, file(#"[1,2]"#, dataBytes: 0), "not starting with a brace")
        check(.invalidJSON, item: nil, file("{\"a\u{0}\":1}", dataBytes: 0), "control char")
        check(.invalidJSON, item: nil, file(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"a":{"dtype":"F32","shape":[0],"data_offsets":[8,8]}}"#, dataBytes: 8), "duplicate tensor")
        check(.invalidOffsets, item: "b",
              file(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#, dataBytes: 8),
              "overlapping offsets")
        check(.invalidOffsets, item: "a", file(#"{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}"#, dataBytes: 8), "offsets out of range")
        check(.invalidOffsets, item: "a", file(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}}"#, dataBytes: 8), "reversed offsets")
        check(.invalidOffsets, item: "b",
              file(#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}"#, dataBytes: 12),
              "gap between tensors")
        check(.invalidOffsets, item: "a", file(ok, dataBytes: 12), "trailing data")
        check(.sizeMismatch, item: "a", file(#"{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#, dataBytes: 8), "shape size mismatch")
        check(.sizeMismatch, item: "a", file(#"{"a":{"dtype":"F16","shape":[2],"data_offsets":[0,8]}}"#, dataBytes: 8), "dtype size mismatch")
        check(.sizeMismatch, item: "a",
              file(#"{"a":{"dtype":"F64","shape":[4294967296,4294967296,16],"data_offsets":[0,8]}}"#, dataBytes: 8), "overflowing shape")
        check(.unknownDType, item: "a", file(#"{"a":{"dtype":"F8_E3M4","shape":[8],"data_offsets":[0,8]}}"#, dataBytes: 8), "unknown dtype")
        check(.invalidHeader, item: "a", file(#"{"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}"#, dataBytes: 8), "negative dimension")
        check(.invalidHeader, item: "a", file(#"{"a":{"dtype":"F32","shape":[2.0],"data_offsets":[0,8]}}"#, dataBytes: 8), "fractional dimension")
        check(.invalidHeader, item: "a", file(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0]}}"#, dataBytes: 8), "one offset")
        check(.invalidHeader, item: "a", file(#"{"a":{"shape":[2],"data_offsets":[0,8]}}"#, dataBytes: 8), "missing dtype")
        check(.invalidHeader, item: "a", file(#"{"a":[1]}"#, dataBytes: 0), "entry not an object")
        check(.invalidHeader, item: "__metadata__", file(#"{"__metadata__":{"k":1}}"#, dataBytes: 0), "non-string metadata")
    }

    /// Every prefix of a valid file (a truncated download) is rejected with an error, never a crash.
    func testEveryTruncationOfAValidFileIsAnError() throws {
        let data = try Data(contentsOf: fixtureURL("safetensors/python_all_dtypes.safetensors"))
        XCTAssertNoThrow(try SafetensorsFile(data: data, name: "whole"))
        for cut in 0..<data.count {
            do {
                _ = try SafetensorsFile(data: data.prefix(cut), name: "cut-\(cut)")
                XCTFail("a file cut at \(cut) of \(data.count) bytes was accepted")
            } catch let e as DataIOError {
                XCTAssertTrue(e.description.contains("cut-\(cut)"))
            }
        }
    }

    /// Single-byte corruptions of the header either parse to a self-consistent header or throw; reading every
    /// tensor of an accepted file stays in bounds.
    func testRandomHeaderCorruptionsNeverCrash() throws {
        let data = try Data(contentsOf: fixtureURL("safetensors/python_all_dtypes.safetensors"))
        var g = SystemRandomNumberGenerator()
        var accepted = 0
        for _ in 0..<3000 {
            var d = data
            let pos = Int.random(in: 0..<min(d.count, 928), using: &g)
            d[pos] = UInt8.random(in: 0...255, using: &g)
            guard let f = try? SafetensorsFile(data: d, name: "fuzz") else { continue }
            accepted += 1
            for n in f.tensorNames {
                let i = try f.info(n)
                XCTAssertLessThanOrEqual(f.header.dataStart + i.dataOffsets.upperBound, d.count)
                _ = try? f.tensor(n)
                _ = try? f.integers(n)
            }
        }
        XCTAssertGreaterThan(accepted, 0)
    }

    func testMissingFileNamesThePath() {
        assertDataIOError(.notFound, file: "no-such-file.safetensors") {
            try SafetensorsFile(contentsOf: URL(fileURLWithPath: "/nonexistent-dir/no-such-file.safetensors"))
        }
    }
}

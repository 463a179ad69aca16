import DataIO
import Foundation
import XCTest

/// A fixture file under Tests/DataIOTests/Fixtures.
func fixtureURL(_ relative: String) -> URL {
    Bundle.module.url(forResource: "Fixtures", withExtension: nil)!.appendingPathComponent(relative)
}

/// A fresh temporary folder, removed by the test case's teardown block.
func makeTemporaryFolder(_ test: XCTestCase) throws -> URL {
    let url = FileManager.default.temporaryDirectory
        .appendingPathComponent("dataio-tests-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    test.addTeardownBlock { try? FileManager.default.removeItem(at: url) }
    return url
}

/// Asserts that `body` throws a `DataIOError` of `kind` whose message names `file` (and `item` when given).
func assertDataIOError<T>(_ kind: DataIOError.Kind, file: String, item: String? = nil, _ body: () throws -> T,
                          _ context: String = "", line: UInt = #line) {
    do {
        _ = try body()
        XCTFail("expected a \(kind) error \(context)", line: line)
    } catch let e as DataIOError {
        XCTAssertEqual(e.kind, kind, "\(context): \(e)", line: line)
        XCTAssertTrue(e.description.contains(file), "error does not name the file \(file): \(e)", line: line)
        if let item {
            XCTAssertEqual(e.item, item, "\(context): \(e)", line: line)
            XCTAssertTrue(e.description.contains(item), "error does not name \(item): \(e)", line: line)
        }
    } catch {
        XCTFail("unexpected error type \(error)", line: line)
    }
}

/// Bit-level equality that treats NaN == NaN.
func sameFloat(_ a: Float, _ b: Float) -> Bool { a.isNaN ? b.isNaN : a.bitPattern == b.bitPattern }

/// A safetensors file from a header text and `dataBytes` bytes of `fill`; `declaredLength` overrides the length prefix.
func safetensorsBytes(_ header: String, dataBytes: Int = 0, fill: UInt8 = 0, declaredLength: UInt64? = nil) -> Data {
    var d = Data()
    var n = (declaredLength ?? UInt64(header.utf8.count)).littleEndian
    d.append(Data(bytes: &n, count: 8))
    d.append(contentsOf: Array(header.utf8))
    d.append(Data(repeating: fill, count: dataBytes))
    return d
}

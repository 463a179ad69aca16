import Foundation
import Tokenizer
import XCTest

/// Token-for-token parity with open_clip 3.3.0's SimpleTokenizer on the fixture's strings.
final class OpenCLIPParityTests: XCTestCase {
    func testFixtureIsLargeAndVaried() {
        let cases = Fixtures.parity.cases
        XCTAssertGreaterThanOrEqual(cases.count, 2000)
        XCTAssertTrue(cases.contains { $0.text.isEmpty })
        XCTAssertTrue(cases.contains { $0.ids.count > 75 })
        XCTAssertTrue(cases.contains { $0.text.contains("&amp;") })
    }

    func testEncodeMatchesOpenCLIP() throws {
        let tokenizer = Fixtures.openCLIP
        var failures = [String]()
        var mojibake = 0
        for c in Fixtures.parity.cases {
            // The one documented category: ftfy's mojibake repair (fix_encoding) is not reproduced; those strings are
            // compared with open_clip run with fix_encoding=False.
            let expected: [Int]
            if c.category == "ftfy_fix_encoding" {
                mojibake += 1
                expected = try XCTUnwrap(c.ids_without_fix_encoding)
            } else {
                XCTAssertNil(c.category, "unknown category for \(Fixtures.describe(c.text))")
                expected = c.ids
            }
            let got = try tokenizer.encode(c.text)
            if got != expected {
                failures.append("\(Fixtures.describe(c.text)): expected \(expected) got \(got)")
            }
        }
        XCTAssertTrue(failures.isEmpty, "\(failures.count) mismatches:\n" + failures.prefix(25).joined(separator: "\n"))
        XCTAssertLessThan(mojibake, 30, "the fix_encoding category must stay a small, explicit list")
    }

    func testContextEncodingMatchesOpenCLIP() throws {
        let tokenizer = Fixtures.openCLIP
        XCTAssertEqual(tokenizer.padTokenID, 0)
        var checked = 0
        for c in Fixtures.parity.cases where c.category == nil {
            guard let expected = c.context77 else { continue }
            let got = try tokenizer.encode(c.text, contextLength: 77)
            XCTAssertEqual(got.ids, expected, Fixtures.describe(c.text))
            let used = min(c.ids.count + 2, 77)
            XCTAssertEqual(got.endTokenIndex, used - 1)
            XCTAssertEqual(got.attentionMask, Array(repeating: 1, count: used) + Array(repeating: 0, count: 77 - used))
            XCTAssertEqual(got.wasTruncated, c.ids.count + 2 > 77)
            checked += 1
        }
        XCTAssertGreaterThan(checked, 60)
    }

    func testDecodeMatchesOpenCLIP() throws {
        let tokenizer = Fixtures.openCLIP
        var checked = 0
        for c in Fixtures.parity.cases {
            guard let expected = c.decoded else { continue }
            XCTAssertEqual(try tokenizer.decode(c.ids), expected, Fixtures.describe(c.text))
            checked += 1
        }
        XCTAssertGreaterThan(checked, 300)
    }
}

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
        var repaired = 0
        for c in Fixtures.parity.cases {
            // "ftfy_fix_encoding" marks the strings whose ids depend on ftfy's mojibake repair: they too must match.
            if c.category == "ftfy_fix_encoding" {
                if c.ids != c.ids_without_fix_encoding { repaired += 1 }
            } else {
                XCTAssertNil(c.category, "unknown category for \(Fixtures.describe(c.text))")
            }
            let expected = c.ids
            let got = try tokenizer.encode(c.text)
            if got != expected {
                failures.append("\(Fixtures.describe(c.text)): expected \(expected) got \(got)")
            }
        }
        XCTAssertTrue(failures.isEmpty, "\(failures.count) mismatches:\n" + failures.prefix(25).joined(separator: "\n"))
        XCTAssertGreaterThan(repaired, 5, "the fixture exercises the mojibake repair")
    }

    func testContextEncodingMatchesOpenCLIP() throws {
        let tokenizer = Fixtures.openCLIP
        XCTAssertEqual(tokenizer.padTokenID, 0)
        var checked = 0
        for c in Fixtures.parity.cases {
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

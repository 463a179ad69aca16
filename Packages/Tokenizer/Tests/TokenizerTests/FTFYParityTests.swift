import Foundation
import Tokenizer
import XCTest

/// ftfy 6.3.1 parity (`fix_text`, `fix_encoding`, `is_bad`) and open_clip ids on mojibake, from
/// Tools/reference/fixtures/tokenizer_ftfy.py.
final class FTFYParityTests: XCTestCase {
    struct Fixture: Decodable {
        struct Case: Decodable {
            var kind: String
            var text: String
            var fixed: String
            var fix_encoding: String
            var bad: Bool
            var ids: [Int]
        }
        var cases: [Case]
        var badness_probes: [Probe]
    }
    struct Probe: Decodable {
        var text: String
        var bad: Bool
        init(from decoder: Decoder) throws {
            var c = try decoder.unkeyedContainer()
            text = try c.decode(String.self)
            bad = try c.decode(Bool.self)
        }
    }

    static let fixture: Fixture = {
        let data = FileManager.default.contents(atPath: Fixtures.path("ftfy_mojibake.json"))!
        return try! JSONDecoder().decode(Fixture.self, from: data)
    }()

    func testFixtureCoversTheMojibakeKinds() {
        let cases = Self.fixture.cases
        XCTAssertGreaterThanOrEqual(cases.count, 500)
        XCTAssertGreaterThan(cases.filter { $0.fix_encoding != $0.text }.count, 300)
        for kind in ["cp1252", "sloppy-cp1252", "latin-1", "double cp1252", "nbsp as space", "lossy ?", "mixed", "html", "multi-line"] {
            XCTAssertTrue(cases.contains { $0.kind == kind && $0.fix_encoding != $0.text }, kind)
        }
    }

    /// Every line: the fixed text, the mojibake repair alone, the heuristic and the token ids, exactly.
    func testFixTextAndIDsMatchFTFYAndOpenCLIP() throws {
        let tokenizer = Fixtures.openCLIP
        var failures = [String: [String]]()
        var exact = 0
        for c in Self.fixture.cases {
            var wrong = [String]()
            let fixed = FTFY.fixText(c.text)
            if fixed != c.fixed { wrong.append("fix_text \(Fixtures.describe(fixed)) != \(Fixtures.describe(c.fixed))") }
            let encodingFixed = FTFY.fixEncoding(c.text)
            if encodingFixed != c.fix_encoding {
                wrong.append("fix_encoding \(Fixtures.describe(encodingFixed)) != \(Fixtures.describe(c.fix_encoding))")
            }
            if FTFY.isBad(c.text) != c.bad { wrong.append("is_bad \(!c.bad)") }
            let ids = try tokenizer.encode(c.text)
            if ids != c.ids { wrong.append("ids \(ids) != \(c.ids)") }
            if wrong.isEmpty { exact += 1 } else {
                failures[c.kind, default: []].append("\(Fixtures.describe(c.text)): " + wrong.joined(separator: "; "))
            }
        }
        let report = failures.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value.count)\n  " + $0.value.prefix(5).joined(separator: "\n  ") }
        XCTAssertEqual(exact, Self.fixture.cases.count, "\(exact) of \(Self.fixture.cases.count) exact\n" + report.joined(separator: "\n"))
    }

    func testBadnessHeuristicMatchesFTFY() {
        let wrong = Self.fixture.badness_probes.filter { FTFY.isBad($0.text) != $0.bad }
        XCTAssertTrue(wrong.isEmpty, "\(wrong.count) of \(Self.fixture.badness_probes.count): "
            + wrong.prefix(20).map { "\(Fixtures.describe($0.text)) -> \($0.bad)" }.joined(separator: ", "))
    }

    func testDocumentedExamples() {
        XCTAssertEqual(FTFY.fixText("cafÃ©"), "café")
        XCTAssertEqual(FTFY.fixText("cafÃ© â€œquotedâ€\u{9D}"), "café \"quoted\"")
        XCTAssertEqual(FTFY.fixEncoding("cafÃ© â€œquotedâ€\u{9D}"), "café “quoted”")
        XCTAssertEqual(FTFY.fixText("âœ” No problems"), "✔ No problems")
        XCTAssertEqual(FTFY.fixText("The Mona Lisa doesnÃ¢â‚¬â„¢t have eyebrows."), "The Mona Lisa doesn't have eyebrows.")
        XCTAssertEqual(FTFY.fixText("voilÃ le travail"), "voilà le travail")
        XCTAssertEqual(FTFY.fixText("cafÃ©", fixEncoding: false), "cafÃ©")
        XCTAssertEqual(FTFY.fixText("naïve café"), "naïve café")  // legitimate Latin-1 text is left alone
        XCTAssertFalse(FTFY.isBad("naïve café"))
        XCTAssertTrue(FTFY.isBad("cafÃ©"))
    }

    /// The Hugging Face mode runs no ftfy (transformers 5.24 `CLIPTokenizer`): mojibake is tokenised as written.
    func testHuggingFaceModeDoesNotRepairMojibake() throws {
        let folder = try Fixtures.huggingFaceFolder(self, padToken: "<|endoftext|>")
        let hf = try CLIPTokenizer(folder: folder)
        XCTAssertNotEqual(try hf.encode("cafÃ©"), try hf.encode("café"))
        XCTAssertEqual(try Fixtures.openCLIP.encode("cafÃ©"), try Fixtures.openCLIP.encode("café"))
    }
}

import Foundation
import Tokenizer
import XCTest

final class TokenizerUnitTests: XCTestCase {
    func testByteEncodingIsABijection() {
        let scalars = ByteEncoding.byteToScalar
        XCTAssertEqual(Set(scalars).count, 256)
        XCTAssertEqual(scalars[Int(UInt8(ascii: "a"))], "a")
        XCTAssertEqual(scalars[Int(UInt8(ascii: " "))], "\u{120}")  // "Ġ", as in GPT-2
        let bytes = (0...255).map { UInt8($0) }
        XCTAssertEqual(ByteEncoding.decode(ByteEncoding.encode(bytes)), bytes)
        XCTAssertNil(ByteEncoding.decode("\u{4e00}"))
        XCTAssertEqual(ByteEncoding.bytesInVocabularyOrder.count, 256)
        XCTAssertEqual(ByteEncoding.bytesInVocabularyOrder.first, UInt8(ascii: "!"))
    }

    func testSpecialIdsAndEmptyText() throws {
        let t = Fixtures.openCLIP
        XCTAssertEqual(t.vocabularySize, 49408)
        XCTAssertEqual(t.startTokenID, 49406)
        XCTAssertEqual(t.endTokenID, 49407)
        let e = try t.encode("", contextLength: 77)
        XCTAssertEqual(Array(e.ids.prefix(2)), [49406, 49407])
        XCTAssertEqual(e.endTokenIndex, 1)
        XCTAssertEqual(e.attentionMask.reduce(0, +), 2)
        XCTAssertEqual(try t.encode("<end_of_text>"), [49407])
    }

    func testTruncationKeepsEndTokenAndPadIsConfigurable() throws {
        let t = try CLIPTokenizer(bpeFile: Fixtures.vocabPath, padToken: "<end_of_text>")
        XCTAssertEqual(t.padTokenID, 49407)
        let long = try t.encode(String(repeating: "red circle ", count: 50), contextLength: 8)
        XCTAssertEqual(long.ids.count, 8)
        XCTAssertEqual(long.ids.first, 49406)
        XCTAssertEqual(long.ids.last, 49407)
        XCTAssertEqual(long.endTokenIndex, 7)
        XCTAssertTrue(long.wasTruncated)
        XCTAssertEqual(long.attentionMask, Array(repeating: 1, count: 8))
        let short = try t.encode("red", contextLength: 6)
        XCTAssertEqual(short.ids.suffix(3), [49407, 49407, 49407])
        XCTAssertEqual(short.attentionMask, [1, 1, 1, 0, 0, 0])
        XCTAssertEqual(short.endTokenIndex, 2)
        XCTAssertThrowsError(try t.encode("red", contextLength: 1))
    }

    func testPythonHTMLUnescapeRules() {
        func u(_ s: String) -> String { String(String.UnicodeScalarView(HTMLEntities.pythonUnescape(Array(s.unicodeScalars)))) }
        XCTAssertEqual(u("&lt;b&gt; &amp;amp;"), "<b> &amp;")
        XCTAssertEqual(u("&notit;"), "\u{AC}it;")  // longest prefix "not"
        XCTAssertEqual(u("&copy2020"), "\u{A9}2020")  // legacy name without ';'
        XCTAssertEqual(u("&#128;&#x110000;&#0;&#1;x"), "\u{20AC}\u{FFFD}\u{FFFD}x")
        XCTAssertEqual(u("&#65&#x42;&unknown;&"), "AB&unknown;&")
        func f(_ s: String) -> String { String(String.UnicodeScalarView(HTMLEntities.ftfyUnescape(Array(s.unicodeScalars)))) }
        XCTAssertEqual(f("P&EACUTE;REZ &NTILDE; &nTILDE; &amp &lt;"), "P\u{C9}REZ \u{D1} &nTILDE; &amp <")
    }

    func testPythonLowerAndWhitespace() {
        func lower(_ s: String) -> String { String(String.UnicodeScalarView(TextNormalizer.pythonLower(Array(s.unicodeScalars)))) }
        XCTAssertEqual(lower("ΟΔΟΣ Σ AΣb"), "οδος σ aσb")
        XCTAssertEqual(lower("İ"), "i\u{307}")
        let collapsed = TextNormalizer.collapsePythonWhitespace(Array(" a\t\u{3000}b\u{1C}c \u{200B}".unicodeScalars))
        XCTAssertEqual(String(String.UnicodeScalarView(collapsed)), "a b c \u{200B}")
    }

    func testErrorsNameTheirCause() throws {
        XCTAssertThrowsError(try CLIPTokenizer(bpeFile: "/nonexistent/bpe.txt.gz")) { XCTAssertTrue("\($0)".contains("/nonexistent/bpe.txt.gz")) }
        let folder = try Fixtures.temporaryFolder(self)
        let bad = URL(fileURLWithPath: folder).appendingPathComponent("bad.gz").path
        FileManager.default.createFile(atPath: bad, contents: Data([0x1f, 0x8b, 8, 0, 1, 2, 3]))
        XCTAssertThrowsError(try CLIPTokenizer(bpeFile: bad)) { XCTAssertTrue("\($0)".contains("gzip")) }
        XCTAssertThrowsError(try CLIPTokenizer(
            vocabulary: ["a", "b", "a</w>", "b</w>", "<s>", "</s>"], merges: [("a", "b")], startToken: "<s>", endToken: "</s>",
            padToken: "</s>", normalization: .openCLIP)) { XCTAssertTrue("\($0)".contains("\"ab\""), "\($0)") }
        XCTAssertThrowsError(try Fixtures.openCLIP.decode([49408])) { XCTAssertTrue("\($0)".contains("49408")) }
    }

    func testConcurrentEncodingMatchesSequential() throws {
        let t = try CLIPTokenizer(bpeFile: Fixtures.vocabPath)
        let texts = Fixtures.parity.cases.prefix(800).map(\.text)
        let sequential = try texts.map { try Fixtures.openCLIP.encode($0) }
        var results = [[Int]?](repeating: nil, count: texts.count)
        let lock = NSLock()
        DispatchQueue.concurrentPerform(iterations: 4) { worker in
            for i in stride(from: worker, to: texts.count, by: 4) {
                let ids = try? t.encode(texts[i])
                lock.lock(); results[i] = ids; lock.unlock()
            }
        }
        XCTAssertEqual(results.map { $0! }, sequential)
    }
}

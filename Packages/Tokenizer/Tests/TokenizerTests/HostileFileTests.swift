import CZlib
import Foundation
import Tokenizer
import XCTest

/// Tokenizer files built to exhaust or confuse the parsers: each must fail fast with an error naming the file and
/// the line or key at fault, before any allocation is sized by the hostile field.
final class HostileFileTests: XCTestCase {
    var folder = ""

    override func setUpWithError() throws {
        folder = try Fixtures.temporaryFolder(self)
    }

    @discardableResult
    func write(_ name: String, _ text: String) -> String { write(name, Data(text.utf8)) }

    @discardableResult
    func write(_ name: String, _ data: Data) -> String {
        let path = URL(fileURLWithPath: folder).appendingPathComponent(name).path
        FileManager.default.createFile(atPath: path, contents: data)
        return path
    }

    /// A small valid Hugging Face folder: a, b, ab and the special tokens; one merge.
    func writeFolder(vocab: String? = nil, merges: String? = nil, config: String? = nil) {
        write("vocab.json", vocab ?? #"{"a": 0, "b": 1, "ab": 2, "<|startoftext|>": 3, "<|endoftext|>": 4}"#)
        write("merges.txt", merges ?? "#version: 0.2\na b\n")
        if let config { write("tokenizer_config.json", config) }
    }

    func assertError(_ body: @autoclosure () throws -> Any, mentions parts: [String], file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try body(), file: file, line: line) { error in
            let text = "\(error)"
            for p in parts { XCTAssertTrue(text.contains(p), "\"\(p)\" missing from: \(text)", file: file, line: line) }
        }
    }

    func testValidSmallFolderLoads() throws {
        writeFolder()
        let t = try CLIPTokenizer(folder: folder)
        XCTAssertEqual(t.vocabularySize, 5)
        XCTAssertEqual(t.merges.count, 1)
    }

    // MARK: vocab.json

    func testVocabularyIDsOutsideTheVocabulary() throws {
        for (id, what) in [("1000000000000000000", "1000000000000000000"), ("99999999999999999999999", "99999999999999999999999"),
                           ("-1", "-1"), ("2.5", "2.5"), ("1e3", "1e3"), ("true", "true"), ("\"2\"", "\"2\""), ("5", "5")] {
            writeFolder(vocab: "{\"a\": 0,\n\"b\": 1,\n\"ab\": \(id),\n\"<|startoftext|>\": 3, \"<|endoftext|>\": 4}")
            assertError(try CLIPTokenizer(folder: folder), mentions: ["vocab.json", "line 3", "\"ab\"", what, "0..<5"])
        }
    }

    func testVocabularyDuplicates() throws {
        writeFolder(vocab: "{\"a\": 0, \"b\": 1,\n\"ab\": 2,\n\"<|startoftext|>\": 3, \"ab\": 4}")
        assertError(try CLIPTokenizer(folder: folder), mentions: ["vocab.json", "line 3", "\"ab\"", "line 2"])
        writeFolder(vocab: "{\"a\": 0, \"b\": 1,\n\"ab\": 2,\n\"<|startoftext|>\": 2, \"<|endoftext|>\": 4}")
        assertError(try CLIPTokenizer(folder: folder), mentions: ["vocab.json", "line 3", "id 2", "\"ab\"", "line 2"])
    }

    func testVocabularyMalformedJSON() throws {
        // Nesting that would overflow a recursive parser's stack.
        writeFolder(vocab: String(repeating: "[", count: 200_000))
        assertError(try CLIPTokenizer(folder: folder), mentions: ["vocab.json", "line 1", "nesting"])
        let broken = [
            ("{\"a\": 0,\n\"b", "unterminated"), ("{\"a\": 0,\n\"\\ud800\": 1}", "surrogate"), ("{\"a\": 0,\n\"x\ty\": 1}", "control"),
            ("{\"a\": 0}\n{}", "after"), ("{\"a\": 0,\n}", "key"), ("{\"a\": 01}", "leading zero"),
        ]
        for (text, reason) in broken {
            writeFolder(vocab: text)
            assertError(try CLIPTokenizer(folder: folder), mentions: ["vocab.json", reason])
        }
        writeFolder(vocab: "{\"a\": 0, \"\(String(repeating: "x", count: 5000))\": 1}")
        assertError(try CLIPTokenizer(folder: folder), mentions: ["vocab.json", "line 1", "5000 bytes"])
    }

    // MARK: merges

    func testMergesFileHostileLines() throws {
        writeFolder(merges: "#version: 0.2\na b\n\na b\n")
        assertError(try CLIPTokenizer(folder: folder), mentions: ["merges.txt", "line 4", "\"a b\"", "line 2"])
        writeFolder(merges: "#version: 0.2\na b\nab zz\n")
        assertError(try CLIPTokenizer(folder: folder), mentions: ["merges.txt", "line 3", "\"zz\""])
        writeFolder(merges: "#version: 0.2\na b c\n")
        assertError(try CLIPTokenizer(folder: folder), mentions: ["merges.txt", "line 2"])
        writeFolder(merges: "a " + String(repeating: "b", count: 10_000) + "\n")
        assertError(try CLIPTokenizer(folder: folder), mentions: ["merges.txt", "line 1", "10002 bytes"])
        write("merges.txt", Data([0x61, 0x20, 0x62, 0x0A, 0xFF, 0xFE]))
        assertError(try CLIPTokenizer(folder: folder), mentions: ["merges.txt", "UTF-8"])
    }

    /// A merges file larger than the limit (sparse: no disk used) fails on its size, before it is read.
    func testOversizedFileIsRejectedBeforeReading() throws {
        writeFolder()
        let path = URL(fileURLWithPath: folder).appendingPathComponent("merges.txt").path
        let handle = try XCTUnwrap(FileHandle(forWritingAtPath: path))
        try handle.truncate(atOffset: UInt64(CLIPTokenizer.maximumFileBytes) * 40)  // 2.5 GB, one line
        try handle.close()
        let start = Date()
        assertError(try CLIPTokenizer(folder: folder), mentions: ["merges.txt", "limit"])
        XCTAssertLessThan(Date().timeIntervalSince(start), 1)
    }

    // MARK: bpe_simple_vocab .gz

    func gzip(_ bytes: [UInt8]) throws -> [UInt8] {
        var stream = z_stream()
        XCTAssertEqual(deflateInit2_(&stream, 9, Z_DEFLATED, 15 + 16, 9, Z_DEFAULT_STRATEGY, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)), Z_OK)
        defer { deflateEnd(&stream) }
        var input = bytes
        var out = [UInt8](repeating: 0, count: bytes.count + 1024)
        let produced: Int = input.withUnsafeMutableBufferPointer { inBuf in
            out.withUnsafeMutableBufferPointer { outBuf in
                stream.next_in = inBuf.baseAddress
                stream.avail_in = uInt(inBuf.count)
                stream.next_out = outBuf.baseAddress
                stream.avail_out = uInt(outBuf.count)
                XCTAssertEqual(deflate(&stream, Z_FINISH), Z_STREAM_END)
                return outBuf.count - Int(stream.avail_out)
            }
        }
        return Array(out[0..<produced])
    }

    /// 68 concatenated gzip members of 1 MiB of newlines each: a 70 KB file that would inflate to 68 MiB.
    func testGzipBombStopsAtTheLimit() throws {
        let member = try gzip([UInt8](repeating: 0x0A, count: 1 << 20))
        let bomb = Array([[UInt8]](repeating: member, count: 68).joined())
        XCTAssertLessThan(bomb.count, 100_000)
        let path = write("bomb.txt.gz", Data(bomb))
        let start = Date()
        assertError(try CLIPTokenizer(bpeFile: path), mentions: [path, "limit"])
        XCTAssertLessThan(Date().timeIntervalSince(start), 5)
    }

    func testBPEFileHostileLines() throws {
        let good = "#version: 0.2\n\u{120} t\nh e\n"
        let path = write("bpe.txt", good)
        XCTAssertEqual(try CLIPTokenizer(bpeFile: path, mergeCount: 2).merges.count, 2)
        assertError(try CLIPTokenizer(bpeFile: path, mergeCount: 3), mentions: [path, "line 4"])  // the empty last line
        assertError(try CLIPTokenizer(bpeFile: path, mergeCount: 4), mentions: [path, "4 expected"])
        assertError(try CLIPTokenizer(bpeFile: path, mergeCount: -5), mentions: ["-5"])
        write("bpe.txt", "#version: 0.2\nh e\nh e\n")
        assertError(try CLIPTokenizer(bpeFile: path, mergeCount: nil), mentions: [path, "line 3", "line 2"])
        write("bpe.txt", "#version: 0.2\nh e\nhe xyz\n")
        assertError(try CLIPTokenizer(bpeFile: path, mergeCount: nil), mentions: [path, "line 3", "\"xyz\""])
        let gz = write("bpe.txt.gz", Data(try gzip(Array("#version: 0.2\nh e\nhe\n".utf8))))
        assertError(try CLIPTokenizer(bpeFile: gz, mergeCount: nil), mentions: [gz, "line 3"])
    }

    // MARK: configs

    func testConfigFilesHostileFields() throws {
        writeFolder(config: "{\"pad_token\": \"a\",\n\"pad_token\": \"b\"}")
        assertError(try CLIPTokenizer(folder: folder), mentions: ["tokenizer_config.json", "line 2", "\"pad_token\"", "line 1"])
        writeFolder(config: "{\"x\": " + String(repeating: "{\"y\": ", count: 100_000))
        assertError(try CLIPTokenizer(folder: folder), mentions: ["tokenizer_config.json", "nesting"])
        writeFolder(config: "{\"pad_token\": 7}")
        assertError(try CLIPTokenizer(folder: folder), mentions: ["tokenizer_config.json", "line 1", "pad_token"])
        writeFolder(config: "{\"pad_token\": \"<pad>\"}")
        assertError(try CLIPTokenizer(folder: folder), mentions: ["<pad>", folder])
        // model_max_length: the sentinel and absurd values keep 77; a sane one is used.
        for value in ["1000000000000000019884624838656", "1e999", "-3", "1", "null", "\"77\""] {
            writeFolder(config: "{\"model_max_length\": \(value)}")
            XCTAssertEqual(try CLIPTokenizer(folder: folder).contextLength, 77, value)
        }
        writeFolder(config: "{\"model_max_length\": 64, \"additional_special_tokens\": [\"ab\", {\"content\": \"b\"}, 3]}")
        let t = try CLIPTokenizer(folder: folder)
        XCTAssertEqual(t.contextLength, 64)
        XCTAssertEqual(Set(t.addedSpecialTokens), ["<|startoftext|>", "<|endoftext|>", "ab", "b"])
    }
}

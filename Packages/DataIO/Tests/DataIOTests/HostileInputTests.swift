import DataIO
import Foundation
import Tensor
import XCTest

/// A run config with size-like keys and limits on them, to check `RunConfig.integerLimits`.
private struct SizedConfig: RunConfig, Equatable {
    var numLayers = 2
    var blockChannels = [8, 16]
    var seed: UInt64 = 0
    init() {}
    static let integerLimits: [String: ClosedRange<Int>] = ["num_layers": 1...1024, "block_channels": 1...65536]
    enum CodingKeys: String, CodingKey { case numLayers = "num_layers", blockChannels = "block_channels", seed }
}

/// Lengths, counts and sizes read from files that would size an allocation or a loop: each parser refuses a hostile
/// value with an error naming the file and the field, before anything is sized by it.
final class HostileInputTests: XCTestCase {
    /// A safetensors file from a header text and `dataBytes` bytes; `declaredLength` overrides the length prefix.
    func safetensors(_ header: String, dataBytes: Int = 0, declaredLength: UInt64? = nil) -> Data {
        safetensorsBytes(header, dataBytes: dataBytes, declaredLength: declaredLength)
    }

    func nested(_ depth: Int, inner: String = "1") -> String {
        String(repeating: "[", count: depth) + inner + String(repeating: "]", count: depth)
    }

    // MARK: safetensors

    /// The 8-byte length prefix is checked against the 100 MB cap and against the bytes that follow it.
    func testSafetensorsHeaderLengthIsCheckedBeforeUse() throws {
        let ok = #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#
        for declared: UInt64 in [UInt64.max, 1 << 63, UInt64(SafetensorsHeader.maxHeaderLength) + 1] {
            assertDataIOError(.headerTooLarge, file: "len-\(declared)") {
                try SafetensorsFile(data: safetensors(ok, dataBytes: 4, declaredLength: declared), name: "len-\(declared)")
            }
        }
        // Under the cap but beyond the file (a 99,999,999-byte header in a 70-byte file).
        assertDataIOError(.headerTooLarge, file: "len-beyond-file") {
            try SafetensorsFile(data: safetensors(ok, dataBytes: 4, declaredLength: 99_999_999), name: "len-beyond-file")
        }
        // From a file on disk the mapping is never read past its end.
        let url = try makeTemporaryFolder(self).appendingPathComponent("huge-prefix.safetensors")
        try safetensors(ok, dataBytes: 4, declaredLength: 1 << 40).write(to: url)
        assertDataIOError(.headerTooLarge, file: "huge-prefix.safetensors") { try SafetensorsFile(contentsOf: url) }
    }

    /// Shapes whose element count, byte size or strides overflow, or that claim more bytes than the file holds.
    func testSafetensorsHostileShapesAndOffsets() {
        let cases: [(String, DataIOError.Kind, String, Int)] = [
            // Element count overflows Int (2^62 * 4).
            (#"{"w":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,8]}}"#, .sizeMismatch, "count overflow", 8),
            // Element count fits, the byte size does not (2^62 F64 elements).
            (#"{"w":{"dtype":"F64","shape":[4611686018427387904],"data_offsets":[0,8]}}"#, .sizeMismatch, "byte overflow", 8),
            // Empty (a zero dimension) but the other dimensions' product overflows: its strides could not be formed.
            (#"{"w":{"dtype":"F32","shape":[0,1099511627776,1099511627776],"data_offsets":[0,0]}}"#, .sizeMismatch, "stride overflow", 0),
            // A plausible 4 TB shape whose offsets claim bytes far past the end of the file.
            (#"{"w":{"dtype":"F32","shape":[1099511627776],"data_offsets":[0,4398046511104]}}"#, .invalidOffsets, "beyond the file", 8),
            // Offsets at Int.max, and beyond Int (a double in JSON).
            (#"{"w":{"dtype":"U8","shape":[1],"data_offsets":[9223372036854775806,9223372036854775807]}}"#, .invalidOffsets, "offset Int.max", 8),
            (#"{"w":{"dtype":"U8","shape":[1],"data_offsets":[0,18446744073709551616]}}"#, .invalidHeader, "offset beyond Int", 8),
            (#"{"w":{"dtype":"U8","shape":[-1],"data_offsets":[0,1]}}"#, .invalidHeader, "negative dimension", 1),
            (#"{"w":{"dtype":"U8","shape":[1e3],"data_offsets":[0,1]}}"#, .invalidHeader, "exponent dimension", 1),
            // Overlapping ranges that each fit the file.
            (#"{"v":{"dtype":"U8","shape":[8],"data_offsets":[0,8]},"w":{"dtype":"U8","shape":[4],"data_offsets":[2,6]}}"#, .invalidOffsets, "overlap", 8),
        ]
        for (header, kind, what, bytes) in cases {
            let name = "shape-\(what.replacingOccurrences(of: " ", with: "-"))"
            assertDataIOError(kind, file: name, item: "w", { try SafetensorsFile(data: safetensors(header, dataBytes: bytes), name: name) }, what)
        }
    }

    /// A header nested far deeper than any real one is refused by the depth limit, not by the stack.
    func testSafetensorsHeaderNestingDepth() {
        for depth in [100, 200_000] {
            let header = #"{"__metadata__":{"k":"v"},"x":"# + nested(depth) + "}"
            assertDataIOError(.limitExceeded, file: "deep-\(depth)") { try SafetensorsFile(data: safetensors(header), name: "deep-\(depth)") }
        }
    }

    // MARK: JSON

    func testJSONNestingDepthIsBoundedWithoutRecursion() throws {
        let deep = nested(1_000_000)
        XCTAssertThrowsError(try JSONValue.parse(deep)) { e in
            XCTAssertTrue((e as? JSONValue.ParseError)?.exceedsDepthLimit == true, "\(e)")
        }
        var s = deep
        try s.withUTF8 { b in
            XCTAssertThrowsError(try JSONValue.checkNesting(UnsafeRawBufferPointer(b), maxDepth: 64))
            XCTAssertNoThrow(try JSONValue.checkNesting(UnsafeRawBufferPointer(b), maxDepth: 1_000_000))
        }
        // Brackets inside strings (escaped quotes included) do not count.
        var quoted = #"{"k": "[[[[\"[[[[", "n": [[1]]}"#
        try quoted.withUTF8 { XCTAssertNoThrow(try JSONValue.checkNesting(UnsafeRawBufferPointer($0), maxDepth: 3)) }
        XCTAssertEqual(try JSONValue.parse(nested(60)).arrayValue?.count, 1)
    }

    /// A config in the style of the model configs (which are tested beside their models with real keys): sizes and
    /// per-block lists read through `ConfigReader` with the shared limits.
    private struct SizedComponentConfig: Decodable {
        var hidden: Int, blocks: [Int], sample: OneOrMany<Int>?
        init(from decoder: Decoder) throws {
            var r = try ConfigReader(decoder)
            hidden = try r.size("hidden_size", 8, 1...ConfigLimits.dimension)
            blocks = try r.sizes("block_out_channels", [8], 1...ConfigLimits.dimension)
            sample = try r.optionalSizes("sample_size", 1...ConfigLimits.sampleSize)
        }
    }

    /// Configs: a nesting bomb, a file too large to be a config, and sizes that a model would allocate from.
    func testConfigSizeFieldsNestingAndFileSize() throws {
        func decode<T: Decodable>(_ type: T.Type, _ json: String) throws -> T {
            try ConfigFile.decode(type, from: Data(json.utf8), name: "hostile/config.json")
        }
        assertDataIOError(.limitExceeded, file: "hostile/config.json") { try decode(ModelIndex.self, #"{"extra": "# + nested(100_000) + "}") }
        let sizeCases: [(String, String)] = [
            (#"{"hidden_size": 1e15}"#, "hidden_size"),
            (#"{"hidden_size": 0}"#, "hidden_size"),
            (#"{"hidden_size": -77}"#, "hidden_size"),
            (#"{"block_out_channels": [320, 640, 1e12, 1280]}"#, "block_out_channels.2"),
            (#"{"block_out_channels": [\#(Array(repeating: "8", count: 65).joined(separator: ","))]}"#, "block_out_channels"),
            (#"{"sample_size": [64, 1e9]}"#, "sample_size.1"),
        ]
        for (json, key) in sizeCases {
            assertDataIOError(.limitExceeded, file: "hostile/config.json", item: key, { try decode(SizedComponentConfig.self, json) }, json)
        }
        // Beyond Int entirely: the decoder's own type error, still naming the key.
        assertDataIOError(.invalidJSON, file: "hostile/config.json", item: "hidden_size") { try decode(SizedComponentConfig.self, #"{"hidden_size": 1e300}"#) }
        assertDataIOError(.invalidHeader, file: "hostile/config.json", item: "block_out_channels.1") {
            try decode(SizedComponentConfig.self, #"{"block_out_channels": [320, "wide"]}"#)
        }
        XCTAssertEqual(try decode(SizedComponentConfig.self, #"{"hidden_size": 1280, "block_out_channels": [320, 640, 1280, 1280]}"#).hidden, 1280)

        // A 17 MB file (sparse: nothing is written or read) is refused by its size before it is read.
        let dir = try makeTemporaryFolder(self)
        let big = dir.appendingPathComponent("config.json")
        XCTAssertTrue(FileManager.default.createFile(atPath: big.path, contents: nil))
        let h = try FileHandle(forWritingTo: big)
        try h.truncate(atOffset: UInt64(FileBytes.maxConfigFileSize) + 1)
        try h.close()
        assertDataIOError(.limitExceeded, file: big.path) { try ConfigFile.read(ModelIndex.self, from: big) }
        XCTAssertThrowsError(try SizedConfig.load(contentsOf: big)) { e in
            XCTAssertTrue("\(e)".contains("exceeds the limit") && "\(e)".contains(big.path), "\(e)")
        }
        // The same file as a model folder's train_config.json.
        try FileManager.default.moveItem(at: big, to: dir.appendingPathComponent("train_config.json"))
        assertDataIOError(.limitExceeded, file: "train_config.json") { try ModelFolder.samplingDefaults(in: dir, fallback: (20, 3)) }
    }

    /// A model folder's train_config.json: hostile sampling steps and nesting.
    func testModelFolderSamplingDefaults() throws {
        let dir = try makeTemporaryFolder(self)
        let url = dir.appendingPathComponent("train_config.json")
        try Data(#"{"sample_steps": 1e12, "guidance_scale": 3}"#.utf8).write(to: url)
        assertDataIOError(.limitExceeded, file: "train_config.json", item: "sample_steps") { try ModelFolder.samplingDefaults(in: dir, fallback: (20, 3)) }
        try Data(#"{"sample_steps": 1.5}"#.utf8).write(to: url)
        assertDataIOError(.invalidHeader, file: "train_config.json", item: "sample_steps") { try ModelFolder.samplingDefaults(in: dir, fallback: (20, 3)) }
        try Data((#"{"x": "# + nested(100_000) + "}").utf8).write(to: url)
        assertDataIOError(.limitExceeded, file: "train_config.json") { try ModelFolder.samplingDefaults(in: dir, fallback: (20, 3)) }
        try Data(#"{"sample_steps": 50}"#.utf8).write(to: url)
        XCTAssertEqual(try ModelFolder.samplingDefaults(in: dir, fallback: (20, 3))?.steps, 50)
    }

    /// Run configs: declared integer limits name the key (a list entry by index); nesting and file size are bounded.
    func testRunConfigLimits() throws {
        XCTAssertThrowsError(try SizedConfig.decode(overrides: ["num_layers": .int(1 << 40)])) { e in
            XCTAssertTrue("\(e)".contains("'num_layers'") && "\(e)".contains("1099511627776"), "\(e)")
        }
        XCTAssertThrowsError(try SizedConfig.decode(overrides: ["num_layers": 1e15])) { e in XCTAssertTrue("\(e)".contains("'num_layers'"), "\(e)") }
        XCTAssertThrowsError(try SizedConfig.decode(overrides: ["block_channels": [8, .int(1 << 20)]])) { e in
            XCTAssertTrue("\(e)".contains("'block_channels.1'"), "\(e)")
        }
        XCTAssertEqual(try SizedConfig.decode(overrides: ["num_layers": 12, "seed": .int(Int.max)]).numLayers, 12)
        let dir = try makeTemporaryFolder(self)
        let url = dir.appendingPathComponent("run.json")
        try Data((#"{"num_layers": "# + nested(100_000) + "}").utf8).write(to: url)
        XCTAssertThrowsError(try SizedConfig.load(contentsOf: url)) { e in XCTAssertTrue("\(e)".contains("nesting deeper than"), "\(e)") }
    }

    /// Metrics logs: one line nested far too deep is an error naming the line.
    func testMetricsLogLineNesting() throws {
        let dir = try makeTemporaryFolder(self)
        let url = dir.appendingPathComponent("metrics.jsonl")
        try Data(("{\"step\":1}\n{\"x\":" + nested(100_000) + "}\n").utf8).write(to: url)
        assertDataIOError(.limitExceeded, file: "metrics.jsonl", item: "line 2") { try MetricsLog.read(url) }
    }

    // MARK: checkpoints

    /// Checkpoint metadata: step numbers and versions that do not parse strictly, a config nesting bomb, a tensor
    /// named only by its group prefix, and file names with signed steps.
    func testCheckpointMetadata() throws {
        let dir = try makeTemporaryFolder(self)
        func checkpoint(_ md: [String: String], tensors: [String] = ["model.w"]) throws -> URL {
            var w = SafetensorsWriter(metadata: md)
            for t in tensors { try w.add(t, Tensor([1, 2])) }
            let url = dir.appendingPathComponent("ck-\(UInt32.random(in: 0...UInt32.max)).safetensors")
            try w.write(to: url)
            return url
        }
        let good = ["dpt.format_version": "1", "dpt.step": "7", "dpt.seed": "18446744073709551615", "dpt.config": #"{"a":[1]}"#]
        XCTAssertEqual(try Checkpoint.load(try checkpoint(good)).info.step, 7)
        let cases: [(String, String, DataIOError.Kind)] = [
            ("dpt.step", "-5", .invalidHeader),
            ("dpt.step", "99999999999999999999999", .invalidHeader),
            ("dpt.step", "+7", .invalidHeader),
            ("dpt.step", " 7", .invalidHeader),
            ("dpt.format_version", "0", .invalidHeader),
            ("dpt.format_version", "-1", .invalidHeader),
            ("dpt.format_version", "2", .invalidHeader),
            ("dpt.seed", "-1", .invalidHeader),
            ("dpt.seed", "18446744073709551616", .invalidHeader),
            ("dpt.config", "{\"a\":" + nested(100_000) + "}", .limitExceeded),
        ]
        for (key, value, kind) in cases {
            var md = good
            md[key] = value
            let url = try checkpoint(md)
            assertDataIOError(kind, file: url.lastPathComponent, item: key, { try Checkpoint.load(url) }, "\(key)=\(value.prefix(30))")
        }
        let (f, _) = try Checkpoint.load(try checkpoint(good, tensors: ["model.w", "model."]))
        assertDataIOError(.invalidHeader, file: f.name, item: "model.") { try Checkpoint.tensorGroups(f, prefixes: ["model."]) }
        // Only plain decimal steps are checkpoints.
        let folder = dir.appendingPathComponent("run")
        try Checkpoint.save(["w": Tensor([1])], info: CheckpointInfo(step: 3, seed: 0, config: .null), in: folder)
        for n in ["checkpoint--0000005.safetensors", "checkpoint-+0000009.safetensors", "checkpoint-99999999999999999999.safetensors"] {
            try Data().write(to: folder.appendingPathComponent(n))
        }
        XCTAssertEqual(Checkpoint.list(in: folder).map(\.step), [3])
        XCTAssertEqual(Checkpoint.latest(in: folder)?.info.step, 3)
    }
}

import DataIO
import Foundation
import TextEncoder
import XCTest

/// The CLIP text config against the real Stable Diffusion 1.5 / 2.1 files and transformers 5's defaults
/// (Fixtures/configs, see Tools/reference/fixtures/dataio_configs.py), and its size limits.
final class CLIPTextConfigTests: XCTestCase {
    private func configURL(_ relative: String) throws -> URL {
        try XCTUnwrap(Bundle.module.url(forResource: "Fixtures", withExtension: nil), "Fixtures folder missing")
            .appendingPathComponent("configs").appendingPathComponent(relative)
    }

    private func reencoded(_ data: Data) throws -> Data {
        try ConfigFile.encode(ConfigFile.decode(CLIPTextConfig.self, from: data, name: "text_encoder/config.json"))
    }

    func testStableDiffusionConfigsDecode() throws {
        let t = try ModelFolder(configURL("sd15")).textEncoderConfig()
        XCTAssertEqual([t.hiddenSize, t.numHiddenLayers, t.numAttentionHeads, t.intermediateSize], [768, 12, 12, 3072])
        XCTAssertEqual(t.hiddenAct, "quick_gelu")
        XCTAssertEqual(t.eosTokenId, 2)
        XCTAssertEqual(t.extras["_name_or_path"], "openai/clip-vit-large-patch14")
        let t2 = try ModelFolder(configURL("sd21")).textEncoderConfig()
        XCTAssertEqual([t2.hiddenSize, t2.numHiddenLayers, t2.numAttentionHeads, t2.intermediateSize, t2.projectionDim], [1024, 23, 16, 4096, 512])
        XCTAssertEqual(t2.hiddenAct, "gelu")
    }

    /// Decoding then encoding keeps every key and value of the real files, floats as floats.
    func testRealConfigsRoundTripWithoutLoss() throws {
        for model in ["sd15", "sd21"] {
            let data = try Data(contentsOf: configURL("\(model)/text_encoder/config.json"))
            let original = try JSONValue.parse(data).objectValue!
            let written = try JSONValue.parse(reencoded(data)).objectValue!
            for (k, v) in original {
                XCTAssertNotNil(written[k], "\(model): key \(k) lost")
                guard let w = written[k] else { continue }
                XCTAssertTrue(JSONValue.equivalent(v, w), "\(model): \(k) = \(v) became \(w)")
                XCTAssertEqual(JSONValue.floatsWrittenAsInts(reference: v, written: w), [], "\(model): \(k) = \(v) became the int \(w)")
            }
            XCTAssertEqual(try reencoded(reencoded(data)), try reencoded(data))
        }
        // The float keys of a default config stay floats.
        let clip = try JSONValue.parse(ConfigFile.encode(CLIPTextConfig()))
        for k in ["initializer_factor", "attention_dropout", "dropout", "initializer_range", "layer_norm_eps"] {
            guard case .double? = clip[k] else { XCTFail("\(k) written as \(String(describing: clip[k]))"); continue }
        }
    }

    /// An empty config has transformers' defaults, and every key written is a real transformers key.
    func testDefaultsAndKeyNamesMatchTransformers() throws {
        let defaults = try JSONValue.parse(Data(contentsOf: configURL("defaults.json"))).objectValue!
        let lib = try XCTUnwrap(defaults["text_encoder"]?.objectValue)
        let ours = try JSONValue.parse(ConfigFile.encode(ConfigFile.decode(CLIPTextConfig.self, from: Data("{}".utf8), name: "{}"))).objectValue!
        var compared = 0
        for (k, v) in ours where k != "dropout" {
            guard let ref = lib[k] else { XCTFail("key \(k) is not a transformers key"); continue }
            XCTAssertTrue(JSONValue.equivalent(v, ref), "\(k): ours \(v), transformers \(ref)")
            XCTAssertEqual(JSONValue.floatsWrittenAsInts(reference: ref, written: v), [], "\(k): the float \(ref) written as the int \(v)")
            compared += 1
        }
        XCTAssertGreaterThanOrEqual(compared, 14)
    }

    /// Sizes a model would allocate from are refused while decoding, naming the key.
    func testHostileSizesAreRefusedNamingTheKey() throws {
        let cases: [(String, String, DataIOError.Kind)] = [
            (#"{"hidden_size": 1e15}"#, "hidden_size", .limitExceeded),
            (#"{"num_hidden_layers": 1099511627776}"#, "num_hidden_layers", .limitExceeded),
            (#"{"vocab_size": 0}"#, "vocab_size", .limitExceeded),
            (#"{"max_position_embeddings": -77}"#, "max_position_embeddings", .limitExceeded),
            (#"{"intermediate_size": 4294967296}"#, "intermediate_size", .limitExceeded),
            (#"{"hidden_size": 1e300}"#, "hidden_size", .invalidJSON),   // beyond Int: the decoder's own error
        ]
        for (json, key, kind) in cases {
            XCTAssertThrowsError(try ConfigFile.decode(CLIPTextConfig.self, from: Data(json.utf8), name: "hostile/config.json"), json) { e in
                XCTAssertEqual((e as? DataIOError)?.kind, kind, "\(e)")
                XCTAssertTrue("\(e)".contains("hostile/config.json") && "\(e)".contains(key), "\(e)")
            }
        }
    }
}

/// A config whose fields are each within limits but multiply past memory (2^22 x 2^18 embedding = 4 TiB) is refused
/// before its parameters are allocated: a strict load needs every parameter in the file, whose size bounds them.
final class CLIPConfigBudgetTests: XCTestCase {
    func testConfigAskingForMoreParametersThanTheFileHoldsIsRefusedUnallocated() throws {
        let source = try XCTUnwrap(Bundle.module.url(forResource: "Fixtures", withExtension: nil)).appendingPathComponent("quick")
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("clip-budget-\(UUID().uuidString)")
        try FileManager.default.copyItem(at: source, to: dir)
        defer { try? FileManager.default.removeItem(at: dir) }
        let configURL = dir.appendingPathComponent("config.json")
        guard case var .object(o) = try JSONValue.parse(Data(contentsOf: configURL)) else { return XCTFail("config not an object") }
        o["vocab_size"] = .int(1 << 22)
        o["hidden_size"] = .int(1 << 18)
        o["num_attention_heads"] = .int(1 << 10)
        try Data(JSONValue.object(o).serialized().utf8).write(to: configURL)
        XCTAssertThrowsError(try CLIPTextModel(folder: dir)) { e in
            XCTAssertTrue("\(e)".contains("parameter elements") && "\(e)".contains("config.json"), "\(e)")
        }
        // The unchanged folder loads (the budget is the file's own element count).
        try FileManager.default.removeItem(at: configURL)
        try FileManager.default.copyItem(at: source.appendingPathComponent("config.json"), to: configURL)
        XCTAssertNoThrow(try CLIPTextModel(folder: dir))
    }
}

import DataIO
import Foundation
import Tensor
import XCTest

/// The model index and the generic config machinery; the component configs are tested beside their models
/// (Diffusion: U-Net, VAE; TextEncoder: CLIP text).
final class ConfigTests: XCTestCase {
    func testStableDiffusion15IndexDecodes() throws {
        let m = try ModelFolder(fixtureURL("configs/sd15"))
        let index = try m.modelIndex()
        XCTAssertEqual(index.className, "StableDiffusionPipeline")
        XCTAssertEqual(index.components["unet"], ["diffusers", "UNet2DConditionModel"])
        XCTAssertEqual(index.presentComponents, ["feature_extractor", "safety_checker", "scheduler", "text_encoder", "tokenizer", "unet", "vae"])
    }

    func testStableDiffusion21IndexDecodes() throws {
        let index = try ModelFolder(fixtureURL("configs/sd21")).modelIndex()
        XCTAssertEqual(index.components["safety_checker"], [nil, nil])
        XCTAssertFalse(index.presentComponents.contains("safety_checker"))
        XCTAssertEqual(index.extras["requires_safety_checker"], false)
    }

    /// Decoding then encoding keeps every key and value of the real index files (unknown keys included).
    func testRealIndexesRoundTripWithoutLoss() throws {
        for model in ["sd15", "sd21"] {
            let data = try Data(contentsOf: fixtureURL("configs/\(model)/model_index.json"))
            func reencoded(_ d: Data) throws -> Data { try ConfigFile.encode(ConfigFile.decode(ModelIndex.self, from: d, name: model)) }
            let original = try JSONValue.parse(data).objectValue!
            let written = try JSONValue.parse(reencoded(data)).objectValue!
            for (k, v) in original {
                XCTAssertNotNil(written[k], "\(model): key \(k) lost")
                if let w = written[k] { XCTAssertTrue(JSONValue.equivalent(v, w), "\(model): \(k) = \(v) became \(w)") }
            }
            XCTAssertEqual(try reencoded(reencoded(data)), try reencoded(data))
        }
    }

    /// The comparison helpers the config parity tests use: numbers by value, floats written as ints found by path.
    func testJSONEquivalenceAndFloatsWrittenAsInts() throws {
        XCTAssertTrue(JSONValue.equivalent(try JSONValue.parse(#"{"a": [1, 2.0], "b": null}"#), try JSONValue.parse(#"{"b": null, "a": [1.0, 2]}"#)))
        XCTAssertFalse(JSONValue.equivalent(try JSONValue.parse(#"{"a": 1}"#), try JSONValue.parse(#"{"a": 1, "b": 2}"#)))
        XCTAssertFalse(JSONValue.equivalent(try JSONValue.parse(#"[1, 2]"#), try JSONValue.parse(#"[1, 3]"#)))
        XCTAssertEqual(JSONValue.floatsWrittenAsInts(reference: try JSONValue.parse(#"{"eps": 1.0, "n": 2, "l": [0.5, 1.0]}"#),
                                                     written: try JSONValue.parse(#"{"eps": 1, "n": 2, "l": [0.5, 1]}"#)), ["eps", "l[1]"])
    }

    func testBadConfigNamesFileAndKey() throws {
        let dir = try makeTemporaryFolder(self)
        let url = dir.appendingPathComponent("config.json")
        try Data(#"{"_class_name": 4, "unet": ["diffusers", "UNet2DConditionModel"]}"#.utf8).write(to: url)
        assertDataIOError(.invalidHeader, file: url.path, item: "_class_name") { try ConfigFile.read(ModelIndex.self, from: url) }
        try Data(#"{"_class_name": "StableDiffusionPipeline","#.utf8).write(to: url)
        assertDataIOError(.invalidJSON, file: url.path) { try ConfigFile.read(ModelIndex.self, from: url) }
        assertDataIOError(.notFound, file: "nowhere") { try ModelFolder(dir.appendingPathComponent("nowhere")) }
        assertDataIOError(.notFound, file: dir.path) { try ModelFolder(dir).component("text_encoder").config(JSONValue.self) }
        assertDataIOError(.notFound, file: "tokenizer") { try ModelFolder(dir).tokenizerFiles() }
    }

    struct AdapterConfig: Codable, Equatable {
        var kind: String
        var hiddenSize: Int
        enum CodingKeys: String, CodingKey { case kind, hiddenSize = "hidden_size" }
    }

    /// Components added by this project (an adapter, LoRA weights) are further subfolders with config + weights.
    func testGenericComponentFolderWriteAndRead() throws {
        let dir = try makeTemporaryFolder(self)
        try ModelFolder.writeIndex(ModelIndex(className: "DPTPipeline", components: ["adapter": ["dpt", "DiscriminativeAdapter"]],
                                              extras: ["note": "test"]), to: dir)
        let m = try ModelFolder(dir)
        let w = Tensor(shape: [2, 3], scalars: [1, 2, 3, 4, 5, 6])
        try m.component("adapter").write(config: AdapterConfig(kind: "itm", hiddenSize: 64), weights: ["proj.weight": w],
                                         metadata: ["format": "pt"])
        try m.component("lora").write(config: ["rank": JSONValue.int(4), "alpha": 4.0], weights: ["up": w], weightsName: "pytorch_lora_weights.safetensors", as: .F16)
        XCTAssertEqual(m.componentNames, ["adapter", "lora"])
        XCTAssertEqual(try m.component("adapter").config(AdapterConfig.self), AdapterConfig(kind: "itm", hiddenSize: 64))
        XCTAssertEqual(try m.component("adapter").weights().tensor("proj.weight").scalars, w.scalars)
        XCTAssertEqual(try m.component("lora").weightsURL().lastPathComponent, "pytorch_lora_weights.safetensors")
        XCTAssertEqual(try m.component("lora").config(JSONValue.self)["rank"], 4)
        XCTAssertEqual(try m.modelIndex().components["adapter"], ["dpt", "DiscriminativeAdapter"])
        XCTAssertEqual(try m.modelIndex().extras["note"], "test")
        assertDataIOError(.notFound, file: "adapter", item: "adapter") { try m.component("adapter").weightsURL(variant: "fp16") }
    }

    /// Doubles keep their kind through `JSONValueEncoder` (Foundation's JSONEncoder writes 1.0 as `1`), nested
    /// containers, optionals and arrays included, and the pretty form parses back to the same value.
    func testJSONValueEncoderKeepsDoublesAndPrettyFormRoundTrips() throws {
        struct Inner: Codable, Equatable { var eps: Double = 1; var counts: [Int] = [1, 2]; var scales: [Double] = [1, 0.5] }
        struct Outer: Codable, Equatable {
            var factor: Double = 1; var steps = 3; var name = "a\"b\\c\n"; var missing: Double? = nil; var some: Float? = 2
            var flag = true; var inner = Inner(); var list = [Inner(), Inner(eps: 0)]; var empty: [Int] = []
        }
        let v = try JSONValueEncoder().encode(Outer())
        XCTAssertEqual(v["factor"], .double(1))
        XCTAssertEqual(v["steps"], .int(3))
        XCTAssertNil(v["missing"])   // synthesized Codable skips nil optionals, as JSONEncoder does
        XCTAssertEqual(v["some"], .double(2))
        XCTAssertEqual(v["inner"]?["scales"], .array([.double(1), .double(0.5)]))
        XCTAssertEqual(v["inner"]?["counts"], .array([.int(1), .int(2)]))
        XCTAssertEqual(v["list"]?.arrayValue?.count, 2)
        let text = v.prettySerialized()
        XCTAssertTrue(text.contains("\"factor\": 1.0,"), text)
        XCTAssertTrue(text.contains("\"empty\": [],"), text)
        XCTAssertTrue(text.hasSuffix("}\n"))
        XCTAssertEqual(try JSONValue.parse(text), v)
        XCTAssertEqual(try JSONDecoder().decode(Outer.self, from: Data(text.utf8)), Outer())
    }
}

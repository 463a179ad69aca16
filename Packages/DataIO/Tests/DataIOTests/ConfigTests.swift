import DataIO
import Foundation
import Tensor
import XCTest

/// Numbers compare by value (1 == 1.0); everything else structurally.
func jsonEquivalent(_ a: JSONValue, _ b: JSONValue) -> Bool {
    switch (a, b) {
    case let (.array(x), .array(y)): return x.count == y.count && zip(x, y).allSatisfy { jsonEquivalent($0, $1) }
    case let (.object(x), .object(y)): return Set(x.keys) == Set(y.keys) && x.allSatisfy { jsonEquivalent($0.value, y[$0.key]!) }
    default:
        if let p = a.doubleValue, let q = b.doubleValue { return p == q }
        return a == b
    }
}

/// The paths where `reference` holds a double and `written` an integer (Python would read an int where the library
/// wrote a float; transformers 5 refuses that in its strict config classes).
func floatsWrittenAsInts(_ reference: JSONValue, _ written: JSONValue, path: String = "") -> [String] {
    switch (reference, written) {
    case let (.array(x), .array(y)):
        return zip(x, y).enumerated().flatMap { floatsWrittenAsInts($0.element.0, $0.element.1, path: "\(path)[\($0.offset)]") }
    case let (.object(x), .object(y)):
        return x.keys.sorted().flatMap { k in y[k].map { floatsWrittenAsInts(x[k]!, $0, path: path.isEmpty ? k : "\(path).\(k)") } ?? [] }
    case (.double, .int): return [path]
    default: return []
    }
}

final class ConfigTests: XCTestCase {
    let files = ["model_index.json", "unet/config.json", "vae/config.json", "text_encoder/config.json",
                 "scheduler/scheduler_config.json"]

    func reencoded(_ rel: String, _ data: Data) throws -> Data {
        switch rel {
        case "model_index.json": return try ConfigFile.encode(ConfigFile.decode(ModelIndex.self, from: data, name: rel))
        case "unet/config.json": return try ConfigFile.encode(ConfigFile.decode(UNet2DConditionConfig.self, from: data, name: rel))
        case "vae/config.json": return try ConfigFile.encode(ConfigFile.decode(AutoencoderKLConfig.self, from: data, name: rel))
        case "text_encoder/config.json": return try ConfigFile.encode(ConfigFile.decode(CLIPTextConfig.self, from: data, name: rel))
        default: return try ConfigFile.encode(ConfigFile.decode(SchedulerConfig.self, from: data, name: rel))
        }
    }

    func testStableDiffusion15ConfigsDecode() throws {
        let m = try ModelFolder(fixtureURL("configs/sd15"))
        let index = try m.modelIndex()
        XCTAssertEqual(index.className, "StableDiffusionPipeline")
        XCTAssertEqual(index.components["unet"], ["diffusers", "UNet2DConditionModel"])
        XCTAssertEqual(index.presentComponents, ["feature_extractor", "safety_checker", "scheduler", "text_encoder", "tokenizer", "unet", "vae"])
        let u = try m.unetConfig()
        XCTAssertEqual(u.crossAttentionDim, .one(768))
        XCTAssertEqual(u.attentionHeads, [8, 8, 8, 8])
        XCTAssertEqual(u.blockOutChannels, [320, 640, 1280, 1280])
        XCTAssertEqual(u.sampleSize, .one(64))
        XCTAssertFalse(u.useLinearProjection)
        XCTAssertEqual(u.midBlockType, "UNetMidBlock2DCrossAttn", "absent key takes the default")
        XCTAssertEqual(u.diffusersVersion, "0.6.0")
        let v = try m.vaeConfig()
        XCTAssertEqual(v.blockOutChannels, [128, 256, 512, 512])
        XCTAssertEqual(v.sampleSize, 512)
        XCTAssertEqual(v.scalingFactor, 0.18215)
        let t = try m.textEncoderConfig()
        XCTAssertEqual([t.hiddenSize, t.numHiddenLayers, t.numAttentionHeads, t.intermediateSize], [768, 12, 12, 3072])
        XCTAssertEqual(t.hiddenAct, "quick_gelu")
        XCTAssertEqual(t.eosTokenId, 2)
        XCTAssertEqual(t.extras["_name_or_path"], "openai/clip-vit-large-patch14")
        let s = try m.schedulerConfig()
        XCTAssertEqual(s.className, "PNDMScheduler")
        XCTAssertEqual(s.betaSchedule, "scaled_linear")
        XCTAssertEqual([s.betaStart, s.betaEnd], [0.00085, 0.012])
        XCTAssertEqual(s.stepsOffset, 1)
        XCTAssertEqual(s.predictionType, "epsilon")
        XCTAssertEqual(s.skipPrkSteps, true)
        XCTAssertEqual(m.componentNames, ["scheduler", "text_encoder", "unet", "vae"])
    }

    func testStableDiffusion21ConfigsDecode() throws {
        let m = try ModelFolder(fixtureURL("configs/sd21"))
        let index = try m.modelIndex()
        XCTAssertEqual(index.components["safety_checker"], [nil, nil])
        XCTAssertFalse(index.presentComponents.contains("safety_checker"))
        XCTAssertEqual(index.extras["requires_safety_checker"], false)
        let u = try m.unetConfig()
        XCTAssertEqual(u.attentionHeadDim, .many([5, 10, 20, 20]))
        XCTAssertEqual(u.attentionHeads, [5, 10, 20, 20])
        XCTAssertEqual(u.crossAttentionDim, .one(1024))
        XCTAssertTrue(u.useLinearProjection)
        XCTAssertTrue(u.upcastAttention)
        XCTAssertEqual(u.sampleSize, .one(96))
        XCTAssertNil(u.numClassEmbeds)
        XCTAssertEqual(try m.vaeConfig().sampleSize, 768)
        let t = try m.textEncoderConfig()
        XCTAssertEqual([t.hiddenSize, t.numHiddenLayers, t.numAttentionHeads, t.intermediateSize, t.projectionDim], [1024, 23, 16, 4096, 512])
        XCTAssertEqual(t.hiddenAct, "gelu")
        let s = try m.schedulerConfig()
        XCTAssertEqual(s.className, "DDIMScheduler")
        XCTAssertEqual(s.predictionType, "v_prediction")
        XCTAssertFalse(s.clipSample)
        XCTAssertFalse(s.setAlphaToOne)
    }

    /// Decoding then encoding keeps every key and value of the real files (unknown keys included).
    func testRealConfigsRoundTripWithoutLoss() throws {
        for model in ["sd15", "sd21"] {
            for rel in files {
                let data = try Data(contentsOf: fixtureURL("configs/\(model)/\(rel)"))
                let original = try JSONValue.parse(data).objectValue!
                let written = try JSONValue.parse(reencoded(rel, data)).objectValue!
                for (k, v) in original {
                    XCTAssertNotNil(written[k], "\(model)/\(rel): key \(k) lost")
                    if let w = written[k] { XCTAssertTrue(jsonEquivalent(v, w), "\(model)/\(rel): \(k) = \(v) became \(w)") }
                    if let w = written[k] { XCTAssertEqual(floatsWrittenAsInts(v, w), [], "\(model)/\(rel): \(k) = \(v) became the int \(w)") }
                }
                // And what is written decodes to the same typed value.
                XCTAssertEqual(try reencoded(rel, reencoded(rel, data)), try reencoded(rel, data))
            }
        }
    }

    /// The defaults of an empty config equal the library defaults (read from diffusers'/transformers' signatures),
    /// and every key the Swift configs write is a real library key.
    func testDefaultsAndKeyNamesMatchTheLibraries() throws {
        let defaults = try JSONValue.parse(Data(contentsOf: fixtureURL("configs/defaults.json"))).objectValue!
        let empty = Data("{}".utf8)
        let cases: [(String, Data, Set<String>)] = [
            ("unet", try ConfigFile.encode(ConfigFile.decode(UNet2DConditionConfig.self, from: empty, name: "{}")), ["_class_name"]),
            ("vae", try ConfigFile.encode(ConfigFile.decode(AutoencoderKLConfig.self, from: empty, name: "{}")), ["_class_name", "shift_factor"]),
            ("scheduler", try ConfigFile.encode(ConfigFile.decode(SchedulerConfig.self, from: empty, name: "{}")), []),
            ("text_encoder", try ConfigFile.encode(ConfigFile.decode(CLIPTextConfig.self, from: empty, name: "{}")), ["dropout"]),
        ]
        for (component, data, notInSignature) in cases {
            let ours = try JSONValue.parse(data).objectValue!
            let lib = defaults[component]!.objectValue!
            var compared = 0
            for (k, v) in ours {
                if notInSignature.contains(k) { continue }
                guard let ref = lib[k] else { XCTFail("\(component): key \(k) is not a library key"); continue }
                XCTAssertTrue(jsonEquivalent(v, ref), "\(component).\(k): ours \(v), library \(ref)")
                XCTAssertEqual(floatsWrittenAsInts(ref, v), [], "\(component).\(k): the library's float \(ref) written as the int \(v)")
                compared += 1
            }
            XCTAssertGreaterThanOrEqual(compared, component == "scheduler" ? 15 : 14, component)
        }
    }

    func testBadConfigNamesFileAndKey() throws {
        let dir = try makeTemporaryFolder(self)
        let url = dir.appendingPathComponent("config.json")
        try Data(#"{"in_channels": "four", "_class_name": "UNet2DConditionModel"}"#.utf8).write(to: url)
        assertDataIOError(.invalidHeader, file: url.path, item: "in_channels") { try ConfigFile.read(UNet2DConditionConfig.self, from: url) }
        try Data(#"{"in_channels": 4,"#.utf8).write(to: url)
        assertDataIOError(.invalidJSON, file: url.path) { try ConfigFile.read(UNet2DConditionConfig.self, from: url) }
        assertDataIOError(.notFound, file: "nowhere") { try ModelFolder(dir.appendingPathComponent("nowhere")) }
        assertDataIOError(.notFound, file: dir.path) { try ModelFolder(dir).textEncoderConfig() }
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
        // Through ConfigFile: the CLIP text config's float keys stay floats.
        let clip = try JSONValue.parse(ConfigFile.encode(CLIPTextConfig()))
        for k in ["initializer_factor", "attention_dropout", "dropout", "initializer_range", "layer_norm_eps"] {
            guard case .double? = clip[k] else { XCTFail("\(k) written as \(String(describing: clip[k]))"); continue }
        }
    }
}

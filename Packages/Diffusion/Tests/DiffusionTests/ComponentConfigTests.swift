import DataIO
import Diffusion
import Foundation
import XCTest

/// The U-Net and VAE configs against the real Stable Diffusion 1.5 / 2.1 files and the diffusers 0.42 defaults
/// (Fixtures/configs, see Tools/reference/fixtures/dataio_configs.py), and their size limits.
final class ComponentConfigTests: XCTestCase {
    private func configURL(_ relative: String) throws -> URL {
        try XCTUnwrap(Bundle.module.url(forResource: "Fixtures", withExtension: nil), "Fixtures folder missing")
            .appendingPathComponent("configs").appendingPathComponent(relative)
    }

    private func reencoded(_ rel: String, _ data: Data) throws -> Data {
        rel.hasPrefix("unet") ? try ConfigFile.encode(ConfigFile.decode(UNet2DConditionConfig.self, from: data, name: rel))
                              : try ConfigFile.encode(ConfigFile.decode(AutoencoderKLConfig.self, from: data, name: rel))
    }

    func testStableDiffusion15ConfigsDecode() throws {
        let m = try ModelFolder(configURL("sd15"))
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
    }

    func testStableDiffusion21ConfigsDecode() throws {
        let m = try ModelFolder(configURL("sd21"))
        let u = try m.unetConfig()
        XCTAssertEqual(u.attentionHeadDim, .many([5, 10, 20, 20]))
        XCTAssertEqual(u.attentionHeads, [5, 10, 20, 20])
        XCTAssertEqual(u.crossAttentionDim, .one(1024))
        XCTAssertTrue(u.useLinearProjection)
        XCTAssertTrue(u.upcastAttention)
        XCTAssertEqual(u.sampleSize, .one(96))
        XCTAssertNil(u.numClassEmbeds)
        XCTAssertEqual(try m.vaeConfig().sampleSize, 768)
    }

    /// Decoding then encoding keeps every key and value of the real files (unknown keys included), floats as floats.
    func testRealConfigsRoundTripWithoutLoss() throws {
        for model in ["sd15", "sd21"] {
            for rel in ["unet/config.json", "vae/config.json"] {
                let data = try Data(contentsOf: configURL("\(model)/\(rel)"))
                let original = try JSONValue.parse(data).objectValue!
                let written = try JSONValue.parse(reencoded(rel, data)).objectValue!
                for (k, v) in original {
                    XCTAssertNotNil(written[k], "\(model)/\(rel): key \(k) lost")
                    guard let w = written[k] else { continue }
                    XCTAssertTrue(JSONValue.equivalent(v, w), "\(model)/\(rel): \(k) = \(v) became \(w)")
                    XCTAssertEqual(JSONValue.floatsWrittenAsInts(reference: v, written: w), [], "\(model)/\(rel): \(k) = \(v) became the int \(w)")
                }
                XCTAssertEqual(try reencoded(rel, reencoded(rel, data)), try reencoded(rel, data))
            }
        }
    }

    /// The defaults of an empty config equal diffusers' (read from the constructors' signatures), and every key
    /// written is a real diffusers key.
    func testDefaultsAndKeyNamesMatchDiffusers() throws {
        let defaults = try JSONValue.parse(Data(contentsOf: configURL("defaults.json"))).objectValue!
        let empty = Data("{}".utf8)
        let cases: [(String, Data, Set<String>)] = [
            ("unet", try ConfigFile.encode(ConfigFile.decode(UNet2DConditionConfig.self, from: empty, name: "{}")), ["_class_name"]),
            ("vae", try ConfigFile.encode(ConfigFile.decode(AutoencoderKLConfig.self, from: empty, name: "{}")), ["_class_name", "shift_factor"]),
        ]
        for (component, data, notInSignature) in cases {
            let ours = try JSONValue.parse(data).objectValue!
            let lib = try XCTUnwrap(defaults[component]?.objectValue, component)
            var compared = 0
            for (k, v) in ours where !notInSignature.contains(k) {
                guard let ref = lib[k] else { XCTFail("\(component): key \(k) is not a diffusers key"); continue }
                XCTAssertTrue(JSONValue.equivalent(v, ref), "\(component).\(k): ours \(v), diffusers \(ref)")
                XCTAssertEqual(JSONValue.floatsWrittenAsInts(reference: ref, written: v), [], "\(component).\(k): the float \(ref) written as the int \(v)")
                compared += 1
            }
            XCTAssertGreaterThanOrEqual(compared, 14, component)
        }
    }

    /// Sizes a model would allocate from are refused while decoding, naming the key; real configs are far inside.
    func testHostileSizesAreRefusedNamingTheKey() throws {
        func expectLimit<T: Decodable>(_ type: T.Type, _ json: String, _ key: String, line: UInt = #line) {
            XCTAssertThrowsError(try ConfigFile.decode(type, from: Data(json.utf8), name: "hostile/config.json"), json, line: line) { e in
                guard let e = e as? DataIOError else { return XCTFail("not a DataIOError: \(e)", line: line) }
                XCTAssertEqual(e.kind, .limitExceeded, "\(e)", line: line)
                XCTAssertTrue(e.description.contains("hostile/config.json") && e.description.contains(key), "\(e)", line: line)
            }
        }
        let unetCases: [(String, String)] = [
            (#"{"block_out_channels": [320, 640, 1e12, 1280]}"#, "block_out_channels.2"),
            (#"{"layers_per_block": [2, 2, 2, 1099511627776]}"#, "layers_per_block.3"),
            (#"{"layers_per_block": 1099511627776}"#, "layers_per_block"),
            (#"{"cross_attention_dim": 1e9}"#, "cross_attention_dim"),
            (#"{"attention_head_dim": 0}"#, "attention_head_dim"),
            (#"{"norm_num_groups": 0}"#, "norm_num_groups"),
            (#"{"down_block_types": [\#(Array(repeating: "\"DownBlock2D\"", count: 65).joined(separator: ","))]}"#, "down_block_types"),
            (#"{"sample_size": [64, 1e9]}"#, "sample_size.1"),
        ]
        for (json, key) in unetCases { expectLimit(UNet2DConditionConfig.self, json, key) }
        expectLimit(AutoencoderKLConfig.self, #"{"latent_channels": -4}"#, "latent_channels")
        XCTAssertEqual(try ConfigFile.read(UNet2DConditionConfig.self, from: configURL("sd21/unet/config.json")).blockOutChannels,
                       [320, 640, 1280, 1280])
    }

    /// The scheduler config every model folder goes through: sizes that would allocate or index out of range are
    /// refused naming the key, and a `steps_offset` that pushes "leading" timesteps past T - 1 fails at set-up.
    func testHostileSchedulerConfigsAreRefusedNamingTheKey() throws {
        for (json, key) in [(#"{"_class_name": "DDIMScheduler", "num_train_timesteps": 1e12}"#, "num_train_timesteps"),
                            (#"{"_class_name": "DDIMScheduler", "num_train_timesteps": 0}"#, "num_train_timesteps"),
                            (#"{"_class_name": "DDIMScheduler", "steps_offset": 1000000000000}"#, "steps_offset"),
                            (#"{"_class_name": "DDIMScheduler", "steps_offset": -1}"#, "steps_offset"),
                            (#"{"_class_name": "DPMSolverMultistepScheduler", "solver_order": 9}"#, "solver_order")] {
            XCTAssertThrowsError(try SchedulerConfiguration(data: Data(json.utf8)), json) { e in
                XCTAssertTrue("\(e)".contains("key '\(key)'"), "\(e)")
            }
        }
        let nested = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        XCTAssertThrowsError(try SchedulerConfiguration(data: Data(#"{"_class_name": "DDIMScheduler", "x": \#(nested)}"#.utf8)))
        let edge = try SchedulerConfiguration(data: Data(#"{"_class_name": "DDIMScheduler", "num_train_timesteps": 10, "steps_offset": 1, "timestep_spacing": "leading"}"#.utf8))
        let ddim = try DDIMScheduler(config: edge)
        XCTAssertNoThrow(try ddim.setTimesteps(5))      // 9, 7, 5, 3, 1
        XCTAssertThrowsError(try ddim.setTimesteps(10)) { e in XCTAssertTrue("\(e)".contains("steps_offset"), "\(e)") }
    }

    func testBadConfigNamesFileAndKey() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("unet-config-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("config.json")
        try Data(#"{"in_channels": "four", "_class_name": "UNet2DConditionModel"}"#.utf8).write(to: url)
        XCTAssertThrowsError(try ConfigFile.read(UNet2DConditionConfig.self, from: url)) { e in
            XCTAssertEqual((e as? DataIOError)?.kind, .invalidHeader, "\(e)")
            XCTAssertTrue("\(e)".contains(url.path) && "\(e)".contains("in_channels"), "\(e)")
        }
    }
}

/// A U-Net config whose sizes are each within limits but multiply past the weights file is refused before its
/// parameters are allocated (strict loads only: every parameter must come from the file).
final class UNetConfigBudgetTests: XCTestCase {
    func testConfigAskingForMoreParametersThanTheFileHoldsIsRefusedUnallocated() throws {
        let source = try XCTUnwrap(Bundle.module.url(forResource: "Fixtures", withExtension: nil)).appendingPathComponent("tiny-sd1-unet")
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("unet-budget-\(UUID().uuidString)")
        try FileManager.default.copyItem(at: source, to: dir)
        defer { try? FileManager.default.removeItem(at: dir) }
        let configURL = dir.appendingPathComponent("config.json")
        guard case var .object(o) = try JSONValue.parse(Data(contentsOf: configURL)) else { return XCTFail("config not an object") }
        o["block_out_channels"] = .array([.int(32 << 12), .int(64 << 12)])   // 1000x the channels: ~10^13 elements
        try Data(JSONValue.object(o).serialized().utf8).write(to: configURL)
        XCTAssertThrowsError(try UNet2DConditionModel.load(from: ComponentFolder(dir))) { e in
            XCTAssertTrue("\(e)".contains("parameter elements") && "\(e)".contains("config.json"), "\(e)")
        }
        XCTAssertNoThrow(try UNet2DConditionModel.load(from: ComponentFolder(source)))
    }
}

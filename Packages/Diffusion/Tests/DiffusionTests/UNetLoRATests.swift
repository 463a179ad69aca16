import Autodiff
import DataIO
import Diffusion
import Foundation
import NN
import Tensor
import XCTest

private typealias F = UNetVAEFixtures

/// `UNetLoRA`: zero-initialised adapters leave the U-Net exactly unchanged; the component folder round-trips;
/// merged and unmerged adapters agree; selection and errors.
final class UNetLoRATests: XCTestCase {
    private func output(_ unet: UNet2DConditionModel) throws -> Tensor {
        GradMode.noGrad {
            unet.predict(Variable(try! F.tensor("sd1.sample")), timesteps: try! F.tensor("sd1.timesteps").scalars,
                         context: Variable(try! F.tensor("sd1.context"))).value
        }
    }

    func testAttachAtInitLeavesOutputBitwiseEqual() throws {
        let unet = try F.unet("tiny-sd1-unet")
        let before = try output(unet)
        let wrapped = try UNetLoRA.attach(to: unet, config: UNetLoRAConfig(r: 2), seed: 3)
        XCTAssertEqual(wrapped.count, unet.attentionProjections().count)
        XCTAssertEqual(try output(unet).scalars, before.scalars, "zero-initialised LoRA must not change the output")
        // Only the adapters train.
        let trainable = unet.store.namedParameters().filter { $0.variable.requiresGrad }.map(\.name)
        XCTAssertFalse(trainable.isEmpty)
        XCTAssertTrue(trainable.allSatisfy { $0.contains(".lora_A.") || $0.contains(".lora_B.") }, "\(trainable.prefix(3))")
    }

    func testSelectionByKindAndModule() throws {
        let unet = try F.unet("tiny-sd1-unet")
        let cfg = UNetLoRAConfig(r: 2, targetModules: ["to_k", "to_v"], attentionKinds: ["attn2"])
        let wrapped = try UNetLoRA.attach(to: unet, config: cfg, seed: 0)
        XCTAssertEqual(wrapped.count, unet.attentionProjections().count / 4)
        XCTAssertTrue(wrapped.allSatisfy { $0.path.contains(".attn2.") && ($0.path.hasSuffix(".to_k") || $0.path.hasSuffix(".to_v")) })
        XCTAssertThrowsError(try UNetLoRA.attach(to: try F.unet("tiny-sd1-unet"), config: UNetLoRAConfig(r: 2, targetModules: ["to_x"]), seed: 0)) {
            XCTAssertTrue("\($0)".contains("to_x"), "\($0)")
        }
        XCTAssertThrowsError(try UNetLoRA.attach(to: unet, config: cfg, seed: 0)) {
            XCTAssertTrue("\($0)".contains("already carries"), "\($0)")
        }
    }

    func testSaveLoadRoundTripMergedAndUnmerged() throws {
        let unet = try F.unet("tiny-sd1-unet")
        let cfg = UNetLoRAConfig(r: 2, loraAlpha: 4)
        try UNetLoRA.attach(to: unet, config: cfg, seed: 1)
        // Give the up projections non-zero values so that the adapters matter.
        var g = TorchGenerator(seed: 7)
        for l in unet.store.loraLayers() { l.lora!.up.value = g.randn(l.lora!.up.value.shape) * 0.05 }
        let tuned = try output(unet)
        let base = try output(try F.unet("tiny-sd1-unet"))
        XCTAssertGreaterThan(F.maxAbsDiff(tuned, base), 1e-3)

        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("unet-lora-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        try UNetLoRA.save(unet, config: cfg, to: dir)
        let file = try SafetensorsFile(contentsOf: dir.appendingPathComponent(UNetLoRA.weightsFileName))
        XCTAssertTrue(file.tensorNames.allSatisfy { $0.hasPrefix("unet.") && $0.contains(".lora_") })
        XCTAssertEqual(file.tensorNames.count, 2 * unet.attentionProjections().count)

        let unmerged = try F.unet("tiny-sd1-unet")
        XCTAssertEqual(try UNetLoRA.load(from: dir, into: unmerged, merge: false), cfg)
        XCTAssertEqual(try output(unmerged).scalars, tuned.scalars)   // the same unmerged weights and path: the same bits
        let merged = try F.unet("tiny-sd1-unet")
        try UNetLoRA.load(from: dir, into: merged, merge: true)
        XCTAssertLessThan(F.maxAbsDiff(try output(merged), tuned), 1e-5)

        // A folder without the config, and a weights file with a missing key, are refused by name.
        XCTAssertThrowsError(try UNetLoRA.load(from: dir.appendingPathComponent("nope"), into: try F.unet("tiny-sd1-unet"), merge: false)) {
            XCTAssertTrue("\($0)".contains(UNetLoRA.configFileName), "\($0)")
        }
        var dict: [String: Tensor] = [:]
        for n in file.tensorNames.dropFirst() { dict[n] = try file.tensor(n) }
        try SafetensorsFile.write(dict, to: dir.appendingPathComponent(UNetLoRA.weightsFileName))
        XCTAssertThrowsError(try UNetLoRA.load(from: dir, into: try F.unet("tiny-sd1-unet"), merge: false)) {
            XCTAssertTrue("\($0)".contains(String(file.tensorNames[0].dropFirst(5))), "\($0)")
        }
    }

    /// The down projections start as configured: N(0, 1/r²) by default (the release's diffusers `LoRALinearLayer`),
    /// kaiming-uniform (PEFT's default) on request; `adapter_config.json` writes PEFT's `init_lora_weights` and reads
    /// files without it as kaiming (what they were made with).
    func testDownProjectionInitialisationAndItsConfigKey() throws {
        func downStd(_ initialization: LoRAInitialization, r: Int) throws -> (std: Double, maxAbs: Float, bound: Float) {
            let unet = try F.unet("tiny-sd1-unet")
            try UNetLoRA.attach(to: unet, config: UNetLoRAConfig(r: r, initialization: initialization), seed: 3)
            var values: [Float] = [], bound: Float = .infinity
            for l in unet.store.loraLayers() {
                values += l.lora!.down.value.contiguous().scalars
                bound = min(bound, 1 / Float(l.inFeatures).squareRoot())
                // B comes from the `.zeros` initializer, no arithmetic: exactly 0 on every CPU.
                XCTAssertEqual(l.lora!.up.value.scalars.map(abs).max(), 0)
            }
            let m = values.reduce(0.0) { $0 + Double($1) } / Double(values.count)
            let v = values.reduce(0.0) { $0 + (Double($1) - m) * (Double($1) - m) } / Double(values.count)
            return (v.squareRoot(), values.map(abs).max()!, bound)
        }
        let g = try downStd(.gaussian, r: 2)
        XCTAssertEqual(g.std, 0.5, accuracy: 0.05, "N(0, 1/r^2) with r 2")
        let k = try downStd(.kaiming, r: 2)
        XCTAssertLessThan(k.std, 0.3)
        XCTAssertGreaterThan(k.maxAbs, 0)
        let widest = try F.unet("tiny-sd1-unet").attentionProjections().map { 1 / Float($0.linear.inFeatures).squareRoot() }.max()!
        XCTAssertLessThanOrEqual(k.maxAbs, widest + 1e-6, "kaiming-uniform a = sqrt(5) is bounded by 1/sqrt(in)")
        XCTAssertEqual(UNetLoRAConfig(r: 2).initialization, .gaussian)

        for (ini, text) in [(LoRAInitialization.gaussian, "\"gaussian\""), (.kaiming, "true")] {
            let data = try JSONEncoder().encode(UNetLoRAConfig(r: 2, initialization: ini))
            XCTAssertTrue(String(decoding: data, as: UTF8.self).contains("\"init_lora_weights\":\(text)"))
            XCTAssertEqual(try JSONDecoder().decode(UNetLoRAConfig.self, from: data).initialization, ini)
        }
        let old = #"{"r": 2, "lora_alpha": 2, "target_modules": ["to_q"], "attention_kinds": ["attn1"]}"#
        XCTAssertEqual(try JSONDecoder().decode(UNetLoRAConfig.self, from: Data(old.utf8)).initialization, .kaiming)
        for bad in ["false", "\"orthogonal\""] {
            let json = #"{"r": 2, "lora_alpha": 2, "target_modules": ["to_q"], "attention_kinds": ["attn1"], "init_lora_weights": "# + bad + "}"
            XCTAssertThrowsError(try JSONDecoder().decode(UNetLoRAConfig.self, from: Data(json.utf8))) {
                XCTAssertTrue("\($0)".contains("init_lora_weights") || "\($0)".contains("not"), "\($0)")
            }
        }
    }
}

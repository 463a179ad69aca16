import Autodiff
import DataIO
import Diffusion
import Foundation
import NN
import Tensor
import XCTest

/// The U-Net/VAE fixtures written by Tools/reference/fixtures/diffusion_unet_vae.py (diffusers 0.42.1).
enum UNetVAEFixtures {
    static func url(_ name: String) throws -> URL {
        let root = try XCTUnwrap(Bundle.module.url(forResource: "Fixtures", withExtension: nil), "Fixtures folder missing")
        return root.appendingPathComponent(name)
    }

    static let reference: SafetensorsFile = {
        try! SafetensorsFile(contentsOf: try! url("unet_vae_reference.safetensors"))
    }()

    static func tensor(_ name: String) throws -> Tensor { try reference.tensor(name) }

    /// Max |a − b|.
    static func maxAbsDiff(_ a: Tensor, _ b: Tensor) -> Float {
        precondition(a.shape == b.shape, "shapes \(a.shape) and \(b.shape) differ")
        return zip(a.scalars, b.scalars).reduce(0) { Swift.max($0, Swift.abs($1.0 - $1.1)) }
    }

    /// Max |a − b| / max |b|.
    static func relativeMaxError(_ a: Tensor, _ b: Tensor) -> Float {
        let scale = b.scalars.reduce(0) { Swift.max($0, Swift.abs($1)) }
        return maxAbsDiff(a, b) / Swift.max(scale, 1e-12)
    }

    static func assertClose(_ a: Tensor, _ b: Tensor, abs tol: Float, _ what: String,
                            file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.shape, b.shape, "\(what): shape", file: file, line: line)
        guard a.shape == b.shape else { return }
        let d = maxAbsDiff(a, b)
        XCTAssertLessThanOrEqual(d, tol, "\(what): max abs diff \(d)", file: file, line: line)
    }

    static func assertRelativelyClose(_ a: Tensor?, _ b: Tensor, rel tol: Float, _ what: String,
                                      file: StaticString = #filePath, line: UInt = #line) {
        guard let a else { return XCTFail("\(what): no gradient", file: file, line: line) }
        XCTAssertEqual(a.shape, b.shape, "\(what): shape", file: file, line: line)
        guard a.shape == b.shape else { return }
        let e = relativeMaxError(a, b)
        XCTAssertLessThanOrEqual(e, tol, "\(what): relative error \(e)", file: file, line: line)
    }

    static func unet(_ folder: String) throws -> UNet2DConditionModel {
        try UNet2DConditionModel.load(from: ComponentFolder(try url(folder)))
    }

    /// A scratch copy of a fixture folder in a fresh temporary directory.
    static func scratchCopy(_ folder: String) throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("diffusion-unet-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let dst = dir.appendingPathComponent(folder)
        try FileManager.default.copyItem(at: try url(folder), to: dst)
        return dst
    }
}

final class UNetTests: XCTestCase {
    typealias F = UNetVAEFixtures

    /// Runs the case's forward with every tap and checks output, taps and gradients against diffusers.
    private func checkParity(case c: String, folder: String, params: [String], contextGradient: Bool = false) throws {
        let unet = try F.unet(folder)
        let sample = Variable(try F.tensor("\(c).sample"), requiresGrad: true)
        let timesteps = try F.tensor("\(c).timesteps").scalars
        let context = Variable(try F.tensor("\(c).context"), requiresGrad: contextGradient)
        let out = unet.forward(sample, timesteps: timesteps, context: context, taps: Set(unet.tapNames))
        let y = try XCTUnwrap(out.sample)
        F.assertClose(y.value, try F.tensor("\(c).output"), abs: 1e-4, "\(c) output")
        XCTAssertEqual(Set(out.features.keys), Set(unet.tapNames))
        for name in unet.tapNames {
            F.assertClose(try XCTUnwrap(out.features[name]).value, try F.tensor("\(c).tap.\(name)"), abs: 1e-4, "\(c) tap \(name)")
        }
        try (y * F.tensor("\(c).upstream")).sum().backward()
        F.assertRelativelyClose(sample.grad, try F.tensor("\(c).grad.sample"), rel: 1e-3, "\(c) d/d sample")
        if contextGradient {
            F.assertRelativelyClose(context.grad, try F.tensor("\(c).grad.context"), rel: 1e-3, "\(c) d/d encoder_hidden_states")
        }
        for p in params {
            F.assertRelativelyClose(unet.store[p]?.grad, try F.tensor("\(c).grad.\(p)"), rel: 1e-3, "\(c) d/d \(p)")
        }
    }

    func testTinySD1MatchesDiffusers() throws {
        try checkParity(case: "sd1", folder: "tiny-sd1-unet", params: [
            "conv_in.weight",
            "time_embedding.linear_1.weight",
            "down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_k.weight",
            "down_blocks.0.attentions.1.proj_in.weight",
            "down_blocks.0.downsamplers.0.conv.weight",
            "mid_block.resnets.1.time_emb_proj.weight",
            "mid_block.attentions.0.norm.weight",
            "up_blocks.0.upsamplers.0.conv.bias",
            "up_blocks.1.resnets.0.conv_shortcut.weight",
            "up_blocks.1.attentions.2.transformer_blocks.0.ff.net.0.proj.weight",
            "up_blocks.1.attentions.2.transformer_blocks.0.norm3.bias",
            "conv_norm_out.weight",
            "conv_out.bias",
        ])
    }

    /// Linear projections, per-block heads, three blocks, flip_sin_to_cos false, freq_shift 1, center_input_sample,
    /// per-sample fractional timesteps, and a 10x12 sample (the up path resizes to the skip sizes).
    func testTinySD2MatchesDiffusers() throws {
        try checkParity(case: "sd2", folder: "tiny-sd2-unet", params: [
            "time_embedding.linear_2.bias",
            "down_blocks.1.attentions.0.proj_in.weight",
            "down_blocks.1.attentions.0.transformer_blocks.0.attn1.to_v.weight",
            "mid_block.attentions.0.transformer_blocks.0.attn2.to_q.weight",
            "mid_block.attentions.0.proj_out.weight",
            "up_blocks.1.upsamplers.0.conv.weight",
            "up_blocks.2.resnets.1.conv_shortcut.weight",
            "up_blocks.2.attentions.1.transformer_blocks.0.ff.net.2.weight",
            "conv_out.weight",
        ])
    }

    /// `addition_embed_type: "text"`: the attention-pooled prompt added to the timestep embedding (diffusers'
    /// `TextTimeEmbedding`, 4 pooling heads), per-sample timesteps; gradients reach the text states through both the
    /// cross-attention and the pooling.
    func testTextTimeEmbeddingMatchesDiffusers() throws {
        try checkParity(case: "tt", folder: "tiny-text-time-unet", params: [
            "add_embedding.norm1.weight",
            "add_embedding.pool.positional_embedding",
            "add_embedding.pool.q_proj.weight",
            "add_embedding.pool.k_proj.weight",   // (its bias gets no gradient: softmax ignores a shift shared by all keys)
            "add_embedding.pool.v_proj.weight",
            "add_embedding.proj.weight",
            "add_embedding.norm2.bias",
            "time_embedding.linear_2.weight",
        ], contextGradient: true)
        // The embedding matters: without it the output differs.
        let unet = try F.unet("tiny-text-time-unet")
        var plain = unet.config
        plain.additionEmbedType = nil
        let without = try UNet2DConditionModel(config: plain, store: ParameterStore(initialization: .uninitialized))
        let state = unet.store.stateDict().filter { !$0.key.hasPrefix("add_embedding.") }
        try without.store.loadStateDict(state)
        let y = without.predict(Variable(try F.tensor("tt.sample")), timesteps: try F.tensor("tt.timesteps").scalars,
                                context: Variable(try F.tensor("tt.context"))).value
        XCTAssertGreaterThan(F.maxAbsDiff(y, try F.tensor("tt.output")), 1e-2)
    }

    /// LoRA on every attention projection, reached through `attentionProjections()`: output and gradients of the
    /// adapters and the sample match diffusers with the same adapters as forward hooks.
    func testLoRAOnAttentionProjectionsMatchesDiffusers() throws {
        let unet = try F.unet("tiny-sd1-unet")
        let projections = unet.attentionProjections()
        XCTAssertEqual(projections.count, (2 + 1 + 3) * 2 * 4)   // 6 transformer blocks x (attn1, attn2) x (q, k, v, out)
        XCTAssertTrue(projections.contains { $0.path == "down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q" })
        XCTAssertTrue(projections.contains { $0.path == "up_blocks.1.attentions.2.transformer_blocks.0.attn2.to_out.0" })
        for p in projections { XCTAssertTrue(unet.store.module(at: p.path) === p.linear, p.path) }
        var g = TorchGenerator(seed: 0)
        for p in projections { unet.store.addLoRA(to: p.linear, rank: 4, alpha: 4, generator: &g) }
        let prefix = "sd1lora.adapter."
        var adapters: [String: Tensor] = [:]
        for name in F.reference.tensorNames where name.hasPrefix(prefix) {
            adapters[String(name.dropFirst(prefix.count))] = try F.tensor(name)
        }
        XCTAssertEqual(adapters.count, projections.count * 2)
        try unet.store.loadLoRAStateDict(adapters)

        let sample = Variable(try F.tensor("sd1.sample"), requiresGrad: true)
        let y = unet.predict(sample, timesteps: try F.tensor("sd1.timesteps").scalars, context: Variable(try F.tensor("sd1.context")))
        F.assertClose(y.value, try F.tensor("sd1lora.output"), abs: 1e-4, "LoRA output")
        XCTAssertGreaterThan(F.maxAbsDiff(y.value, try F.tensor("sd1.output")), 1e-2, "the adapters must change the output")
        try (y * F.tensor("sd1lora.upstream")).sum().backward()
        F.assertRelativelyClose(sample.grad, try F.tensor("sd1lora.grad.sample"), rel: 1e-3, "LoRA d/d sample")
        for name in ["down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q.lora_A.weight",
                     "down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_v.lora_B.weight",
                     "mid_block.attentions.0.transformer_blocks.0.attn2.to_k.lora_A.weight",
                     "up_blocks.1.attentions.1.transformer_blocks.0.attn1.to_out.0.lora_B.weight"] {
            F.assertRelativelyClose(unet.store[name]?.grad, try F.tensor("sd1lora.grad.\(name)"), rel: 1e-3, "d/d \(name)")
        }
        // The base weights were frozen by addLoRA: no gradient reaches them.
        XCTAssertNil(unet.store["down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q.weight"]?.grad)
    }

    /// Frozen parameters: the gradient still reaches the sample (self-correction's case) and no parameter gets one.
    func testInputGradientWithFrozenParameters() throws {
        let unet = try F.unet("tiny-sd2-unet")
        unet.store.freeze()
        let sample = Variable(try F.tensor("sd2.sample"), requiresGrad: true)
        let y = unet.predict(sample, timesteps: try F.tensor("sd2.timesteps").scalars, context: Variable(try F.tensor("sd2.context")))
        try (y * F.tensor("sd2.upstream")).sum().backward()
        F.assertRelativelyClose(sample.grad, try F.tensor("sd2.grad.sample"), rel: 1e-3, "frozen d/d sample")
        XCTAssertTrue(unet.store.namedParameters().allSatisfy { $0.variable.grad == nil })
    }

    /// Tapping without the output returns just the requested features (equal to the full pass's) and stops after
    /// the last requested block: fewer graph nodes are recorded the earlier the tap.
    func testFeatureTapsStopEarly() throws {
        let unet = try F.unet("tiny-sd2-unet")
        XCTAssertEqual(unet.tapNames, ["down0", "down1", "down2", "mid", "up0", "up1", "up2"])
        let ts = try F.tensor("sd2.timesteps").scalars
        let context = Variable(try F.tensor("sd2.context"))
        var nodes: [Int] = []
        for taps: Set<String> in [["down0"], ["down1", "mid"], ["up1"]] {
            let sample = Variable(try F.tensor("sd2.sample"), requiresGrad: true)
            let before = GraphStatistics.liveNodes
            let out = unet.forward(sample, timesteps: ts, context: context, taps: taps, computeOutput: false)
            nodes.append(GraphStatistics.liveNodes - before)
            XCTAssertNil(out.sample)
            XCTAssertEqual(Set(out.features.keys), taps)
            for t in taps {
                F.assertClose(out.features[t]!.value, try F.tensor("sd2.tap.\(t)"), abs: 1e-4, "early tap \(t)")
            }
            // Gradients flow from a tapped feature to the sample.
            out.features[taps.sorted().first!]!.sum().backward()
            XCTAssertNotNil(sample.grad)
        }
        XCTAssertLessThan(nodes[0], nodes[1])
        XCTAssertLessThan(nodes[1], nodes[2])
        let full = unet.forward(Variable(try F.tensor("sd2.sample"), requiresGrad: true), timesteps: ts, context: context)
        XCTAssertTrue(full.features.isEmpty)
        XCTAssertNotNil(full.sample)
        XCTAssertEqual(unet.features(Variable(try F.tensor("sd2.sample")), timesteps: ts, context: context, taps: []).count, 0)
    }

    /// A shared timestep equals the same timestep given per sample; no-grad inference records nothing.
    func testSharedTimestepAndNoGradInference() throws {
        let unet = try F.unet("tiny-sd1-unet")
        let sample = Variable(try F.tensor("sd1.sample"))
        let context = Variable(try F.tensor("sd1.context"))
        let before = GraphStatistics.liveNodes
        let shared = GradMode.noGrad { unet(sample, timestep: 10, encoderHiddenStates: context) }
        XCTAssertEqual(GraphStatistics.liveNodes, before)
        F.assertClose(shared.value, try F.tensor("sd1.output"), abs: 1e-4, "shared timestep")
    }

    /// The real SD 1.5 and SD 2.1 U-Net configs build (without allocating values) with diffusers' parameter counts.
    func testRealStableDiffusionConfigsParameterCounts() throws {
        for (file, expected) in [("sd15-unet.json", 859_520_964), ("sd21-unet.json", 865_910_724)] {
            let config = try ConfigFile.read(UNet2DConditionConfig.self, from: try F.url("sd-configs/\(file)"))
            let unet = try UNet2DConditionModel(config: config, store: ParameterStore(initialization: .uninitialized))
            XCTAssertEqual(unet.store.parameterCount(), expected, file)
            XCTAssertEqual(unet.attentionProjections().count, 16 * 2 * 4, file)
            XCTAssertEqual(unet.contextDim, file.hasPrefix("sd15") ? 768 : 1024)
        }
    }

    /// The tiny folders' configs (written by save_pretrained, every key present) hold exactly diffusers' keys.
    func testLoadedStateDictKeysMatchTheFile() throws {
        for folder in ["tiny-sd1-unet", "tiny-sd2-unet"] {
            let component = ComponentFolder(try F.url(folder))
            let unet = try UNet2DConditionModel.load(from: component)
            XCTAssertEqual(Set(unet.store.stateDictNames()), Set(try component.weights().tensorNames), folder)
            XCTAssertTrue(unet.store.uninitializedNames.isEmpty, folder)
        }
    }

    // MARK: Bad input

    private func expectError(_ kind: ModelComponentError.Kind, containing parts: [String],
                             file: StaticString = #filePath, line: UInt = #line, _ body: () throws -> Void) {
        do {
            try body()
            XCTFail("expected an error containing \(parts)", file: file, line: line)
        } catch let e as ModelComponentError {
            XCTAssertEqual(e.kind, kind, "\(e)", file: file, line: line)
            for p in parts { XCTAssertTrue(e.description.contains(p), "'\(e)' lacks '\(p)'", file: file, line: line) }
        } catch {
            XCTFail("unexpected error \(error)", file: file, line: line)
        }
    }

    func testWeightFileProblemsNameTheComponentAndKeys() throws {
        let folder = try F.scratchCopy("tiny-sd2-unet")
        defer { try? FileManager.default.removeItem(at: folder.deletingLastPathComponent()) }
        let weightsURL = folder.appendingPathComponent("diffusion_pytorch_model.safetensors")
        let original = try SafetensorsFile(contentsOf: weightsURL).allTensors()

        var missing = original
        missing["mid_block.attentions.0.transformer_blocks.0.attn2.to_k.weight"] = nil
        try SafetensorsFile.write(missing, to: weightsURL)
        expectError(.weights, containing: ["unet", "missing", "mid_block.attentions.0.transformer_blocks.0.attn2.to_k.weight"]) {
            _ = try UNet2DConditionModel.load(from: ComponentFolder(folder))
        }
        // Non-strict loading reports the key and loads the rest.
        let lenient = try UNet2DConditionModel.load(from: ComponentFolder(folder), strict: false)
        XCTAssertEqual(lenient.store.uninitializedNames, ["mid_block.attentions.0.transformer_blocks.0.attn2.to_k.weight"])

        var misshaped = original
        misshaped["conv_in.weight"] = Tensor.zeros([8, 4, 1, 1])
        misshaped["extra.weight"] = Tensor.zeros([2])
        try SafetensorsFile.write(misshaped, to: weightsURL)
        expectError(.weights, containing: ["unet", "conv_in.weight", "[8, 4, 3, 3]", "[8, 4, 1, 1]", "unexpected", "extra.weight"]) {
            _ = try UNet2DConditionModel.load(from: ComponentFolder(folder))
        }

        try FileManager.default.removeItem(at: weightsURL)
        XCTAssertThrowsError(try UNet2DConditionModel.load(from: ComponentFolder(folder))) { e in
            XCTAssertTrue("\(e)".contains("no weights file"), "\(e)")
        }
    }

    func testUnsupportedConfigsAreRejected() throws {
        let base = try ConfigFile.read(UNet2DConditionConfig.self, from: try F.url("tiny-sd1-unet/config.json"))
        func build(_ edit: (inout UNet2DConditionConfig) -> Void) throws {
            var c = base
            edit(&c)
            _ = try UNet2DConditionModel(config: c, store: ParameterStore(initialization: .uninitialized))
        }
        expectError(.config, containing: ["unet", "down_block_types[1]", "SimpleCrossAttnDownBlock2D"]) {
            try build { $0.downBlockTypes[1] = "SimpleCrossAttnDownBlock2D" }
        }
        expectError(.config, containing: ["up_block_types[0]", "AttnUpBlock2D"]) { try build { $0.upBlockTypes[0] = "AttnUpBlock2D" } }
        expectError(.config, containing: ["mid_block_type", "UNetMidBlock2DSimpleCrossAttn"]) {
            try build { $0.midBlockType = "UNetMidBlock2DSimpleCrossAttn" }
        }
        expectError(.config, containing: ["num_attention_heads"]) { try build { $0.numAttentionHeads = .one(8) } }
        expectError(.config, containing: ["attention_head_dim", "3 entries"]) { try build { $0.attentionHeadDim = .many([8, 8, 8]) } }
        expectError(.config, containing: ["norm_num_groups 24"]) { try build { $0.normNumGroups = 24 } }
        expectError(.config, containing: ["class_embed_type"]) { try build { $0.classEmbedType = "timestep" } }
        expectError(.config, containing: ["addition_embed_type 'image'", "null or text"]) { try build { $0.additionEmbedType = "image" } }
        expectError(.config, containing: ["addition_embed_type_num_heads", "cross_attention_dim 32"]) {
            try build { $0.additionEmbedType = "text"; $0.additionEmbedTypeNumHeads = .int(5) }
        }
        expectError(.config, containing: ["time_cond_proj_dim"]) { try build { $0.extras["time_cond_proj_dim"] = .int(32) } }
        // A config that only lacks a mid block builds, without the `mid` tap.
        var noMid = base
        noMid.midBlockType = nil
        let unet = try UNet2DConditionModel(config: noMid, store: ParameterStore(initialization: .uninitialized))
        XCTAssertEqual(unet.tapNames, ["down0", "down1", "up0", "up1"])
    }

    func testWrongInputShapesAreNamed() throws {
        let unet = try F.unet("tiny-sd1-unet")
        expectError(.config, containing: ["unet", "sample", "[2, 3, 16, 16]", "in_channels 4"]) {
            try unet.validateInputs(sampleShape: [2, 3, 16, 16], timestepCount: 1, contextShape: [2, 7, 32])
        }
        expectError(.config, containing: ["unet", "encoder_hidden_states", "[1, 7, 32]", "[2, L, 32]"]) {
            try unet.validateInputs(sampleShape: [2, 4, 16, 16], timestepCount: 1, contextShape: [1, 7, 32])
        }
        expectError(.config, containing: ["cross_attention_dim 32"]) {
            try unet.validateInputs(sampleShape: [2, 4, 16, 16], timestepCount: 2, contextShape: [2, 7, 768])
        }
        expectError(.config, containing: ["3 timesteps for a batch of 2"]) {
            try unet.validateInputs(sampleShape: [2, 4, 16, 16], timestepCount: 3, contextShape: [2, 7, 32])
        }
        expectError(.config, containing: ["unknown feature tap", "up7", "valid taps: down0, down1, mid, up0, up1"]) {
            try unet.validateTaps(["up7", "mid"])
        }
        XCTAssertNoThrow(try unet.validateInputs(sampleShape: [2, 4, 16, 16], timestepCount: 2, contextShape: [2, 7, 32]))
    }
}

import Autodiff
import DataIO
import Foundation
import NN
import Tensor
import TextEncoder
import Tokenizer
import XCTest

/// Folder loading (strictness, error messages, both key layouts), saving, configs, inputs, pooling, init.
final class LoadingTests: XCTestCase {
    func temporaryFolder() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("textencoder-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: url) }
        return url
    }

    func smallConfig() -> CLIPTextConfig {
        var c = CLIPTextConfig()
        c.vocabSize = 50; c.hiddenSize = 8; c.intermediateSize = 16; c.numHiddenLayers = 2; c.numAttentionHeads = 2
        c.maxPositionEmbeddings = 10; c.eosTokenId = 49; c.projectionDim = 6
        return c
    }

    func testKeyNamesAreTransformers() throws {
        let model = try CLIPTextModel(config: smallConfig(), withProjection: true, generator: TorchGenerator(seed: 0))
        let keys = Set(model.checkpointParameters.map(\.key))
        XCTAssertEqual(keys.count, 2 + 2 * 16 + 2 + 1)
        for k in ["text_model.embeddings.token_embedding.weight", "text_model.embeddings.position_embedding.weight",
                  "text_model.encoder.layers.1.self_attn.q_proj.weight", "text_model.encoder.layers.1.self_attn.k_proj.bias",
                  "text_model.encoder.layers.0.self_attn.v_proj.weight", "text_model.encoder.layers.0.self_attn.out_proj.bias",
                  "text_model.encoder.layers.0.layer_norm1.weight", "text_model.encoder.layers.0.layer_norm2.bias",
                  "text_model.encoder.layers.0.mlp.fc1.weight", "text_model.encoder.layers.1.mlp.fc2.bias",
                  "text_model.final_layer_norm.weight", "text_projection.weight"] {
            XCTAssertTrue(keys.contains(k), k)
        }
    }

    func testStrictLoadNamesTheKeys() throws {
        let good = try Fixtures.model("quick").checkpointStateDict()
        let target = try CLIPTextModel(config: try Fixtures.model("quick").config, vb: ParameterStore(initialization: .uninitialized).root)
        var bad = good
        bad["text_model.encoder.layers.1.mlp.fc2.bias"] = nil
        bad["text_model.encoder.layers.0.self_attn.q_proj.weight"] = Tensor.zeros([32, 31])
        bad["text_model.encoder.layers.9.mlp.fc1.weight"] = Tensor.zeros([2])
        XCTAssertThrowsError(try target.load(bad, file: "bad.safetensors")) { error in
            let text = String(describing: error)
            XCTAssertTrue(text.contains("bad.safetensors"), text)
            XCTAssertTrue(text.contains("missing key(s): text_model.encoder.layers.1.mlp.fc2.bias"), text)
            XCTAssertTrue(text.contains("unexpected key(s): text_model.encoder.layers.9.mlp.fc1.weight"), text)
            XCTAssertTrue(text.contains("text_model.encoder.layers.0.self_attn.q_proj.weight (model [32, 32], file [32, 31])"), text)
        }
        // Nothing was loaded by the failed strict load.
        XCTAssertFalse(target.store.uninitializedNames.isEmpty)
        // Non-strict: loads the rest and reports.
        let report = try target.load(bad, strict: false)
        XCTAssertEqual(report.missing, ["text_model.encoder.layers.1.mlp.fc2.bias"])
        XCTAssertEqual(report.mismatched.map(\.key), ["text_model.encoder.layers.0.self_attn.q_proj.weight"])
        XCTAssertEqual(report.loaded.count, good.count - 2)
        XCTAssertEqual(target.store.uninitializedNames.sorted(),
                       ["text_model.encoder.layers.0.self_attn.q_proj.weight", "text_model.encoder.layers.1.mlp.fc2.bias"])
    }

    func testFolderErrors() throws {
        let dir = try temporaryFolder()
        XCTAssertThrowsError(try CLIPTextModel(folder: dir)) { XCTAssertTrue(String(describing: $0).contains("config"), "\($0)") }
        // A weight file missing a key: the error names the file and the key.
        let model = try Fixtures.model("gelu")
        var weights = model.checkpointStateDict()
        weights["text_model.final_layer_norm.weight"] = nil
        try ComponentFolder(dir).write(config: model.config, weights: weights)
        XCTAssertThrowsError(try CLIPTextModel(folder: dir)) { error in
            let text = String(describing: error)
            XCTAssertTrue(text.contains("model.safetensors") && text.contains("text_model.final_layer_norm.weight"), text)
        }
        var c = model.config
        c.hiddenAct = "mish"
        try ComponentFolder(dir).write(config: c, weights: model.checkpointStateDict())
        XCTAssertThrowsError(try CLIPTextModel(folder: dir)) { XCTAssertTrue(String(describing: $0).contains("hidden_act 'mish'"), "\($0)") }
    }

    func testConfigErrors() throws {
        var c = smallConfig()
        c.numAttentionHeads = 3
        XCTAssertThrowsError(try CLIPTextModel(config: c, generator: TorchGenerator(seed: 0))) {
            XCTAssertTrue(String(describing: $0).contains("num_attention_heads 3"), "\($0)")
        }
        c = smallConfig()
        c.eosTokenId = nil
        XCTAssertThrowsError(try CLIPTextModel(config: c, generator: TorchGenerator(seed: 0))) {
            XCTAssertTrue(String(describing: $0).contains("eos_token_id"), "\($0)")
        }
        XCTAssertNoThrow(try CLIPTextModel(config: c, vb: ParameterStore(generator: TorchGenerator(seed: 0)).root, pooling: .highestTokenID))
        XCTAssertEqual(CLIPActivation(configName: "gelu_new"), .geluTanh)
        XCTAssertEqual(CLIPActivation(configName: "swish"), .silu)
        XCTAssertNil(CLIPActivation(configName: "tanh"))
    }

    func testInputErrors() {
        XCTAssertThrowsError(try CLIPTextInput(ids: [[1, 2, 3], [1, 2]])) { XCTAssertTrue("\($0)".contains("row 1 has 2 ids"), "\($0)") }
        XCTAssertThrowsError(try CLIPTextInput(ids: [[1, 2]], attentionMask: [[1, 2]])) { XCTAssertTrue("\($0)".contains("holds 2"), "\($0)") }
        XCTAssertThrowsError(try CLIPTextInput(ids: [[1, 2]], attentionMask: [[1, 1], [1, 0]]))
        XCTAssertThrowsError(try CLIPTextInput(ids: [[Int]]()))
    }

    func testPoolingRules() {
        // Ties of the highest id: the first one (torch.argmax); missing end token: position 0.
        XCTAssertEqual(CLIPPooling.highestTokenID.endTokenIndices(ids: [5, 9, 1, 9, 0, 3, 8, 2], batch: 2, length: 4), [1, 2])
        XCTAssertEqual(CLIPPooling.firstToken(7).endTokenIndices(ids: [1, 7, 7, 0, 1, 2, 3, 4], batch: 2, length: 4), [1, 0])
        XCTAssertEqual(try CLIPPooling(eosTokenID: 2), .highestTokenID)
        XCTAssertEqual(try CLIPPooling(eosTokenID: 49407), .firstToken(49407))
    }

    /// save(toFolder:) writes the SD layout (text_model.* keys, architectures) that loads back to the same outputs.
    func testSaveRoundTrip() throws {
        let model = try Fixtures.model("proj")
        let dir = try temporaryFolder()
        try model.save(toFolder: dir)
        let file = try SafetensorsFile(contentsOf: dir.appendingPathComponent("model.safetensors"))
        XCTAssertTrue(file.contains("text_projection.weight") && file.contains("text_model.final_layer_norm.bias"))
        let loaded = try CLIPTextModel(folder: dir)
        XCTAssertEqual(loaded.config.architectures, ["CLIPTextModelWithProjection"])
        let input = try CLIPTextInput(ids: [[998, 5, 6, 999, 999], [998, 7, 999, 0, 0]])
        let (a, b) = GradMode.noGrad { (model(input), loaded(input)) }
        XCTAssertEqual(a.lastHiddenState.value.scalars, b.lastHiddenState.value.scalars)
        XCTAssertEqual(a.textEmbeds!.value.scalars, b.textEmbeds!.value.scalars)
    }

    /// Built inside a larger store under a path: keys are prefixed there, checkpoint keys stay the same.
    func testInsideLargerStore() throws {
        let store = ParameterStore(generator: TorchGenerator(seed: 1))
        _ = Linear(store.root.pp("unet").pp("proj"), inFeatures: 2, outFeatures: 2)
        let model = try CLIPTextModel(config: try Fixtures.model("quick").config, vb: store.root.pp("text_encoder"))
        XCTAssertNotNil(store["text_encoder.text_model.final_layer_norm.weight"])
        try model.loadWeights(from: try SafetensorsFile(contentsOf: Fixtures.url("quick/model.safetensors")))
        let io = try Fixtures.io()
        let out = GradMode.noGrad { model(try! Fixtures.input(io, "quick")) }
        assertClose(out.lastHiddenState.value, try io.tensor("quick.last_hidden_state"), 1e-4, "embedded model")
    }

    /// transformers' CLIP initialisation: standard deviations, zero biases, unit LayerNorms.
    func testInitializeWeights() throws {
        var c = CLIPTextConfig()
        c.vocabSize = 3000; c.hiddenSize = 64; c.intermediateSize = 256; c.numHiddenLayers = 2; c.numAttentionHeads = 4
        let model = try CLIPTextModel(config: c, vb: ParameterStore(initialization: .uninitialized).root, withProjection: true)
        var g = TorchGenerator(seed: 5)
        model.initializeWeights(generator: &g)
        XCTAssertTrue(model.store.uninitializedNames.isEmpty)
        func std(_ t: Tensor) -> Float {
            let s = t.scalars
            let m = s.reduce(0, +) / Float(s.count)
            return (s.map { ($0 - m) * ($0 - m) }.reduce(0, +) / Float(s.count)).squareRoot()
        }
        let l0 = model.layers[0]
        let expectations: [(Tensor, Float)] = [
            (model.tokenEmbedding.weight.value, 0.02),
            (l0.selfAttention.toQ.weight.value, 1 / 8 / 2),          // 64^-1/2 · (2·2)^-1/2
            (l0.selfAttention.toOut.weight.value, 1 / 8),
            (l0.mlp.fc1.weight.value, 1 / Float(128).squareRoot()),
            (l0.mlp.fc2.weight.value, 1 / 8 / 2),
            (model.textProjection!.weight.value, 1 / 8),
        ]
        for (t, expected) in expectations { XCTAssertEqual(std(t), expected, accuracy: expected * 0.05) }
        XCTAssertEqual(Set(l0.selfAttention.toK.bias!.value.scalars), [0])
        XCTAssertEqual(Set(l0.layerNorm2.weight!.value.scalars), [1])
    }

    /// encode(prompts:tokenizer:) with a trained small vocabulary: context 77, the pooled position is the
    /// tokenizer's end token, and the result equals promptEmbeddings on the tokenizer's ids.
    func testEncodePromptsWithTokenizer() throws {
        let captions = ["a red circle left of a blue square", "two green triangles", "a small blue circle above a red square",
                        "three red squares", "a large green circle"]
        let tokenizer = try BPETrainer(vocabularySize: 120, minimumFrequency: 1).train(corpus: captions)
        var c = smallConfig()
        c.vocabSize = tokenizer.vocabularySize; c.maxPositionEmbeddings = 77; c.eosTokenId = tokenizer.endTokenID
        let model = try CLIPTextModel(config: c, generator: TorchGenerator(seed: 2))
        let prompts = ["a red circle", "two green squares above a blue triangle"]
        let embeds = try GradMode.noGrad { try model.encode(prompts: prompts, tokenizer: tokenizer) }
        XCTAssertEqual(embeds.shape, [2, 77, 8])
        let encoded = try tokenizer.encode(prompts)
        let input = try CLIPTextInput(encoded)
        XCTAssertEqual(GradMode.noGrad { model.promptEmbeddings(input) }.value.scalars, embeds.value.scalars)
        XCTAssertEqual(GradMode.noGrad { model(input) }.endTokenIndices, encoded.map(\.endTokenIndex))
    }
}

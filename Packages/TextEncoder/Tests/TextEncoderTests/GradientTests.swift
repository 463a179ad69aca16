import Autodiff
import DataIO
import NN
import Tensor
import TextEncoder
import XCTest

/// Gradients through the whole encoder: PyTorch autograd parity, central differences, and a short training run.
final class GradientTests: XCTestCase {
    /// d/dθ [sum(last_hidden_state · U) + sum(pooler_output · V)] against transformers' autograd (quick model).
    func testGradientsMatchPyTorch() throws {
        let model = try Fixtures.model("quick")
        let io = try Fixtures.io()
        let input = try Fixtures.input(io, "quick_grad")
        let out = model(input)
        let loss = (out.lastHiddenState * (try io.tensor("quick_grad.upstream_last"))).sum()
            + (out.pooledOutput * (try io.tensor("quick_grad.upstream_pooled"))).sum()
        loss.backward()
        let params = Dictionary(uniqueKeysWithValues: model.checkpointParameters.map { ($0.key, $0.variable) })
        let keys = io.tensorNames.filter { $0.hasPrefix("quick_grad.grad.") }
        XCTAssertEqual(keys.count, 7)
        for k in keys {
            let key = String(k.dropFirst("quick_grad.grad.".count))
            let ref = try io.tensor(k)
            let g = try XCTUnwrap(params[key]?.grad, "no gradient for \(key)")
            let scale = max(1, ref.scalars.map(abs).max()!)
            assertClose(g, ref, 1e-4 * scale, "grad \(key)")
        }
        // Every parameter received a gradient (the token embedding only on the rows used).
        for (key, v) in params { XCTAssertNotNil(v.grad, "\(key) got no gradient") }
    }

    /// A tiny random model (with projection and a padding mask): analytic gradients of a fixed projection of
    /// last_hidden_state, pooled output and text_embeds against central differences, for entries of several
    /// parameters (Float32 forward, eps 1e-2).
    func testCentralDifferences() throws {
        var config = CLIPTextConfig()
        config.vocabSize = 20; config.hiddenSize = 8; config.intermediateSize = 12; config.numHiddenLayers = 2
        config.numAttentionHeads = 2; config.maxPositionEmbeddings = 6; config.projectionDim = 4; config.eosTokenId = 19
        config.hiddenAct = "gelu"
        let model = try CLIPTextModel(config: config, withProjection: true, generator: TorchGenerator(seed: 7))
        var g = TorchGenerator(seed: 3)
        model.initializeWeights(generator: &g)
        // Larger weights than CLIP's init so that every path carries signal.
        for p in model.checkpointParameters { p.variable.value = g.randn(p.variable.shape) * 0.5 }
        let input = try CLIPTextInput(ids: [[18, 3, 7, 19, 0, 0], [18, 11, 2, 5, 9, 19]],
                                      attentionMask: [[1, 1, 1, 1, 0, 0], [1, 1, 1, 1, 1, 1]])
        let u1 = g.randn([2, 6, 8]), u2 = g.randn([2, 8]), u3 = g.randn([2, 4])
        func loss() -> Variable {
            let o = model(input)
            return (o.lastHiddenState * u1).sum() + (o.pooledOutput * u2).sum() + (o.textEmbeds! * u3).sum()
        }
        let l = loss()
        l.backward()
        let params = Dictionary(uniqueKeysWithValues: model.checkpointParameters.map { ($0.key, $0.variable) })
        let checked = ["text_model.embeddings.token_embedding.weight", "text_model.embeddings.position_embedding.weight",
                       "text_model.encoder.layers.0.self_attn.q_proj.weight", "text_model.encoder.layers.0.self_attn.v_proj.bias",
                       "text_model.encoder.layers.0.layer_norm2.weight", "text_model.encoder.layers.1.mlp.fc1.weight",
                       "text_model.encoder.layers.1.self_attn.k_proj.weight", "text_model.final_layer_norm.bias",
                       "text_projection.weight"]
        let eps: Float = 1e-2
        for key in checked {
            let v = try XCTUnwrap(params[key])
            let analytic = try XCTUnwrap(v.grad, "\(key): no gradient").scalars
            let original = v.value
            // A few entries spread over the tensor (token embedding: rows of ids that occur).
            let n = original.count
            let entries = key.hasSuffix("token_embedding.weight") ? [18 * 8 + 1, 7 * 8 + 5, 19 * 8 + 2] : [0, n / 3, n / 2 + 1, n - 1]
            for e in entries {
                var plus = original, minus = original
                plus.withMutableBuffer { $0[e] += eps }
                minus.withMutableBuffer { $0[e] -= eps }
                v.value = plus
                let lp = GradMode.noGrad { Double(loss().value.item()) }
                v.value = minus
                let lm = GradMode.noGrad { Double(loss().value.item()) }
                v.value = original
                let numeric = Float((lp - lm) / Double(2 * eps))
                let err = abs(numeric - analytic[e]) / max(1, abs(numeric))
                XCTAssertLessThan(err, 2e-2, "\(key)[\(e)]: analytic \(analytic[e]), numeric \(numeric)")
            }
        }
        // Rows of tokens that do not occur get no gradient.
        let tokenGrad = params["text_model.embeddings.token_embedding.weight"]!.grad!.scalars
        XCTAssertEqual(Array(tokenGrad[(4 * 8)..<(5 * 8)]), [Float](repeating: 0, count: 8))
    }

    /// Training from scratch works: AdamW on a tiny encoder (CLIP init) fits its pooled outputs to fixed targets.
    func testTrainingReducesLoss() throws {
        var config = CLIPTextConfig()
        config.vocabSize = 16; config.hiddenSize = 16; config.intermediateSize = 32; config.numHiddenLayers = 2
        config.numAttentionHeads = 2; config.maxPositionEmbeddings = 8; config.eosTokenId = 15
        let model = try CLIPTextModel(config: config, generator: TorchGenerator(seed: 11))
        var g = TorchGenerator(seed: 12)
        model.initializeWeights(generator: &g)
        let input = try CLIPTextInput(ids: [[14, 1, 2, 15, 0, 0, 0, 0], [14, 3, 4, 5, 15, 0, 0, 0], [14, 2, 1, 15, 0, 0, 0, 0]])
        let target = g.randn([3, 16])
        let opt = AdamW(parameters: model.store.trainableParameters(), learningRate: 3e-3, weightDecay: 0)
        var losses: [Float] = []
        for _ in 0..<60 {
            opt.zeroGrad()
            let loss = Variable.mseLoss(model(input).pooledOutput, Variable(target))
            loss.backward()
            opt.step()
            losses.append(loss.value.item())
        }
        XCTAssertLessThan(losses.last!, 0.25 * losses.first!, "loss \(losses.first!) -> \(losses.last!)")
    }
}

import Autodiff
import DataIO
import NN
import Tensor

/// The outputs of one forward pass (transformers' `BaseModelOutputWithPooling` / `CLIPTextModelOutput`).
public struct CLIPTextModelOutput {
    /// [B, L, D]: the last layer's output after `final_layer_norm`.
    public let lastHiddenState: Variable
    /// [B, D]: `lastHiddenState` at each row's pooled position (`endTokenIndices`).
    public let pooledOutput: Variable
    /// When requested: the embeddings and then each layer's output, before the final LayerNorm
    /// (`layers + 1` entries, transformers' `hidden_states`); otherwise empty.
    public let hiddenStates: [Variable]
    /// [B, projectionDim]: `text_projection(pooledOutput)` for a model with a projection, else nil.
    public let textEmbeds: Variable?
    /// The pooled position of each row.
    public let endTokenIndices: [Int]
}

/// CLIP's text transformer with the semantics of transformers 5.24 `CLIPTextModel` (and, with `withProjection`,
/// `CLIPTextModelWithProjection`): token + position embeddings, pre-LayerNorm causal encoder layers, a final
/// LayerNorm, the pooled output at the end token, and optionally the bias-free `text_projection`.
///
/// Parameter names are the checkpoint keys of SD folders: `text_model.embeddings.token_embedding.weight`, …,
/// `text_model.encoder.layers.<i>.self_attn.q_proj.weight`, …, `text_model.final_layer_norm.bias`, and
/// `text_projection.weight` (all under the builder's path when built inside a larger store). Every parameter is a
/// trainable `Variable`; run inference inside `GradMode.noGrad` to record nothing.
public final class CLIPTextModel: Module {
    public let path: String
    public let config: CLIPTextConfig
    public let activation: CLIPActivation
    public let pooling: CLIPPooling
    public let tokenEmbedding: Embedding
    public let positionEmbedding: Embedding
    public let layers: [CLIPEncoderLayer]
    public let finalLayerNorm: LayerNorm
    /// `text_projection` [projectionDim, hidden], no bias (nil for a plain `CLIPTextModel`).
    public let textProjection: Linear?
    /// The store holding the parameters.
    public let store: ParameterStore

    public var hiddenSize: Int { config.hiddenSize }
    public var layerCount: Int { layers.count }

    /// Builds the model described by `config` under `vb` (parameters drawn by the store's initializers, PyTorch's
    /// module defaults; call `initializeWeights(generator:)` for transformers' CLIP initialisation, or load weights).
    /// `pooling` defaults to the rule transformers derives from `eos_token_id`.
    public init(config: CLIPTextConfig, vb: VarBuilder, withProjection: Bool = false, pooling: CLIPPooling? = nil) throws {
        let c = config
        guard c.hiddenSize > 0, c.numAttentionHeads > 0, c.hiddenSize % c.numAttentionHeads == 0 else {
            throw TextEncoderError.invalidConfig("hidden_size \(c.hiddenSize) must be a positive multiple of num_attention_heads \(c.numAttentionHeads)")
        }
        guard c.vocabSize > 0, c.maxPositionEmbeddings > 0, c.intermediateSize > 0, c.numHiddenLayers >= 0 else {
            throw TextEncoderError.invalidConfig("vocab_size \(c.vocabSize), max_position_embeddings \(c.maxPositionEmbeddings), intermediate_size \(c.intermediateSize) must be positive and num_hidden_layers \(c.numHiddenLayers) non-negative")
        }
        guard let act = CLIPActivation(configName: c.hiddenAct) else {
            throw TextEncoderError.invalidConfig("hidden_act '\(c.hiddenAct)' is not supported (quick_gelu, gelu, gelu_new, gelu_pytorch_tanh, relu, silu)")
        }
        if withProjection && c.projectionDim <= 0 {
            throw TextEncoderError.invalidConfig("projection_dim \(c.projectionDim) must be positive for text_projection")
        }
        self.pooling = try pooling ?? CLIPPooling(eosTokenID: c.eosTokenId)
        path = vb.path
        self.config = c
        activation = act
        store = vb.store
        let tm = vb.pp("text_model")
        let emb = tm.pp("embeddings")
        tokenEmbedding = Embedding(emb.pp("token_embedding"), count: c.vocabSize, dim: c.hiddenSize)
        positionEmbedding = Embedding(emb.pp("position_embedding"), count: c.maxPositionEmbeddings, dim: c.hiddenSize)
        let eps = Float(c.layerNormEps)
        layers = (0..<c.numHiddenLayers).map { i in
            CLIPEncoderLayer(tm.pp("encoder").pp("layers").pp(i), hiddenSize: c.hiddenSize, heads: c.numAttentionHeads,
                             intermediateSize: c.intermediateSize, activation: act, layerNormEps: eps)
        }
        finalLayerNorm = LayerNorm(tm.pp("final_layer_norm"), dim: c.hiddenSize, eps: eps)
        textProjection = withProjection
            ? Linear(vb.pp("text_projection"), inFeatures: c.hiddenSize, outFeatures: c.projectionDim, bias: false) : nil
        vb.register(self)
    }

    /// A model in a store of its own (root path), randomly initialised from `generator` with PyTorch's module
    /// defaults.
    public convenience init<G: RandomNumberGenerator>(config: CLIPTextConfig, withProjection: Bool = false, generator: G) throws {
        try self.init(config: config, vb: ParameterStore(generator: generator).root, withProjection: withProjection)
    }

    // MARK: Forward

    /// The full forward pass. `outputHiddenStates` also returns every layer's output; `positionIDs` (one row of
    /// `length` ids, shared by the batch) replaces 0..<length; `endTokenIndices` overrides the pooling rule.
    public func callAsFunction(_ input: CLIPTextInput, outputHiddenStates: Bool = false, positionIDs: [Int]? = nil,
                               endTokenIndices: [Int]? = nil) -> CLIPTextModelOutput {
        let ends = endTokenIndices ?? pooling.endTokenIndices(ids: input.ids, batch: input.batch, length: input.length)
        tensorCheck(ends.count == input.batch && ends.allSatisfy { $0 >= 0 && $0 < input.length }, "CLIPTextModel(\(path))",
                    "end token indices \(ends) must be one per row (\(input.batch)) within 0..<\(input.length)")
        let run = encode(input, layers: layers.count, collect: outputHiddenStates, positionIDs: positionIDs)
        let last = finalLayerNorm(run.state)
        let b = input.batch, l = input.length
        let pooled = last.reshaped([b * l, hiddenSize]).indexSelect(axis: 0, indices: ends.enumerated().map { $0.offset * l + $0.element })
        return CLIPTextModelOutput(lastHiddenState: last, pooledOutput: pooled, hiddenStates: run.states,
                                   textEmbeds: textProjection.map { $0(pooled) }, endTokenIndices: ends)
    }

    /// The conditioning a Stable Diffusion pipeline takes from the text encoder, as diffusers'
    /// `StableDiffusionPipeline.encode_prompt` computes it: `clipSkip` nil gives `last_hidden_state`; `clipSkip`
    /// n >= 1 gives `final_layer_norm(hidden_states[-(n + 1)])`, the output of layer `layers - n` with the final
    /// LayerNorm applied. Layers after the one used are not run. (SD 2.x folders already hold OpenCLIP's
    /// penultimate-layer model: 23 of 24 layers, used with clipSkip nil.)
    public func promptEmbeddings(_ input: CLIPTextInput, clipSkip: Int? = nil) -> Variable {
        let skip = clipSkip ?? 0
        tensorCheck(skip >= 0 && skip <= layers.count, "CLIPTextModel(\(path)).promptEmbeddings",
                    "clipSkip \(skip) must be within 0...\(layers.count)")
        return finalLayerNorm(encode(input, layers: layers.count - skip, collect: false, positionIDs: nil).state)
    }

    /// transformers' `hidden_states[index]` (0 = embeddings, i = output of layer i, negative counts from the end:
    /// -1 = last layer, -2 = penultimate), optionally with the final LayerNorm applied. Later layers are not run.
    public func hiddenState(_ input: CLIPTextInput, index: Int, applyFinalLayerNorm: Bool = false) -> Variable {
        let i = index < 0 ? layers.count + 1 + index : index
        tensorCheck(i >= 0 && i <= layers.count, "CLIPTextModel(\(path)).hiddenState",
                    "index \(index) is outside the \(layers.count + 1) hidden states")
        let h = encode(input, layers: i, collect: false, positionIDs: nil).state
        return applyFinalLayerNorm ? finalLayerNorm(h) : h
    }

    /// Embeddings plus the first `count` layers; `collect` keeps every intermediate state.
    private func encode(_ input: CLIPTextInput, layers count: Int, collect: Bool, positionIDs: [Int]?)
        -> (state: Variable, states: [Variable]) {
        let op = "CLIPTextModel(\(path))"
        let b = input.batch, l = input.length
        tensorCheck(l <= config.maxPositionEmbeddings, op,
                    "sequence length \(l) exceeds max_position_embeddings \(config.maxPositionEmbeddings)")
        let positions = positionIDs ?? Array(0..<l)
        tensorCheck(positions.count == l, op, "\(positions.count) position ids for sequence length \(l)")
        var h = tokenEmbedding(input.ids, shape: [b, l]) + positionEmbedding(positions)
        var states = collect ? [h] : []
        let mask = input.attentionMask.map { paddingMask($0, batch: b, length: l) }
        for layer in layers.prefix(count) {
            h = layer(h, mask: mask)
            if collect { states.append(h) }
        }
        return (h, states)
    }

    /// The additive key mask [B, 1, 1, L]: 0 for tokens, -inf for padding. Combined with the causal cut in the
    /// attention kernel; a query that sees no key at all (left padding) gets zero attention output, as
    /// transformers' default (sdpa) attention gives.
    private func paddingMask(_ mask: [Int], batch: Int, length: Int) -> Tensor {
        var t = Tensor(uninitializedShape: [batch, 1, 1, length])
        t.withMutableBuffer { p in
            for i in 0..<mask.count { p[i] = mask[i] == 0 ? -.infinity : 0 }
        }
        return t
    }
}

import Autodiff
import NN
import Tensor

extension CLIPTextModel {
    /// Redraws every parameter as transformers' `CLIPPreTrainedModel._init_weights` does (for training from
    /// scratch): embeddings normal(0, 0.02·f); q/k/v normal(0, D^-½ (2·layers)^-½ f), out_proj normal(0, D^-½ f);
    /// fc1 normal(0, (2D)^-½ f), fc2 normal(0, D^-½ (2·layers)^-½ f); biases 0; LayerNorms 1 and 0;
    /// text_projection normal(0, D^-½ f); f = `initializer_factor`.
    public func initializeWeights<G: RandomNumberGenerator>(generator: inout G) {
        let f = Float(config.initializerFactor)
        let d = Float(hiddenSize)
        let inStd = 1 / d.squareRoot() / Float(2 * max(1, layers.count)).squareRoot() * f
        var values: [ObjectIdentifier: Tensor] = [:]
        func normal(_ v: Variable, _ std: Float) {
            values[ObjectIdentifier(v)] = Initializer.normal(mean: 0, std: std).makeTensor(shape: v.shape, generator: &generator)
        }
        func zero(_ v: Variable?) { if let v { values[ObjectIdentifier(v)] = Tensor.zeros(v.shape) } }
        func one(_ v: Variable?) { if let v { values[ObjectIdentifier(v)] = Tensor.ones(v.shape) } }
        normal(tokenEmbedding.weight, 0.02 * f)
        normal(positionEmbedding.weight, 0.02 * f)
        for layer in layers {
            let a = layer.selfAttention
            for lin in [a.toQ, a.toK, a.toV] { normal(lin.weight, inStd); zero(lin.bias) }
            normal(a.toOut.weight, 1 / d.squareRoot() * f); zero(a.toOut.bias)
            normal(layer.mlp.fc1.weight, 1 / (2 * d).squareRoot() * f); zero(layer.mlp.fc1.bias)
            normal(layer.mlp.fc2.weight, inStd); zero(layer.mlp.fc2.bias)
            for ln in [layer.layerNorm1, layer.layerNorm2] { one(ln.weight); zero(ln.bias) }
        }
        one(finalLayerNorm.weight); zero(finalLayerNorm.bias)
        if let p = textProjection { normal(p.weight, 1 / d.squareRoot() * f) }
        // Through the (strict) loader, so that the store also forgets any "uninitialised" marks.
        let dict = Dictionary(uniqueKeysWithValues: checkpointParameters.compactMap { p in
            values[ObjectIdentifier(p.variable)].map { (p.key, $0) }
        })
        _ = tensorRequire { try load(dict, strict: true, file: "initializeWeights") }
    }
}

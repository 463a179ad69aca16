import Autodiff
import NN
import Tensor
import XCTest

/// Layer outputs and gradients against PyTorch / diffusers / transformers modules (layers.safetensors),
/// each loaded through a strict state-dict import of the PyTorch state_dict.
final class LayerTests: XCTestCase {
    static var fixture: [String: Tensor] = [:]

    override class func setUp() {
        fixture = (try? Fixtures.safetensors("layers.safetensors")) ?? [:]
    }

    /// Builds a module with `build`, loads `<name>.state.*` strictly, runs `forward` on `<name>.input`,
    /// and compares the output and the gradients of sum(output · upstream) with PyTorch's.
    private func check(_ name: String, atol: Float = 2e-5, build: (VarBuilder) -> Void,
                       forward: (Variable, Variable?) -> Variable, file: StaticString = #filePath, line: UInt = #line) throws {
        let fx = Self.fixture
        XCTAssertFalse(fx.isEmpty, "layers.safetensors did not load", file: file, line: line)
        let store = ParameterStore(initialization: .uninitialized)
        build(store.root)
        let report = try store.loadStateDict(Fixtures.subdict(fx, name + ".state"))
        XCTAssertTrue(report.isClean && store.uninitializedNames.isEmpty, file: file, line: line)
        let x = Variable(fx[name + ".input"]!, requiresGrad: true)
        let context = fx[name + ".context"].map { Variable($0) }
        let y = forward(x, context)
        assertClose(y.value, fx[name + ".output"]!, atol: atol, rtol: 1e-5, "\(name) output", file: file, line: line)
        (y * fx[name + ".upstream"]!).sum().backward()
        assertClose(x.grad!, fx[name + ".grad.input"]!, atol: atol, rtol: 1e-5, "\(name) input gradient", file: file, line: line)
        for p in store.namedParameters() {
            guard let want = fx[name + ".grad." + p.name] else { XCTFail("\(name): no gradient for \(p.name)"); continue }
            XCTAssertNotNil(p.variable.grad, "\(name): \(p.name) got no gradient", file: file, line: line)
            if let g = p.variable.grad {
                assertClose(g, want, atol: atol, rtol: 1e-5, "\(name) gradient of \(p.name)", file: file, line: line)
            }
        }
    }

    func testLinear() throws {
        var l: Linear!
        try check("linear", build: { l = Linear($0, inFeatures: 5, outFeatures: 7) }, forward: { x, _ in l(x) })
        try check("linear_nobias", build: { l = Linear($0, inFeatures: 5, outFeatures: 4, bias: false) }, forward: { x, _ in l(x) })
    }

    func testConv2d() throws {
        var c: Conv2d!
        try check("conv", build: { c = Conv2d($0, inChannels: 4, outChannels: 6, kernelSize: 3, stride: 2, padding: 1, groups: 2) },
                  forward: { x, _ in c(x) })
        try check("conv_rect", build: {
            c = Conv2d($0, inChannels: 3, outChannels: 5, kernelSize: (3, 1), stride: (1, 2), padding: (1, 0), bias: false)
        }, forward: { x, _ in c(x) })
    }

    func testNorms() throws {
        var g: GroupNorm!
        try check("groupnorm", build: { g = GroupNorm($0, groups: 2, channels: 6, eps: 1e-6) }, forward: { x, _ in g(x) })
        var l: LayerNorm!
        try check("layernorm", build: { l = LayerNorm($0, dim: 8) }, forward: { x, _ in l(x) })
    }

    func testEmbedding() throws {
        let fx = Self.fixture
        let store = ParameterStore(initialization: .uninitialized)
        let e = Embedding(store.root, count: 10, dim: 4)
        try store.loadStateDict(Fixtures.subdict(fx, "embedding.state"))
        let ids = fx["embedding.ids"]!.scalars.map { Int($0) }
        let y = e(ids, shape: [2, 3])
        assertClose(y.value, fx["embedding.output"]!, atol: 0, "embedding")
    }

    func testCrossAttentionDiffusersNames() throws {
        var a: Attention!
        try check("cross_attention", build: { a = Attention($0, queryDim: 16, contextDim: 12, heads: 2, headDim: 8) },
                  forward: { x, c in a(x, context: c) })
        XCTAssertEqual(a.toQ.path, "to_q")
        XCTAssertEqual(a.toOut.path, "to_out.0")
    }

    func testSelfAttentionWithBias() throws {
        var a: Attention!
        try check("self_attention", build: { a = Attention($0, queryDim: 16, heads: 4, headDim: 4, qkvBias: true) },
                  forward: { x, _ in a(x) })
    }

    func testCLIPAttentionNamesWithCausalMask() throws {
        var a: Attention!
        try check("clip_attention", build: {
            a = Attention($0, queryDim: 16, heads: 4, headDim: 4, qkvBias: true, naming: .clip)
        }, forward: { x, _ in a(x, causal: true) })
        // The same through an explicit additive mask.
        var mask = Tensor(shape: [5, 5], repeating: 0)
        for i in 0..<5 { for j in (i + 1)..<5 where j < 5 { mask[i, j] = -.infinity } }
        try check("clip_attention", build: {
            a = Attention($0, queryDim: 16, heads: 4, headDim: 4, qkvBias: true, naming: .clip)
        }, forward: { x, _ in a(x, mask: mask) })
    }

    func testFeedForwards() throws {
        var f: FeedForward!
        try check("ff_geglu", build: { f = FeedForward($0, dim: 8, mult: 4, activation: .geglu) }, forward: { x, _ in f(x) })
        try check("ff_gelu", build: { f = FeedForward($0, dim: 8, dimOut: 6, mult: 2, activation: .gelu) }, forward: { x, _ in f(x) })
        try check("ff_gelu_tanh", build: { f = FeedForward($0, dim: 8, mult: 2, activation: .geluTanh) }, forward: { x, _ in f(x) })
    }

    /// Default initialisation from TorchGenerator(seed: 42) equals PyTorch's after torch.manual_seed(42).
    func testDefaultInitialisationMatchesPyTorchBitForBit() {
        let store = ParameterStore(generator: TorchGenerator(seed: 42))
        _ = Linear(store.root.pp("lin"), inFeatures: 5, outFeatures: 7)
        _ = Conv2d(store.root.pp("conv"), inChannels: 4, outChannels: 6, kernelSize: 3, groups: 2)
        _ = Embedding(store.root.pp("emb"), count: 10, dim: 20)
        let want = Fixtures.subdict(Self.fixture, "init")
        XCTAssertEqual(Set(want.keys), Set(store.stateDictNames()))
        for (k, v) in want { XCTAssertEqual(store[k]!.value.scalars, v.scalars, k) }
    }

    func testDropout() {
        let store = ParameterStore(initialization: .uninitialized)
        let d = Dropout(store.root.pp("drop"), p: 0.25)
        let x = Variable(Tensor(shape: [40000], repeating: 1), requiresGrad: true)
        var g = SplitMix(seed: 3)
        let y = d(x, generator: &g).value.scalars
        let kept = y.filter { $0 != 0 }
        XCTAssertTrue(kept.allSatisfy { abs($0 - 1 / 0.75) < 1e-6 }, "survivors are scaled by 1/(1-p)")
        XCTAssertEqual(Double(kept.count) / 40000, 0.75, accuracy: 0.01)
        store.setTraining(false)
        XCTAssertTrue(d(x) === x, "evaluation mode is the identity")
    }
}

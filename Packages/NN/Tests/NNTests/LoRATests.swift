import Autodiff
import NN
import Tensor
import XCTest

final class LoRATests: XCTestCase {
    /// Two attention blocks with diffusers names; LoRA on every to_q / to_v.
    private func makeModel(seed: UInt64) -> (ParameterStore, [Attention]) {
        let store = ParameterStore(generator: TorchGenerator(seed: seed))
        let blocks = (0..<2).map { Attention(store.root.pp("blocks").pp($0).pp("attn2"), queryDim: 8, contextDim: 6, heads: 2, headDim: 4) }
        return (store, blocks)
    }

    private func forward(_ blocks: [Attention], _ x: Variable, _ c: Variable) -> Variable {
        blocks.reduce(x) { h, b in h + b(h, context: c) }
    }

    func testZeroInitLoRALeavesOutputExactlyAndFreezesBase() {
        let (store, blocks) = makeModel(seed: 1)
        var g = TorchGenerator(seed: 9)
        let x = Variable(g.randn([2, 3, 8])), c = Variable(g.randn([2, 4, 6]))
        let before = forward(blocks, x, c).value.scalars
        let targets = store.addLoRA(where: { $0.hasSuffix(".to_q") || $0.hasSuffix(".to_v") }, rank: 2, alpha: 4, generator: &g)
        XCTAssertEqual(targets.map(\.path), ["blocks.0.attn2.to_q", "blocks.0.attn2.to_v", "blocks.1.attn2.to_q", "blocks.1.attn2.to_v"])
        XCTAssertEqual(store.adapterParameters().map(\.name).prefix(2), ["blocks.0.attn2.to_q.lora_A.weight", "blocks.0.attn2.to_q.lora_B.weight"])
        XCTAssertEqual(forward(blocks, x, c).value.scalars, before, "B = 0: the adapted model is the base model exactly")
        XCTAssertTrue(store.loraLayers().allSatisfy { $0.lora!.down.value.scalars.contains { $0 != 0 } }, "A is random")
        // Train only the adapters: base weights of adapted layers are frozen.
        store.freeze()
        store.unfreeze(prefix: "blocks.0.attn2.to_q.lora_A")
        XCTAssertEqual(store.trainableParameters().count, 1)
        store.unfreeze()
        store.freeze()
        for p in store.adapterParameters() { p.variable.requiresGrad = true }
        let loss = forward(blocks, x, c).square().mean()
        loss.backward()
        for p in store.namedParameters(includeAdapters: false) { XCTAssertNil(p.variable.grad, p.name) }
        for l in store.loraLayers() {
            XCTAssertNotNil(l.lora!.up.grad)
            XCTAssertTrue(l.lora!.up.grad!.scalars.contains { $0 != 0 }, "B receives a gradient at B = 0")
        }
    }

    func testLoRAForwardAndGradientsMatchPEFTFormula() throws {
        let fx = try Fixtures.safetensors("layers.safetensors")
        let store = ParameterStore(initialization: .uninitialized)
        let l = Linear(store.root, inFeatures: 6, outFeatures: 5)
        var g = SplitMix(seed: 1)
        store.addLoRA(to: l, rank: 2, alpha: 4, generator: &g)
        XCTAssertTrue(l.lora!.up.value.scalars.allSatisfy { $0 == 0 }, "B starts at zero even in an uninitialised store")
        let sd = Fixtures.subdict(fx, "lora.state")
        XCTAssertThrowsError(try store.loadStateDict(sd), "the model scope does not take adapter keys")
        try store.loadStateDict(sd, scope: .all)
        let y = l(Variable(fx["lora.input"]!))
        assertClose(y.value, fx["lora.output"]!, atol: 2e-5, rtol: 1e-5, "LoRA output")
        (y * fx["lora.upstream"]!).sum().backward()
        assertClose(l.lora!.down.grad!, fx["lora.grad.lora_A.weight"]!, atol: 1e-4, rtol: 1e-5, "grad A")
        assertClose(l.lora!.up.grad!, fx["lora.grad.lora_B.weight"]!, atol: 1e-4, rtol: 1e-5, "grad B")
        XCTAssertNil(l.weight.grad, "base frozen")

        // Merge folds the adapter into W: same output from the plain layer; unmerge restores W.
        let w0 = l.weight.value
        l.lora!.merge()
        XCTAssertTrue(l.lora!.isMerged)
        let merged = l(Variable(fx["lora.input"]!)).value
        assertClose(merged, fx["lora.output"]!, atol: 2e-5, rtol: 1e-5, "merged output")
        let wMerged = Tensor.linear(fx["lora.input"]!, weight: l.weight.value, bias: l.bias!.value)
        assertClose(wMerged, fx["lora.output"]!, atol: 2e-5, rtol: 1e-5, "merged weight alone")
        l.lora!.unmerge()
        assertClose(l.weight.value, w0, atol: 1e-6, "unmerged weight")
        // Disabled: the base layer exactly.
        l.lora!.isEnabled = false
        XCTAssertEqual(l(Variable(fx["lora.input"]!)).value.scalars,
                       Tensor.linear(fx["lora.input"]!, weight: l.weight.value, bias: l.bias!.value).scalars)
    }

    func testLoRAWeightsSaveAndLoadAlone() throws {
        let (store, blocks) = makeModel(seed: 2)
        var g = TorchGenerator(seed: 5)
        store.addLoRA(where: { $0.hasSuffix("to_q") }, rank: 2, alpha: 2, generator: &g)
        for p in store.adapterParameters() { p.variable.value = g.randn(p.variable.shape) }
        let saved = store.loraStateDict(keyPrefix: "unet.")
        XCTAssertEqual(saved.keys.sorted(), ["unet.blocks.0.attn2.to_q.lora_A.weight", "unet.blocks.0.attn2.to_q.lora_B.weight",
                                             "unet.blocks.1.attn2.to_q.lora_A.weight", "unet.blocks.1.attn2.to_q.lora_B.weight"])
        XCTAssertFalse(store.stateDict().keys.contains { $0.contains("lora") }, "the model state dict excludes adapters")

        // A second copy of the same base model with fresh adapters loads them and computes the same function.
        let (other, otherBlocks) = makeModel(seed: 2)
        other.addLoRA(where: { $0.hasSuffix("to_q") }, rank: 2, alpha: 2, generator: &g)
        var partial = saved
        partial["unet.blocks.1.attn2.to_q.lora_B.weight"] = nil
        XCTAssertThrowsError(try other.loadLoRAStateDict(partial, keyPrefix: "unet.")) {
            XCTAssertTrue("\($0)".contains("1 missing key: blocks.1.attn2.to_q.lora_B.weight"), "\($0)")
        }
        try other.loadLoRAStateDict(saved, keyPrefix: "unet.")
        // Same weights, same shapes, same code path: bitwise by construction.
        let x = Variable(g.randn([1, 3, 8])), c = Variable(g.randn([1, 2, 6]))
        XCTAssertEqual(forward(otherBlocks, x, c).value.scalars, forward(blocks, x, c).value.scalars)
        // Removing the adapters restores the base model and its key set.
        let adapted = forward(blocks, x, c).value
        for l in store.loraLayers() { store.removeLoRA(from: l) }
        XCTAssertTrue(store.adapterParameters().isEmpty)
        other.setLoRAEnabled(false)
        XCTAssertEqual(forward(otherBlocks, x, c).value.scalars, forward(blocks, x, c).value.scalars)
        XCTAssertGreaterThan(maxAbsDiff(adapted, forward(blocks, x, c).value), 1e-3)
    }
}

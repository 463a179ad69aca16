import Autodiff
import NN
import Tensor
import XCTest

/// A minimal module built straight on the builder (keeps these tests independent of the layer code).
private final class Affine: Module {
    let path: String
    let weight: Variable
    let bias: Variable
    init(_ vb: VarBuilder, _ n: Int, _ m: Int) {
        path = vb.path
        weight = vb.parameter("weight", shape: [m, n], initializer: .defaultWeight(fanIn: n))
        bias = vb.parameter("bias", shape: [m], initializer: .defaultBias(fanIn: n))
        vb.register(self)
    }
}

final class ParameterStoreTests: XCTestCase {
    private func makeStore() -> (ParameterStore, [Affine]) {
        let store = ParameterStore(generator: SplitMix(seed: 1))
        let blocks = store.root.pp("down_blocks")
        var mods: [Affine] = []
        for i in 0..<11 {
            mods.append(Affine(blocks.pp(i).pp("attentions").pp(0).pp("to_q"), 4, 3))
        }
        mods.append(Affine(store.root.pp("conv_out"), 3, 2))
        _ = store.root.pp("time_embedding").buffer("position_ids", value: Tensor([0, 1, 2]))
        _ = store.root.buffer("scratch", value: Tensor([5]), persistent: false)
        return (store, mods)
    }

    func testBuilderNamesAreStateDictKeys() {
        let (store, mods) = makeStore()
        XCTAssertEqual(Array(store.names(kinds: [.parameter]).prefix(4)),
                       ["down_blocks.0.attentions.0.to_q.weight", "down_blocks.0.attentions.0.to_q.bias",
                        "down_blocks.1.attentions.0.to_q.weight", "down_blocks.1.attentions.0.to_q.bias"])
        XCTAssertTrue(store["down_blocks.10.attentions.0.to_q.weight"] === mods[10].weight)
        XCTAssertEqual(store["conv_out.weight"]?.shape, [2, 3])
        XCTAssertTrue(store.module(at: "down_blocks.3.attentions.0.to_q") === mods[3])
        XCTAssertEqual(store.modules(ofType: Affine.self).count, 12)
        XCTAssertEqual(store.modules(ofType: Affine.self, under: "down_blocks.1").count, 1, "down_blocks.10 is not under down_blocks.1")
        XCTAssertEqual(store.modules(where: { $0.hasSuffix(".to_q") }).count, 11)
        let sd = store.stateDict()
        XCTAssertEqual(sd.count, 24 + 1, "parameters and the persistent buffer, not the non-persistent one")
        XCTAssertNotNil(sd["time_embedding.position_ids"])
        XCTAssertNil(sd["scratch"])
        XCTAssertEqual(store.parameterCount(), 11 * 15 + 8)
    }

    func testDefaultInitialisationBounds() {
        let (store, _) = makeStore()
        // nn.Linear(4, 3): weight and bias uniform on ±1/√4.
        for name in store.names(kinds: [.parameter]) where name.hasPrefix("down_blocks") {
            let s = store[name]!.value.scalars
            XCTAssertTrue(s.allSatisfy { abs($0) <= 0.5 }, name)
        }
        // Many draws: the variance of U(−b, b) is b²/3.
        var g = SplitMix(seed: 7)
        let t = Initializer.defaultWeight(fanIn: 64).makeTensor(shape: [256, 64], generator: &g).scalars
        let b: Float = 1 / 8
        XCTAssertTrue(t.allSatisfy { abs($0) <= b })
        let variance = t.reduce(0) { $0 + Double($1 * $1) } / Double(t.count)
        XCTAssertEqual(variance, Double(b * b) / 3, accuracy: 0.03 * Double(b * b) / 3)
        let n = Initializer.normal(mean: 1, std: 2).makeTensor(shape: [20000], generator: &g).scalars
        let mean = n.reduce(0) { $0 + Double($1) } / Double(n.count)
        let sd = (n.reduce(0) { $0 + (Double($1) - mean) * (Double($1) - mean) } / Double(n.count)).squareRoot()
        XCTAssertEqual(mean, 1, accuracy: 0.05)
        XCTAssertEqual(sd, 2, accuracy: 0.05)
    }

    func testStrictLoadListsEveryProblemAndLoadsNothing() {
        let (store, _) = makeStore()
        var sd = store.stateDict()
        let before = store["conv_out.bias"]!.value.scalars
        sd["conv_out.bias"] = Tensor([9, 9])
        sd["conv_out.weight"] = nil
        sd["down_blocks.0.attentions.0.to_q.bias"] = nil
        sd["down_blocks.2.attentions.0.to_q.weight"] = Tensor(shape: [3, 5], repeating: 0)
        sd["extra.weight"] = Tensor([1])
        XCTAssertThrowsError(try store.loadStateDict(sd)) { error in
            let message = "\(error)"
            XCTAssertTrue(message.contains("2 missing keys: down_blocks.0.attentions.0.to_q.bias, conv_out.weight"), message)
            XCTAssertTrue(message.contains("1 unexpected key: extra.weight"), message)
            XCTAssertTrue(message.contains("1 shape mismatch: down_blocks.2.attentions.0.to_q.weight (model [3, 4], state dict [3, 5])"), message)
            XCTAssertEqual((error as? StateDictError)?.report.loaded, [])
        }
        XCTAssertEqual(store["conv_out.bias"]!.value.scalars, before, "a failed strict load changes nothing")

        let report = try! store.loadStateDict(sd, strict: false)
        XCTAssertEqual(report.missing, ["down_blocks.0.attentions.0.to_q.bias", "conv_out.weight"])
        XCTAssertEqual(report.unexpected, ["extra.weight"])
        XCTAssertEqual(report.mismatched.map(\.name), ["down_blocks.2.attentions.0.to_q.weight"])
        XCTAssertEqual(store["conv_out.bias"]!.value.scalars, [9, 9])
        XCTAssertEqual(report.loaded.count, 25 - 3)
    }

    func testRoundTripWithKeyPrefixAndUninitialisedStore() throws {
        let (source, _) = makeStore()
        let exported = source.stateDict(keyPrefix: "unet.")
        var file = exported
        file["text_encoder.something"] = Tensor([1])   // other models' keys are ignored under a prefix
        let target = ParameterStore(initialization: .uninitialized)
        let blocks = target.root.pp("down_blocks")
        for i in 0..<11 { _ = Affine(blocks.pp(i).pp("attentions").pp(0).pp("to_q"), 4, 3) }
        _ = Affine(target.root.pp("conv_out"), 3, 2)
        _ = target.root.pp("time_embedding").buffer("position_ids", value: Tensor([0, 1, 2]))
        XCTAssertEqual(target.uninitializedNames.count, 24)
        let report = try target.loadStateDict(file, keyPrefix: "unet.")
        XCTAssertTrue(report.isClean)
        XCTAssertTrue(target.uninitializedNames.isEmpty)
        for (k, v) in source.stateDict() { XCTAssertEqual(target[k]!.value.scalars, v.scalars, k) }
    }

    func testFreezeByComponentPrefix() {
        let (store, _) = makeStore()
        XCTAssertEqual(store.freeze(prefix: "down_blocks.1"), 2)
        XCTAssertFalse(store["down_blocks.1.attentions.0.to_q.weight"]!.requiresGrad)
        XCTAssertTrue(store["down_blocks.10.attentions.0.to_q.weight"]!.requiresGrad)
        XCTAssertEqual(store.trainableParameters().count, 22)
        store.freeze()
        XCTAssertEqual(store.trainableParameters().count, 0)
        XCTAssertEqual(store.unfreeze(prefix: "conv_out"), 2)
        XCTAssertEqual(store.trainableParameters().map(\.name), ["conv_out.weight", "conv_out.bias"])
        XCTAssertFalse(store["time_embedding.position_ids"]!.requiresGrad, "buffers never train")
    }
}

/// A small deterministic generator for tests (SplitMix64).
struct SplitMix: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

import Autodiff
import DataIO
import DiscriminativeAdapter
import Foundation
import NN
import Tensor
import XCTest

final class AdapterTests: XCTestCase {
    func tinyConfig(contrastive: Bool = false) -> AdapterConfig {
        AdapterConfig(hiddenDim: 8, heads: 2, feedForwardDim: 12, dropout: 0, matchingQueries: 2, referringQueries: 3,
                      featureChannels: 3, textEmbeddingDim: 5, textTokenDim: 4, maxTextTokens: 6, contrastiveAlign: contrastive,
                      contrastiveDim: 4)
    }

    func testOutputGradientWithRespectToFeatureMap() throws {
        let adapter = try DiscriminativeAdapter(config: tinyConfig(contrastive: true), seed: 3)
        adapter.store.freeze()
        // A point away from the FFN's ReLU kinks (seed 21 puts one element within 2e-3 of a kink: its central
        // difference then averages two slopes). The PyTorch parity test checks the same gradient to 1e-4.
        let x = GradientCheck.uniform([2, 3, 2, 3], seed: 23, in: -1...1)
        let report = GradientCheck.check(inputs: [x], eps: 1e-3, tolerance: 2e-2) { v in
            let o = adapter(v[0], timesteps: [250, 700])
            return Variable.concat([o.hiddenStates.reshaped([2, -1]), o.detr!.boxes.reshaped([2, -1]),
                                    o.matchingEmbeddings.reshaped([2, -1]), o.detr!.projectedQueries!.reshaped([2, -1])], axis: 1)
        }
        XCTAssertTrue(report.passed, "\(report)")
    }

    func testParameterGradientsReachEveryParameter() throws {
        let adapter = try DiscriminativeAdapter(config: tinyConfig(contrastive: true), seed: 4)
        let o = adapter(Variable(pseudoRandom([2, 3, 2, 2], seed: 1)), timesteps: [10])
        let loss = MatchingLoss.scores(o.matchingEmbeddings, text: Variable(pseudoRandom([2, 5], seed: 2))).sum() * o.logitScale
            + o.detr!.classLogits.square().mean() + o.detr!.boxes.mean() + o.detr!.projectedQueries!.sum()
            + adapter.projectTokens(Variable(pseudoRandom([2, 6, 4], seed: 3))).square().sum()
        loss.backward()
        for p in adapter.store.namedParameters() {
            let g = try XCTUnwrap(p.variable.grad, "no gradient for \(p.name)")
            XCTAssertTrue(g.scalars.allSatisfy { $0.isFinite }, p.name)
        }
    }

    func testSineCodeShapeAndLayout() {
        let pos = sinePositionEmbedding(dim: 8, height: 2, width: 3)
        XCTAssertEqual(pos.shape, [8, 2, 3])
        // Channel 0 is sin of the row position scaled to (0, 2π]; channel 4 the same for the column.
        XCTAssertEqual(pos[0, 1, 0], Float(Foundation.sin(2 / (2 + 1e-6) * 2 * Double.pi)), accuracy: 1e-5)
        XCTAssertEqual(pos[4, 0, 2], Float(Foundation.sin(3 / (3 + 1e-6) * 2 * Double.pi)), accuracy: 1e-5)
        XCTAssertEqual(pos[1, 0, 0], Float(Foundation.cos(1 / (2 + 1e-6) * 2 * Double.pi)), accuracy: 1e-5)
    }

    func testDropoutIsActiveOnlyInTraining() throws {
        var cfg = tinyConfig()
        cfg.dropout = 0.5
        let adapter = try DiscriminativeAdapter(config: cfg, seed: 1)
        let x = Variable(pseudoRandom([1, 3, 2, 2], seed: 9))
        var g1 = SplitMix(seed: 1), g2 = SplitMix(seed: 2)
        let a = adapter(x, timesteps: [5], generator: &g1).hiddenStates.value
        let b = adapter(x, timesteps: [5], generator: &g2).hiddenStates.value
        XCTAssertGreaterThan(maxAbsDiff(a, b), 1e-3)
        adapter.setTraining(false)
        let c = adapter(x, timesteps: [5]).hiddenStates.value, d = adapter(x, timesteps: [5]).hiddenStates.value
        XCTAssertEqual(maxAbsDiff(c, d), 0)
    }

    func testPresetsAndParameterCounts() throws {
        let bundled = AdapterConfig.bundled(featureChannels: 64, textEmbeddingDim: 256)
        XCTAssertEqual([bundled.hiddenDim, bundled.heads, bundled.feedForwardDim, bundled.matchingQueries, bundled.referringQueries],
                       [128, 4, 512, 4, 16])
        let release = AdapterConfig.release()
        XCTAssertEqual([release.hiddenDim, release.heads, release.feedForwardDim, release.matchingQueries, release.referringQueries,
                        release.featureChannels, release.textEmbeddingDim], [256, 8, 2048, 10, 100, 1280, 1024])
        XCTAssertEqual(release.dropout, 0.1)
        XCTAssertEqual(release.logitScaleInit, Float(Foundation.log(1 / 0.07)), accuracy: 1e-6)
        let adapter = try DiscriminativeAdapter(config: release, store: ParameterStore(initialization: .uninitialized))
        // Counted by hand from the release's module shapes (input_proj 1280->256, time MLP 256->1024->256, one DETR
        // encoder and decoder layer, 110 queries, map_to_clip 256->256->1024, class 256->78, box MLP 256->256->256->4).
        let d = 256, ff = 2048
        let attn = 3 * d * d + 3 * d + d * d + d, ffn = d * ff + ff + ff * d + d, ln = 2 * d
        let expected = (1280 * d + d) + (d * 4 * d + 4 * d + 4 * d * d + d) + (attn + ffn + 2 * ln)
            + (2 * attn + ffn + 3 * ln) + ln + 110 * d + (d * d + d + d * 1024 + 1024) + 1 + (d * 78 + 78)
            + (2 * (d * d + d) + d * 4 + 4)
        XCTAssertEqual(adapter.store.parameterCount(), expected)
        XCTAssertThrowsError(try AdapterConfig.preset("huge", featureChannels: 1, textEmbeddingDim: 1))
        var bad = bundled
        bad.heads = 3
        XCTAssertThrowsError(try DiscriminativeAdapter(config: bad, seed: 0))
    }

    func testSaveLoadRoundTripIsStrict() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("adapter-roundtrip-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let adapter = try DiscriminativeAdapter(config: tinyConfig(contrastive: true), seed: 5)
        adapter.logitScale.value = Tensor(scalar: 3.25)                  // a trained value, not the init
        let folder = ComponentFolder(dir.appendingPathComponent(DiscriminativeAdapter.componentName))
        try adapter.save(to: folder)
        XCTAssertTrue(FileManager.default.fileExists(atPath: folder.url.appendingPathComponent("config.json").path))
        XCTAssertTrue(FileManager.default.fileExists(atPath: folder.url.appendingPathComponent(DiscriminativeAdapter.weightsFileName).path))
        let loaded = try DiscriminativeAdapter.load(from: folder)
        XCTAssertEqual(loaded.config, adapter.config)
        let a = adapter.store.stateDict(), b = loaded.store.stateDict()
        XCTAssertEqual(Set(a.keys), Set(b.keys))
        for (k, v) in a { XCTAssertEqual(v.scalars, b[k]!.scalars, k) }
        XCTAssertEqual(loaded.logitScale.value.item(), 3.25)
        let x = Variable(pseudoRandom([1, 3, 2, 2], seed: 4))
        XCTAssertEqual(adapter(x, timesteps: [1]).detr!.boxes.value.scalars, loaded(x, timesteps: [1]).detr!.boxes.value.scalars)

        // Strict loading: a weights file from a different config fails, naming the keys.
        let other = try DiscriminativeAdapter(config: tinyConfig(contrastive: false), seed: 5)
        try SafetensorsFile.write(other.store.stateDict(), to: folder.url.appendingPathComponent(DiscriminativeAdapter.weightsFileName))
        XCTAssertThrowsError(try DiscriminativeAdapter.load(from: folder)) { e in
            XCTAssertTrue("\(e)".contains("contrastive_align_projection_image.weight"), "\(e)")
        }
        var extra = adapter.store.stateDict()
        extra["unexpected.weight"] = Tensor(shape: [1], repeating: 0)
        try SafetensorsFile.write(extra, to: folder.url.appendingPathComponent(DiscriminativeAdapter.weightsFileName))
        XCTAssertThrowsError(try DiscriminativeAdapter.load(from: folder)) { e in XCTAssertTrue("\(e)".contains("unexpected.weight"), "\(e)") }
        // Unknown config keys are rejected.
        var json = try JSONSerialization.jsonObject(with: Data(contentsOf: folder.configURL)) as! [String: Any]
        json["hiden_dim"] = 8
        try JSONSerialization.data(withJSONObject: json).write(to: folder.configURL)
        XCTAssertThrowsError(try DiscriminativeAdapter.load(from: folder)) { e in XCTAssertTrue("\(e)".contains("hiden_dim"), "\(e)") }
    }
}

import Autodiff
import DataIO
import DiscriminativeAdapter
import Foundation
import NN
import Tensor
import XCTest

final class RECHeatmapTests: XCTestCase {
    func heatmapConfig(valuePosition: Bool = false) -> AdapterConfig {
        AdapterConfig(hiddenDim: 8, heads: 2, feedForwardDim: 12, dropout: 0, matchingQueries: 2, referringQueries: 0,
                      featureChannels: 3, textEmbeddingDim: 5, maxTextTokens: 6, recHead: .heatmap,
                      decoderValuePosition: valuePosition)
    }

    func testShapesBoxesAndTopBoxReadAtThePeak() throws {
        let adapter = try DiscriminativeAdapter(config: heatmapConfig(), seed: 1)
        let out = adapter(Variable(pseudoRandom([2, 3, 4, 5], seed: 2)), timesteps: [10, 900])
        let h = try XCTUnwrap(out.heatmap)
        XCTAssertNil(out.detr)
        XCTAssertEqual(h.logits.shape, [2, 20])
        XCTAssertEqual(h.boxes.shape, [2, 20, 4])
        XCTAssertEqual(out.hiddenStates.shape, [2, 2, 8])             // matching queries only
        // Each cell's centre lies within 1.5 cells of the cell's own centre; sizes in (0, 1).
        let bx = h.boxes.value.scalars
        for s in 0..<2 {
            for i in 0..<4 {
                for j in 0..<5 {
                    let c = (s * 20 + i * 5 + j) * 4
                    XCTAssertLessThanOrEqual(abs(bx[c] * 5 - (Float(j) + 0.5)), 1.5 + 1e-5)
                    XCTAssertLessThanOrEqual(abs(bx[c + 1] * 4 - (Float(i) + 0.5)), 1.5 + 1e-5)
                    XCTAssertTrue(bx[c + 2] > 0 && bx[c + 2] < 1 && bx[c + 3] > 0 && bx[c + 3] < 1)
                }
            }
        }
        // The top box is the box of the arg-max cell.
        let logits = Tensor(shape: [1, 4], scalars: [0, 3, 1, -1])
        let boxes = Tensor(shape: [1, 4, 4], scalars: (0..<16).map { Float($0) / 16 })
        let top = RECPrediction.heatmap(RECHeatmap(logits: Variable(logits), boxes: Variable(boxes), height: 2, width: 2)).topBoxes()
        XCTAssertEqual(top[0].map { Float($0) }, [4, 5, 6, 7].map { Float($0) / 16 })
    }

    func testTargetIsANormalisedGaussianPeakingAtTheReferentsCell() throws {
        // A 4x4 grid, the referent centred in cell (row 1, column 2): the target peaks there and sums to 1; the
        // cross-entropy of logits equal to the log-target is the target's entropy (its minimum).
        let t = try RECTarget(boxes: [[(2 + 0.5) / 4, (1 + 0.5) / 4, 0.2, 0.2]], tokenSpans: [[1]])
        var g = [Float](), total: Float = 0
        for i in 0..<4 {
            for j in 0..<4 {
                let d = Float((i - 1) * (i - 1) + (j - 2) * (j - 2))
                g.append(Foundation.exp(-d / 2))
                total += g.last!
            }
        }
        let target = g.map { $0 / total }
        let entropy = -target.reduce(Float(0)) { $0 + $1 * Foundation.log($1) }
        let boxes = Variable(Tensor(shape: [1, 16, 4], scalars: Array(repeating: [0.625, 0.375, 0.2, 0.2], count: 16).flatMap { $0 }))
        let terms = try RECCriterion().heatmapLoss(RECHeatmap(logits: Variable(Tensor(shape: [1, 16], scalars: target.map { Foundation.log($0) })),
                                                              boxes: boxes, height: 4, width: 4), targets: [t])
        XCTAssertEqual(terms.classification.value.item(), entropy, accuracy: 1e-4)
        XCTAssertEqual(terms.boxL1.value.item(), 0, accuracy: 1e-6)          // every cell predicts the referent's box
        XCTAssertEqual(terms.giou.value.item(), 0, accuracy: 1e-5)
        // A flat heatmap scores worse than the target itself.
        let flat = try RECCriterion().heatmapLoss(RECHeatmap(logits: Variable(Tensor(shape: [1, 16], repeating: 0)), boxes: boxes,
                                                             height: 4, width: 4), targets: [t])
        XCTAssertEqual(flat.classification.value.item(), Foundation.log(16), accuracy: 1e-4)
        XCTAssertGreaterThan(flat.classification.value.item(), entropy)
    }

    func testLossGradientMatchesCentralDifferences() throws {
        let targets = try [RECTarget(boxes: [[0.3, 0.6, 0.2, 0.3]], tokenSpans: [[1]]),
                           RECTarget(boxes: [[0.7, 0.2, 0.4, 0.1], [0.2, 0.8, 0.1, 0.2]], tokenSpans: [[1], [2]])]
        let criterion = RECCriterion(heatmapSigma: 0.8)
        let report = GradientCheck.check(inputs: [GradientCheck.uniform([2, 12], seed: 3, in: -1...1),
                                                  GradientCheck.uniform([2, 12, 4], seed: 4, in: -2...2)]) { v in
            let h = RECHeatmap(logits: v[0], boxes: v[1].sigmoid(), height: 3, width: 4)
            return try! criterion.heatmapLoss(h, targets: targets).total
        }
        XCTAssertTrue(report.passed, "\(report)")
    }

    func testHeatmapLossReachesTheFeatureMapAndEveryHeadParameter() throws {
        let adapter = try DiscriminativeAdapter(config: heatmapConfig(valuePosition: true), seed: 2)
        let x = Variable(pseudoRandom([2, 3, 3, 4], seed: 5), requiresGrad: true)
        let out = adapter(x, timesteps: [100])
        let targets = try [RECTarget(boxes: [[0.3, 0.6, 0.2, 0.3]], tokenSpans: [[1]]),
                           RECTarget(boxes: [[0.7, 0.2, 0.4, 0.1]], tokenSpans: [[1]])]
        let rec = try RECCriterion().loss(out.rec, targets: targets)
        XCTAssertTrue(rec.matching.isEmpty)
        let headParams = adapter.store.namedParameters().filter { $0.name.hasPrefix("rec_heatmap.") || $0.name.hasPrefix("input_proj") }
        XCTAssertEqual(Set(headParams.map(\.name)).count, 2 + 8 + 2)     // conv, two 2-layer MLPs, input_proj (weights, biases)
        let grads = gradients(of: rec.total, withRespectTo: [x] + headParams.map(\.variable))
        for (name, g) in zip(["features"] + headParams.map(\.name), grads) {
            XCTAssertGreaterThan(g.scalars.map(abs).max()!, 0, "no REC gradient reaches \(name)")
        }
        // The heatmap head has no token alignment.
        XCTAssertThrowsError(try RECCriterion().loss(out.rec, targets: targets, projectedTokens: Variable(pseudoRandom([2, 6, 4], seed: 1))))
    }

    func testConfigValidationAndRoundTrip() throws {
        var bad = heatmapConfig()
        bad.referringQueries = 4
        XCTAssertThrowsError(try bad.validate()) { XCTAssertTrue("\($0)".contains("num_queries_rec must be 0"), "\($0)") }
        bad = heatmapConfig()
        bad.contrastiveAlign = true
        XCTAssertThrowsError(try bad.validate()) { XCTAssertTrue("\($0)".contains("contrastive_align_loss"), "\($0)") }
        bad = heatmapConfig()
        bad.recReferencePoints = true
        XCTAssertThrowsError(try bad.validate()) { XCTAssertTrue("\($0)".contains("rec_reference_points"), "\($0)") }

        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("heatmap-roundtrip-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let adapter = try DiscriminativeAdapter(config: heatmapConfig(valuePosition: true), seed: 3)
        let folder = ComponentFolder(dir.appendingPathComponent(DiscriminativeAdapter.componentName))
        try adapter.save(to: folder)
        let loaded = try DiscriminativeAdapter.load(from: folder)
        XCTAssertEqual(loaded.config, adapter.config)
        let x = Variable(pseudoRandom([1, 3, 2, 2], seed: 4))
        XCTAssertEqual(adapter(x, timesteps: [1]).heatmap!.logits.value.scalars, loaded(x, timesteps: [1]).heatmap!.logits.value.scalars)
        // An unknown head name fails naming the key; a config without the key is the release's DETR head.
        var json = try JSONSerialization.jsonObject(with: Data(contentsOf: folder.configURL)) as! [String: Any]
        json["rec_head"] = "mask"
        try JSONSerialization.data(withJSONObject: json).write(to: folder.configURL)
        XCTAssertThrowsError(try DiscriminativeAdapter.load(from: folder)) { XCTAssertTrue("\($0)".contains("rec_head 'mask'"), "\($0)") }
        for key in ["rec_head", "rec_reference_points", "dec_value_pos"] { json.removeValue(forKey: key) }
        json["num_queries_rec"] = 3
        let old = try JSONDecoder().decode(AdapterConfig.self, from: JSONSerialization.data(withJSONObject: json))
        XCTAssertEqual(old.recHead, .detr)
        XCTAssertFalse(old.recReferencePoints || old.decoderValuePosition)
    }

    func testDETRDeviationsKeepTheReleaseKeysAndAddOnlyTheirOwn() throws {
        var c = AdapterConfig(hiddenDim: 8, heads: 2, feedForwardDim: 12, dropout: 0, matchingQueries: 2, referringQueries: 3,
                              featureChannels: 3, textEmbeddingDim: 5, maxTextTokens: 6)
        let release = try DiscriminativeAdapter(config: c, seed: 1)
        c.recReferencePoints = true
        c.decoderValuePosition = true
        let deviated = try DiscriminativeAdapter(config: c, seed: 1)
        XCTAssertEqual(Set(deviated.store.stateDict().keys).subtracting(release.store.stateDict().keys), ["rec_reference_points"])
        let ref = try XCTUnwrap(deviated.recReference)
        XCTAssertEqual(ref.shape, [3, 2])
        // Zero reference logits give the release's boxes when the value position is off.
        c.decoderValuePosition = false
        let refOnly = try DiscriminativeAdapter(config: c, seed: 1)
        _ = try refOnly.store.loadStateDict(release.store.stateDict().merging(["rec_reference_points": Tensor(shape: [3, 2], repeating: 0)]) { a, _ in a })
        let x = Variable(pseudoRandom([1, 3, 2, 2], seed: 4))
        XCTAssertEqual(refOnly(x, timesteps: [1]).detr!.boxes.value.scalars, release(x, timesteps: [1]).detr!.boxes.value.scalars)
    }

    /// `heatmap_text`: the bilinear text term changes the scores with the text, its gradient with respect to the text
    /// and the position code is right (central differences; the memory path crosses ReLU kinks, so it is checked
    /// by the adapter-level tests instead), it adds only its own keys, and it round-trips.
    func testTextTermGradientKeysAndRoundTrip() throws {
        var c = heatmapConfig()
        c.heatmapText = true
        let plain = try DiscriminativeAdapter(config: heatmapConfig(), seed: 1)
        let adapter = try DiscriminativeAdapter(config: c, seed: 1)
        XCTAssertEqual(Set(adapter.store.stateDict().keys).subtracting(plain.store.stateDict().keys),
                       ["rec_heatmap.text_query.weight", "rec_heatmap.text_query.bias", "rec_heatmap.cell_key.weight", "rec_heatmap.cell_key.bias"])
        let x = Variable(pseudoRandom([2, 3, 3, 4], seed: 5))
        let t1 = Variable(pseudoRandom([2, 5], seed: 6)), t2 = Variable(pseudoRandom([2, 5], seed: 7))
        XCTAssertNotEqual(adapter(x, timesteps: [100], text: t1).heatmap!.logits.value.scalars,
                          adapter(x, timesteps: [100], text: t2).heatmap!.logits.value.scalars)
        let head = try XCTUnwrap(adapter.recHeatmap)
        let weights = pseudoRandom([2, 12], seed: 9)
        let report = GradientCheck.check(inputs: [GradientCheck.uniform([2, 12, 8], seed: 3, in: -1...1),
                                                  GradientCheck.uniform([2, 5], seed: 4, in: -1...1),
                                                  GradientCheck.uniform([1, 12, 8], seed: 8, in: -1...1)],
                                         differentiable: [false, true, true]) { v in
            (head(v[0], height: 3, width: 4, text: v[1], position: v[2]).logits * weights).sum()
        }
        XCTAssertTrue(report.passed, "\(report)")
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("heatmap-text-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let folder = ComponentFolder(dir.appendingPathComponent(DiscriminativeAdapter.componentName))
        try adapter.save(to: folder)
        let loaded = try DiscriminativeAdapter.load(from: folder)
        XCTAssertTrue(loaded.config.heatmapText)
        XCTAssertEqual(loaded(x, timesteps: [100], text: t1).heatmap!.logits.value.scalars,
                       adapter(x, timesteps: [100], text: t1).heatmap!.logits.value.scalars)
        var detr = c
        detr.recHead = .detr
        detr.referringQueries = 2
        XCTAssertThrowsError(try detr.validate()) { XCTAssertTrue("\($0)".contains("heatmap_text"), "\($0)") }
    }
}

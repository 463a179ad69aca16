import Autodiff
import DataIO
import DiscriminativeAdapter
import Foundation
import NN
import Tensor
import XCTest

/// The adapter, its heads and losses against the PyTorch re-implementation of the release
/// (Tools/reference/fixtures/adapter_parity.py) with the same weights.
final class AdapterParityTests: XCTestCase {
    struct Meta: Decodable {
        struct Target: Decodable { let boxes: [[Float]]; let spans: [[Int]]; let count: Int }
        let config: AdapterConfig
        let timesteps: [Float]
        let targets: [Target]
        let matches: [[[Int]]]
    }

    func load() throws -> (DiscriminativeAdapter, Meta, [String: Tensor]) {
        let meta = try JSONDecoder().decode(Meta.self, from: Data(contentsOf: fixtureURL("adapter_parity", "json")))
        let file = try SafetensorsFile(contentsOf: fixtureURL("adapter_parity", "safetensors"))
        var weights: [String: Tensor] = [:], fixture: [String: Tensor] = [:]
        for n in file.tensorNames {
            if n.hasPrefix("fixture.") { fixture[String(n.dropFirst(8))] = try file.tensor(n) } else { weights[n] = try file.tensor(n) }
        }
        let adapter = try DiscriminativeAdapter(config: meta.config, store: ParameterStore(initialization: .uninitialized))
        try adapter.store.loadStateDict(weights)                        // strict: every key used, none missing
        XCTAssertTrue(adapter.store.uninitializedNames.isEmpty)
        return (adapter, meta, fixture)
    }

    func testForwardMatchesPyTorch() throws {
        let (adapter, meta, f) = try load()
        let x = Variable(f["input.features"]!)
        let out = adapter(x, timesteps: meta.timesteps)
        let cfg = meta.config
        XCTAssertLessThan(maxAbsDiff(sinePositionEmbedding(dim: cfg.hiddenDim, height: 4, width: 5), f["out.pos"]!), 1e-5)
        XCTAssertLessThan(maxAbsDiff(out.hiddenStates.value, f["out.hs"]!), 2e-5)
        XCTAssertLessThan(maxAbsDiff(out.matchingEmbeddings.value, f["out.q_emb"]!), 2e-5)
        XCTAssertLessThan(maxAbsDiff(out.detr!.classLogits.value, f["out.logits"]!), 2e-5)
        XCTAssertLessThan(maxAbsDiff(out.detr!.boxes.value, f["out.boxes"]!), 1e-5)
        XCTAssertLessThan(maxAbsDiff(out.detr!.projectedQueries!.value, f["out.proj_queries"]!), 1e-5)
        XCTAssertLessThan(maxAbsDiff(adapter.projectTokens(Variable(f["input.tokens"]!)).value, f["out.proj_tokens"]!), 1e-5)
        let scores = MatchingLoss.scores(out.matchingEmbeddings, text: Variable(f["input.pooled"]!))
        XCTAssertLessThan(maxAbsDiff(scores.value, f["out.scores"]!), 1e-5)
        let itm = MatchingLoss.contrastive(scores: Variable(f["input.itm_scores"]!), scale: out.logitScale)
        XCTAssertEqual(itm.value.item(), f["loss.itm"]!.scalars[0], accuracy: 1e-5)
    }

    func testRECLossMatchingAndInputGradientMatchPyTorch() throws {
        let (adapter, meta, f) = try load()
        let x = Variable(f["input.features"]!, requiresGrad: true)
        let out = adapter(x, timesteps: meta.timesteps)
        let targets = try meta.targets.map { try RECTarget(boxes: $0.boxes, tokenSpans: $0.spans, tokenCount: $0.count) }
        let criterion = RECCriterion(temperature: meta.config.contrastiveTemperature)
        let terms = try criterion.loss(classLogits: out.detr!.classLogits, boxes: out.detr!.boxes, targets: targets,
                                       projectedQueries: out.detr!.projectedQueries,
                                       projectedTokens: adapter.projectTokens(Variable(f["input.tokens"]!)))
        XCTAssertEqual(terms.matching.map { $0.map { [$0.query, $0.target] } }, meta.matches)   // scipy's assignment
        XCTAssertEqual(terms.classification.value.item(), f["loss.ce"]!.scalars[0], accuracy: 2e-5)
        XCTAssertEqual(terms.boxL1.value.item(), f["loss.l1"]!.scalars[0], accuracy: 2e-5)
        XCTAssertEqual(terms.giou.value.item(), f["loss.giou"]!.scalars[0], accuracy: 2e-5)
        XCTAssertEqual(terms.contrastive!.value.item(), f["loss.contrastive"]!.scalars[0], accuracy: 5e-5)
        XCTAssertEqual(terms.total.value.item(), f["loss.rec_total"]!.scalars[0], accuracy: 1e-4)
        let objective = MatchingLoss.scores(out.matchingEmbeddings, text: Variable(f["input.pooled"]!)).sum() + terms.total
        objective.backward()
        let g = try XCTUnwrap(x.grad)
        let ref = f["grad.features"]!
        let scale = ref.scalars.map(abs).max()!
        XCTAssertLessThan(maxAbsDiff(g, ref) / scale, 1e-4, "d objective / d features")
    }
}

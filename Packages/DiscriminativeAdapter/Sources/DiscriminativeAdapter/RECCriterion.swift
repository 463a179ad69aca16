import Autodiff
import Foundation
import Tensor

/// The ground truth of one referring-expression sample: boxes and, for each box, the token positions (into the
/// text encoder's sequence for the expression, start token at 0) of the words that name it.
public struct RECTarget: Equatable, Sendable {
    /// (cx, cy, w, h) normalised to the image, one per object.
    public var boxes: [[Float]]
    /// Per box: the token positions of its phrase (non-empty, each < L).
    public var tokenSpans: [[Int]]
    /// Valid tokens of the expression (start ... end token): the negatives of the contrastive alignment. nil: all.
    public var tokenCount: Int?

    public init(boxes: [[Float]], tokenSpans: [[Int]], tokenCount: Int? = nil) throws {
        guard boxes.count == tokenSpans.count else {
            throw AdapterError.input("RECTarget: \(boxes.count) boxes but \(tokenSpans.count) token spans")
        }
        for (i, b) in boxes.enumerated() {
            guard b.count == 4, b.allSatisfy({ $0.isFinite }), b[2] > 0, b[3] > 0 else {
                throw AdapterError.input("RECTarget: box \(i) \(b) must be (cx, cy, w, h) with positive size")
            }
        }
        for (i, s) in tokenSpans.enumerated() where s.isEmpty || s.contains(where: { $0 < 0 }) || (tokenCount.map { c in s.contains { $0 >= c } } ?? false) {
            throw AdapterError.input("RECTarget: token span \(i) \(s) must be non-empty positions below the token count \(tokenCount.map(String.init) ?? "L")")
        }
        self.boxes = boxes
        self.tokenSpans = tokenSpans.map { Array(Set($0)).sorted() }
        self.tokenCount = tokenCount
    }
}

/// Loss and matching weights of the REC set criterion (MDETR / the release's defaults).
public struct RECLossWeights: Codable, Equatable, Sendable {
    public var classWeight: Float = 1
    public var boxL1Weight: Float = 5
    public var giouWeight: Float = 2
    public var contrastiveWeight: Float = 1
    /// Weight of the "no object" target of unmatched queries in the class loss (`eos_coef`).
    public var noObjectWeight: Float = 0.1
    public var matchClassCost: Double = 1
    public var matchBoxL1Cost: Double = 5
    public var matchGIoUCost: Double = 2

    public init() {}

    enum CodingKeys: String, CodingKey {
        case classWeight = "ce_loss_coef", boxL1Weight = "bbox_loss_coef", giouWeight = "giou_loss_coef"
        case contrastiveWeight = "contrastive_align_loss_coef", noObjectWeight = "eos_coef"
        case matchClassCost = "set_cost_class", matchBoxL1Cost = "set_cost_bbox", matchGIoUCost = "set_cost_giou"
    }
}

/// One matched (query, target box) pair of a sample.
public struct RECMatch: Equatable, Sendable {
    public var query: Int
    public var target: Int
    public init(query: Int, target: Int) { self.query = query; self.target = target }
}

/// The loss terms of one REC batch (each already normalised by the number of boxes and weighted).
public struct RECLossTerms {
    /// Weighted sum of the terms below.
    public var total: Variable
    public var classification: Variable
    public var boxL1: Variable
    public var giou: Variable
    public var contrastive: Variable?
    /// The matching used, per sample.
    public var matching: [[RECMatch]]
    /// max(1, number of target boxes).
    public var boxCount: Float
}

/// MDETR's set criterion as DPT uses it: Hungarian matching of REC queries to target boxes with cost
/// `1 * class + 5 * L1 + 2 * (-GIoU)`, then `1 * CE(token span, no-object weight 0.1) + 5 * L1 + 2 * (1 - GIoU)
/// (+ 1 * contrastive alignment)`, each summed over the batch and divided by the number of target boxes.
///
/// Class targets: a matched query's target is its box's token span as a distribution (1/|span| on each position);
/// an unmatched query's target is "no object" (the last class) with weight 0.1. The class cost of a pair is minus
/// the probability the query puts on the span, weighted by that distribution (MDETR: `-(softmax · positive_map)`).
/// The release builds the span as a multi-hot vector instead; that defect is not copied.
public struct RECCriterion {
    public var weights: RECLossWeights
    /// Temperature of the contrastive alignment logits.
    public var temperature: Float
    /// Standard deviation, in feature cells, of the heatmap head's Gaussian centre target.
    public var heatmapSigma: Float

    public init(weights: RECLossWeights = RECLossWeights(), temperature: Float = 0.07, heatmapSigma: Float = 1) {
        self.weights = weights
        self.temperature = temperature
        self.heatmapSigma = heatmapSigma
    }

    /// The loss of either head's prediction; `projectedTokens` [B, L', k] enables DETR's contrastive term when the
    /// prediction carries projected queries.
    public func loss(_ prediction: RECPrediction, targets: [RECTarget], projectedTokens: Variable? = nil) throws -> RECLossTerms {
        switch prediction {
        case let .detr(c, b, p):
            return try loss(classLogits: c, boxes: b, targets: targets, projectedQueries: p, projectedTokens: projectedTokens)
        case let .heatmap(h):
            guard projectedTokens == nil else {
                throw AdapterError.input("RECCriterion.loss: the heatmap head has no queries to align with token states")
            }
            return try heatmapLoss(h, targets: targets)
        }
    }

    /// The target distribution over `classes` (= L + 1) for one token span.
    static func spanDistribution(_ span: [Int], classes: Int) -> [Float] {
        var p = [Float](repeating: 0, count: classes)
        for t in span { p[t] = 1 / Float(span.count) }
        return p
    }

    func checkTargets(_ targets: [RECTarget], batch: Int, classes: Int) throws {
        guard targets.count == batch else {
            throw AdapterError.input("RECCriterion: \(targets.count) targets for a batch of \(batch)")
        }
        for (b, t) in targets.enumerated() {
            for (i, s) in t.tokenSpans.enumerated() where s.contains(where: { $0 >= classes - 1 }) {
                throw AdapterError.input("RECCriterion: sample \(b) box \(i) token span \(s) reaches past the \(classes - 1) token positions of the class head")
            }
        }
    }

    /// Matching cost matrix [Nr][boxes] of one sample (plain numbers).
    public func costMatrix(classLogits: Tensor, boxes: Tensor, target: RECTarget) -> [[Double]] {
        let nr = classLogits.shape[0], c = classLogits.shape[1]
        let probs = classLogits.softmax(axis: -1).scalars
        let bx = boxes.scalars
        let tgtCorners = target.boxes.map { BoxOps.corners($0.map(Double.init)) }
        let dists = target.tokenSpans.map { Self.spanDistribution($0, classes: c) }
        return (0..<nr).map { q in
            let pb = (0..<4).map { Double(bx[q * 4 + $0]) }
            let pc = BoxOps.corners(pb)
            return target.boxes.indices.map { j in
                var cls = 0.0
                for t in target.tokenSpans[j] { cls -= Double(probs[q * c + t]) * Double(dists[j][t]) }
                var l1 = 0.0
                for k in 0..<4 { l1 += abs(pb[k] - Double(target.boxes[j][k])) }
                let giou = BoxOps.generalizedIoU(pc, tgtCorners[j])
                return weights.matchClassCost * cls + weights.matchBoxL1Cost * l1 - weights.matchGIoUCost * giou
            }
        }
    }

    /// Hungarian matching per sample: `classLogits` [B, Nr, L + 1], `boxes` [B, Nr, 4] (cx, cy, w, h).
    public func match(classLogits: Tensor, boxes: Tensor, targets: [RECTarget]) throws -> [[RECMatch]] {
        guard classLogits.rank == 3, boxes.rank == 3, boxes.shape[2] == 4, classLogits.shape[0] == boxes.shape[0],
              classLogits.shape[1] == boxes.shape[1] else {
            throw AdapterError.input("RECCriterion.match: class logits \(classLogits.shape) and boxes \(boxes.shape) must be [B, Nr, C] and [B, Nr, 4]")
        }
        try checkTargets(targets, batch: classLogits.shape[0], classes: classLogits.shape[2])
        return try targets.enumerated().map { b, t in
            guard !t.boxes.isEmpty else { return [] }
            let cost = costMatrix(classLogits: classLogits.selecting(axis: 0, index: b).contiguous(),
                                  boxes: boxes.selecting(axis: 0, index: b).contiguous(), target: t)
            return try LinearAssignment.solve(cost).pairs.map { RECMatch(query: $0.row, target: $0.column) }
        }
    }

    /// The loss. `projectedQueries` [B, Nr, k] and `projectedTokens` [B, L', k] (both L2-normalised) enable the
    /// contrastive alignment term; `matching` overrides the Hungarian matching (e.g. to hold it fixed in a
    /// gradient check).
    public func loss(classLogits: Variable, boxes: Variable, targets: [RECTarget], projectedQueries: Variable? = nil,
                     projectedTokens: Variable? = nil, matching given: [[RECMatch]]? = nil) throws -> RECLossTerms {
        guard classLogits.rank == 3, boxes.rank == 3, boxes.shape[2] == 4, classLogits.shape[0] == boxes.shape[0],
              classLogits.shape[1] == boxes.shape[1] else {
            throw AdapterError.input("RECCriterion.loss: class logits \(classLogits.shape) and boxes \(boxes.shape) must be [B, Nr, C] and [B, Nr, 4]")
        }
        let b = classLogits.shape[0], nr = classLogits.shape[1], c = classLogits.shape[2]
        try checkTargets(targets, batch: b, classes: c)
        let matching = try given ?? match(classLogits: classLogits.value, boxes: boxes.value, targets: targets)
        guard matching.count == b else { throw AdapterError.input("RECCriterion.loss: matching has \(matching.count) samples for \(b)") }
        for (s, ms) in matching.enumerated() {
            for m in ms where m.query < 0 || m.query >= nr || m.target < 0 || m.target >= targets[s].boxes.count {
                throw AdapterError.input("RECCriterion.loss: sample \(s) match \(m) is out of range")
            }
        }
        let boxCount = Float(max(1, targets.reduce(0) { $0 + $1.boxes.count }))

        // Class term: soft targets (span distribution or no-object), per-query weights folded into the targets.
        var weighted = [Float](repeating: 0, count: b * nr * c)
        for s in 0..<b {
            var matched = [Int?](repeating: nil, count: nr)
            for m in matching[s] { matched[m.query] = m.target }
            for q in 0..<nr {
                let base = (s * nr + q) * c
                if let j = matched[q] {
                    let p = Self.spanDistribution(targets[s].tokenSpans[j], classes: c)
                    for k in 0..<c { weighted[base + k] = p[k] }
                } else {
                    weighted[base + c - 1] = weights.noObjectWeight
                }
            }
        }
        let logp = classLogits.logSoftmax(axis: -1)
        let ce = (logp * Tensor(shape: [b, nr, c], scalars: weighted)).sum() * (-1 / boxCount)

        // Box terms on the matched pairs.
        var flat: [Int] = [], tgt: [Float] = []
        for (s, ms) in matching.enumerated() {
            for m in ms {
                flat.append(s * nr + m.query)
                tgt.append(contentsOf: targets[s].boxes[m.target])
            }
        }
        let l1: Variable, giou: Variable
        if flat.isEmpty {
            l1 = Variable(Tensor(scalar: 0))
            giou = Variable(Tensor(scalar: 0))
        } else {
            let pred = boxes.reshaped([b * nr, 4]).indexSelect(axis: 0, indices: flat)
            let target = Variable(Tensor(shape: [flat.count, 4], scalars: tgt))
            l1 = (pred - target).abs().sum() * (1 / boxCount)
            let g = BoxOps.generalizedIoU(BoxOps.cornersFromCenter(pred), BoxOps.cornersFromCenter(target))
            giou = (1 - g).sum() * (1 / boxCount)
        }

        var contrastive: Variable? = nil
        if let pq = projectedQueries, let pt = projectedTokens {
            contrastive = try contrastiveAlign(queries: pq, tokens: pt, targets: targets, matching: matching) * (1 / boxCount)
        } else if (projectedQueries == nil) != (projectedTokens == nil) {
            throw AdapterError.input("RECCriterion.loss: contrastive alignment needs both projected queries and projected tokens")
        }
        var total = ce * weights.classWeight + l1 * weights.boxL1Weight + giou * weights.giouWeight
        if let contrastive { total = total + contrastive * weights.contrastiveWeight }
        return RECLossTerms(total: total, classification: ce, boxL1: l1, giou: giou, contrastive: contrastive,
                            matching: matching, boxCount: boxCount)
    }

    /// MDETR's contrastive alignment (before division by the box count): logits = q · t / temperature [B, Nr, L'];
    /// a matched query is positive with its box's span tokens. Box-to-token: for each query with positives,
    /// -mean(positive logits) + logsumexp over the valid tokens; token-to-box: for each token with positives,
    /// -mean(positive logits) + logsumexp over the queries; the result is the average of the two sums. Padding
    /// tokens beyond `tokenCount` are excluded from the token logsumexp (MDETR includes them).
    public func contrastiveAlign(queries: Variable, tokens: Variable, targets: [RECTarget], matching: [[RECMatch]]) throws -> Variable {
        guard queries.rank == 3, tokens.rank == 3, queries.shape[0] == tokens.shape[0], queries.shape[2] == tokens.shape[2] else {
            throw AdapterError.input("RECCriterion.contrastiveAlign: projected queries \(queries.shape) and tokens \(tokens.shape) must be [B, Nr, k] and [B, L, k]")
        }
        let b = queries.shape[0], nr = queries.shape[1], l = tokens.shape[1]
        var pos = [Float](repeating: 0, count: b * nr * l)
        var mask = [Float](repeating: 0, count: b * nr * l)
        for s in 0..<b {
            let valid = targets[s].tokenCount ?? l
            guard valid <= l else {
                throw AdapterError.input("RECCriterion.contrastiveAlign: sample \(s) has token count \(valid) but the token states hold \(l)")
            }
            for q in 0..<nr { for t in valid..<l { mask[(s * nr + q) * l + t] = -1e9 } }
            for m in matching[s] {
                for t in targets[s].tokenSpans[m.target] {
                    guard t < valid else {
                        throw AdapterError.input("RECCriterion.contrastiveAlign: sample \(s) token \(t) is outside the \(valid) valid tokens")
                    }
                    pos[(s * nr + m.query) * l + t] = 1
                }
            }
        }
        // Row weights (per query) and column weights (per token): 1/count of positives, and the has-positive flags.
        var rowW = [Float](repeating: 0, count: b * nr * l), rowHas = [Float](repeating: 0, count: b * nr)
        var colW = [Float](repeating: 0, count: b * nr * l), colHas = [Float](repeating: 0, count: b * l)
        for s in 0..<b {
            for q in 0..<nr {
                let base = (s * nr + q) * l
                let n = (0..<l).reduce(Float(0)) { $0 + pos[base + $1] }
                if n > 0 { rowHas[s * nr + q] = 1; for t in 0..<l { rowW[base + t] = pos[base + t] / n } }
            }
            for t in 0..<l {
                let n = (0..<nr).reduce(Float(0)) { $0 + pos[(s * nr + $1) * l + t] }
                if n > 0 { colHas[s * l + t] = 1; for q in 0..<nr { colW[(s * nr + q) * l + t] = pos[(s * nr + q) * l + t] / n } }
            }
        }
        let logits = Variable.matmul(queries, tokens, transposeB: true) * (1 / temperature)       // [B, Nr, L]
        let shape = [b, nr, l]
        let boxToToken = -(logits * Tensor(shape: shape, scalars: rowW)).sum()
            + ((logits + Tensor(shape: shape, scalars: mask)).logSumExp(axis: 2) * Tensor(shape: [b, nr], scalars: rowHas)).sum()
        let tokenToBox = -(logits * Tensor(shape: shape, scalars: colW)).sum()
            + (logits.logSumExp(axis: 1) * Tensor(shape: [b, l], scalars: colHas)).sum()
        return (boxToToken + tokenToBox) * 0.5
    }
}

import Autodiff
import Foundation
import NN
import Tensor

/// What the heatmap REC head predicts on an H x W grid of feature cells.
public struct RECHeatmap {
    /// Per-cell referent logits [B, H * W] (row-major over the grid); the softmax over cells is the heatmap.
    public var logits: Variable
    /// Per-cell boxes (cx, cy, w, h) normalised to the image [B, H * W, 4]; a cell's centre may sit up to 1.5
    /// cells from the cell's own centre.
    public var boxes: Variable
    public var height: Int
    public var width: Int

    public init(logits: Variable, boxes: Variable, height: Int, width: Int) {
        self.logits = logits
        self.boxes = boxes
        self.height = height
        self.width = width
    }

    /// Rows `indices` of the batch.
    public func rows(_ indices: [Int]) -> RECHeatmap {
        RECHeatmap(logits: logits.indexSelect(axis: 0, indices: indices), boxes: boxes.indexSelect(axis: 0, indices: indices),
                   height: height, width: width)
    }

    /// The box read at the highest-scoring cell of each sample, (cx, cy, w, h).
    public func topBoxes() -> [[Double]] {
        let b = logits.shape[0], n = height * width
        let s = logits.value.contiguous().scalars, bx = boxes.value.contiguous().scalars
        return (0..<b).map { i in
            var best = 0
            for c in 1..<max(1, n) where s[i * n + c] > s[i * n + best] { best = c }
            return (0..<4).map { Double(bx[(i * n + best) * 4 + $0]) }
        }
    }
}

/// The heatmap REC head (a deviation from the release, whose REC head is DETR's; `rec_head: "heatmap"`): a 3x3
/// convolution adds each cell's neighbourhood to the adapter's encoder memory (the memory's values carry no
/// position, so a cell alone cannot tell an object's extent), then two MLPs score every cell as the referent's
/// centre and read a box there. The U-Net features are conditioned on the expression, so the score needs no text
/// input; its gradient reaches the U-Net taps through the encoder like the DETR head's.
///
/// With `heatmap_text` (a further deviation) a bilinear term of the expression's pooled embedding e and each
/// cell's features plus its sine position code p[c] joins the score, so "the left circle" can add circle-ness and
/// left-ness of a cell.
///
/// ```
/// m         = memory + relu(local(grid(memory)))                  local: 3x3 conv d -> d
/// logit[c]  = score(m[c])                                         [B, HW]
///           + text_query(e) . cell_key(m[c] + p[c]) / sqrt(d)     heatmap_text only
/// o         = box(m[c])                                           [B, HW, 4]
/// cx        = (j + 0.5 + 3 (sigmoid(o0) - 0.5)) / W,  cy likewise with i, H;  w, h = sigmoid(o2), sigmoid(o3)
/// ```
public final class RECHeatmapHead: Module {
    public let path: String
    public let local: Conv2d
    public let score: MLP
    public let box: MLP
    /// The bilinear text term (`heatmap_text`): D_text -> d and d -> d.
    public let textQuery: Linear?
    public let cellKey: Linear?
    /// Farthest a cell's box centre may sit from the cell's centre, in cells.
    public static let offsetReach: Float = 1.5

    /// `textDim` > 0 adds the bilinear text term (`heatmap_text`).
    public init(_ vb: VarBuilder, dim: Int, textDim: Int = 0) {
        path = vb.path
        local = Conv2d(vb.pp("local"), inChannels: dim, outChannels: dim, kernelSize: 3, padding: 1)
        score = MLP(vb.pp("score"), inputDim: dim, hiddenDim: dim, outputDim: 1, layerCount: 2)
        box = MLP(vb.pp("box"), inputDim: dim, hiddenDim: dim, outputDim: 4, layerCount: 2)
        textQuery = textDim > 0 ? Linear(vb.pp("text_query"), inFeatures: textDim, outFeatures: dim) : nil
        cellKey = textDim > 0 ? Linear(vb.pp("cell_key"), inFeatures: dim, outFeatures: dim) : nil
        vb.register(self)
    }

    /// The head on `memory` [B, H * W, d] of an H x W grid; with the text term, `text` [B, D_text] (the pooled
    /// embedding of each row's text) and `position` [1, H * W, d] (the cells' sine position code) are required.
    public func callAsFunction(_ memory: Variable, height: Int, width: Int, text: Variable? = nil,
                               position: Variable? = nil) -> RECHeatmap {
        tensorCheck(memory.rank == 3 && memory.shape[1] == height * width, "RECHeatmapHead",
                    "memory \(memory.shape) is not [B, \(height) x \(width), d]")
        let b = memory.shape[0], n = height * width, d = memory.shape[2]
        let grid = memory.transposed(1, 2).reshaped([b, d, height, width])
        let m = memory + local(grid).relu().reshaped([b, d, n]).transposed(1, 2)
        var logits = score(m).reshaped([b, n])
        if let textQuery, let cellKey {
            guard let text, let position else {
                tensorCheck(false, "RECHeatmapHead", "the head reads the expression (heatmap_text): pass each row's pooled text embedding")
                fatalError()
            }
            tensorCheck(text.rank == 2 && text.shape[0] == b && text.shape[1] == textQuery.weight.shape[1], "RECHeatmapHead",
                        "pooled text \(text.shape) is not [\(b), \(textQuery.weight.shape[1])]")
            let q = textQuery(text).unsqueezed(2)                                       // [B, d, 1]
            let k = cellKey(m + position)                                               // [B, HW, d]
            logits = logits + k.matmul(q).reshaped([b, n]) * (1 / Float(d).squareRoot())
        }
        let o = box(m).sigmoid().split(sizes: [1, 1, 1, 1], axis: -1)
        var gx = [Float](repeating: 0, count: n), gy = [Float](repeating: 0, count: n)
        for i in 0..<height { for j in 0..<width { gx[i * width + j] = Float(j) + 0.5; gy[i * width + j] = Float(i) + 0.5 } }
        let reach = 2 * Self.offsetReach
        let cx = (o[0] * reach + Tensor(shape: [1, n, 1], scalars: gx.map { $0 - Self.offsetReach })) * (1 / Float(width))
        let cy = (o[1] * reach + Tensor(shape: [1, n, 1], scalars: gy.map { $0 - Self.offsetReach })) * (1 / Float(height))
        return RECHeatmap(logits: logits, boxes: Variable.concat([cx, cy, o[2], o[3]], axis: -1), height: height, width: width)
    }
}

extension RECCriterion {
    /// The heatmap target of one sample: a Gaussian of `heatmapSigma` cells around each referent's centre, summed
    /// and normalised over the grid, and for every cell the index of the referent whose centre is nearest.
    func heatmapTarget(_ target: RECTarget, height: Int, width: Int) -> (weights: [Float], nearest: [Int]) {
        let n = height * width
        var w = [Float](repeating: 0, count: n), nearest = [Int](repeating: 0, count: n)
        guard !target.boxes.isEmpty else { return (w, nearest) }
        let s2 = 2 * Double(heatmapSigma * heatmapSigma)
        var total = 0.0
        for i in 0..<height {
            for j in 0..<width {
                let x = Double(j) + 0.5, y = Double(i) + 0.5
                var g = 0.0, bestD = Double.infinity
                for (k, bx) in target.boxes.enumerated() {
                    let dx = x - Double(bx[0]) * Double(width), dy = y - Double(bx[1]) * Double(height)
                    let d = dx * dx + dy * dy
                    g += Foundation.exp(-d / s2)
                    if d < bestD { bestD = d; nearest[i * width + j] = k }
                }
                w[i * width + j] = Float(g)
                total += g
            }
        }
        if total > 0 { for c in 0..<n { w[c] = Float(Double(w[c]) / total) } }
        return (w, nearest)
    }

    /// The heatmap head's loss, in the DETR terms' slots: `classification` is the cross-entropy of the cell
    /// softmax against the Gaussian target; `boxL1` and `giou` compare each cell's box with its nearest referent,
    /// weighted by the same target (so the cells around the centre, where the argmax may land, learn boxes too).
    /// Each is summed over the batch and divided by the number of referents; weights as the DETR criterion's.
    public func heatmapLoss(_ h: RECHeatmap, targets: [RECTarget]) throws -> RECLossTerms {
        let b = h.logits.shape[0], n = h.height * h.width
        guard h.logits.shape == [b, n], h.boxes.shape == [b, n, 4] else {
            throw AdapterError.input("RECCriterion.heatmapLoss: logits \(h.logits.shape) and boxes \(h.boxes.shape) must be [B, \(n)] and [B, \(n), 4]")
        }
        guard targets.count == b else { throw AdapterError.input("RECCriterion.heatmapLoss: \(targets.count) targets for a batch of \(b)") }
        let boxCount = Float(max(1, targets.reduce(0) { $0 + $1.boxes.count }))
        var cellWeights = [Float](), tgt = [Float]()
        cellWeights.reserveCapacity(b * n)
        tgt.reserveCapacity(b * n * 4)
        for t in targets {
            let (w, nearest) = heatmapTarget(t, height: h.height, width: h.width)
            cellWeights += w
            for c in 0..<n { tgt += t.boxes.isEmpty ? [0.5, 0.5, 1, 1] : t.boxes[nearest[c]] }
        }
        let w = Tensor(shape: [b, n], scalars: cellWeights)
        let ce = (h.logits.logSoftmax(axis: -1) * w).sum() * (-1 / boxCount)
        let pred = h.boxes.reshaped([b * n, 4])
        let target = Variable(Tensor(shape: [b * n, 4], scalars: tgt))
        let cellW = w.reshaped([b * n, 1])
        let l1 = ((pred - target).abs() * cellW).sum() * (1 / boxCount)
        let g = BoxOps.generalizedIoU(BoxOps.cornersFromCenter(pred), BoxOps.cornersFromCenter(target))
        let giou = ((1 - g) * w.reshaped([b * n])).sum() * (1 / boxCount)
        let total = ce * weights.classWeight + l1 * weights.boxL1Weight + giou * weights.giouWeight
        return RECLossTerms(total: total, classification: ce, boxL1: l1, giou: giou, contrastive: nil, matching: [],
                            boxCount: boxCount)
    }
}

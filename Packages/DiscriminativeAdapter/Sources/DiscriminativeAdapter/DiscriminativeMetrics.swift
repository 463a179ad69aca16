import Foundation
import Tensor

/// A proportion with its 95% Wilson score interval.
public struct Proportion: Equatable, Codable, Sendable {
    public var successes: Int
    public var total: Int

    public init(successes: Int, total: Int) {
        self.successes = successes
        self.total = total
    }

    public var value: Double { total > 0 ? Double(successes) / Double(total) : .nan }

    /// The Wilson score interval at z = 1.959964 (95%); (0, 1) for an empty count.
    public var interval95: (low: Double, high: Double) {
        guard total > 0 else { return (0, 1) }
        let z = 1.959963984540054, n = Double(total), p = value
        let denom = 1 + z * z / n
        let centre = (p + z * z / (2 * n)) / denom
        let half = z * (p * (1 - p) / n + z * z / (4 * n * n)).squareRoot() / denom
        return (max(0, centre - half), min(1, centre + half))
    }
}

/// The discriminative metrics of the paper: 2-way ITM accuracies and REC precision@1.
public enum DiscriminativeMetrics {
    /// Per pair: whether the positive scores strictly higher than the negative (ties count as wrong). Text
    /// accuracy: one image, scores of {positive caption, hard-negative caption}; image accuracy: one caption,
    /// scores of {positive image, hard-negative image}.
    public static func twoWayCorrect(positive: [Float], negative: [Float]) -> [Bool] {
        tensorCheck(positive.count == negative.count, "DiscriminativeMetrics.twoWayCorrect",
                    "\(positive.count) positive and \(negative.count) negative scores")
        return zip(positive, negative).map { $0 > $1 }
    }

    /// Accuracy of a list of outcomes.
    public static func proportion(_ outcomes: [Bool]) -> Proportion {
        Proportion(successes: outcomes.filter { $0 }.count, total: outcomes.count)
    }

    /// The top-1 box of each sample (MDETR's referring-expression post-processing): the query whose probability
    /// of being an object, 1 - p(no object), is highest. `classLogits` [B, Nr, L + 1], `boxes` [B, Nr, 4]
    /// (cx, cy, w, h); returns [B] boxes (cx, cy, w, h).
    public static func topBoxes(classLogits: Tensor, boxes: Tensor) -> [[Double]] {
        tensorCheck(classLogits.rank == 3 && boxes.rank == 3 && boxes.shape[2] == 4 && classLogits.shape[0] == boxes.shape[0]
                        && classLogits.shape[1] == boxes.shape[1], "DiscriminativeMetrics.topBoxes",
                    "class logits \(classLogits.shape) and boxes \(boxes.shape) must be [B, Nr, C] and [B, Nr, 4]")
        let b = classLogits.shape[0], nr = classLogits.shape[1], c = classLogits.shape[2]
        let p = classLogits.softmax(axis: -1).scalars, bx = boxes.scalars
        return (0..<b).map { s in
            var best = 0
            var bestScore = -Float.infinity
            for q in 0..<nr {
                let score = 1 - p[(s * nr + q) * c + c - 1]
                if score > bestScore { bestScore = score; best = q }
            }
            return (0..<4).map { Double(bx[(s * nr + best) * 4 + $0]) }
        }
    }

    /// Per sample: IoU(predicted, target) >= `threshold` (boxes (cx, cy, w, h)).
    public static func recHits(predicted: [[Double]], targets: [[Double]], threshold: Double = 0.5) -> [Bool] {
        tensorCheck(predicted.count == targets.count, "DiscriminativeMetrics.recHits",
                    "\(predicted.count) predictions for \(targets.count) targets")
        return zip(predicted, targets).map { BoxOps.iou(BoxOps.corners($0), BoxOps.corners($1)) >= threshold }
    }
}

/// Which (image slot, text slot) pairs the evaluation runs per sample (the three images and three captions of a stage-1 sample):
/// pass 0 (positive image, positive caption), 1 (positive image, hard-negative caption), 2 (hard-negative image,
/// positive caption), 3 (positive image, expression). Text accuracy compares passes 0 and 1, image accuracy 0 and 2.
public enum EvaluationPlan {
    public static let passes: [(image: Int, text: Int)] = [(0, 0), (0, 1), (1, 0), (0, 3)]

    /// Text and image correctness per sample from the ITM scores of passes 0, 1, 2 ([B, 3] row-major).
    public static func itmOutcomes(scores: [Float], count b: Int) -> (text: [Bool], image: [Bool]) {
        tensorCheck(scores.count == 3 * b, "EvaluationPlan.itmOutcomes", "\(scores.count) scores for \(b) samples (need 3 each)")
        let pos = (0..<b).map { scores[$0 * 3] }
        return (DiscriminativeMetrics.twoWayCorrect(positive: pos, negative: (0..<b).map { scores[$0 * 3 + 1] }),
                DiscriminativeMetrics.twoWayCorrect(positive: pos, negative: (0..<b).map { scores[$0 * 3 + 2] }))
    }
}

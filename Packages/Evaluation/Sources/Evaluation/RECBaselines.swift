import Foundation
import ShapesWorld

/// The boxes a REC head that ignores both the image and the expression would predict, fitted on the training
/// split's referents: their mean box, and the one box with the highest precision@1 (IoU >= 0.5) there, searched on
/// a grid (centres 0.10...0.90 and sizes 0.05...0.60 in steps of 0.05, plus the mean box). Reported beside every
/// REC number, together with the uniform referent pick (a perfect detector that ignores the expression).
public struct RECBaselines: Codable, Equatable, Sendable {
    /// The training referents' mean box (cx, cy, w, h), in [0, 1].
    public var meanBox: [Double]
    /// The best constant box (cx, cy, w, h) on the training referents.
    public var bestConstantBox: [Double]
    /// Precision@1 of the two boxes on the training referents they were fitted on.
    public var meanBoxTrainP1: Double
    public var bestConstantBoxTrainP1: Double
    /// Training samples and referents (every referring expression of each sample) they were fitted on.
    public var trainSamples: Int
    public var trainReferents: Int

    /// Fits both boxes on every referring expression of the first `count` samples of `world`'s train split.
    public static func fit(world: SampleGenerator, count: Int = 2000) -> RECBaselines {
        var boxes: [Box] = []
        for i in 0..<count { boxes += world.sample(split: .train, index: i).expressions.map(\.box) }
        return fit(referents: boxes, samples: count)
    }

    /// Fits both boxes on `referents`.
    public static func fit(referents boxes: [Box], samples: Int) -> RECBaselines {
        let n = Double(max(1, boxes.count))
        let mean = Box(cx: boxes.reduce(0) { $0 + $1.cx } / n, cy: boxes.reduce(0) { $0 + $1.cy } / n,
                       w: boxes.reduce(0) { $0 + $1.w } / n, h: boxes.reduce(0) { $0 + $1.h } / n)
        func p1(_ c: Box) -> Double {
            var hits = 0
            for b in boxes where c.iou(b) >= 0.5 { hits += 1 }
            return Double(hits) / n
        }
        var best = mean, bestScore = p1(mean)
        let centres = stride(from: 0.10, through: 0.9001, by: 0.05).map { $0 }
        let sizes = stride(from: 0.05, through: 0.6001, by: 0.05).map { $0 }
        for cx in centres {
            for cy in centres {
                for w in sizes {
                    for h in sizes {
                        let c = Box(cx: cx, cy: cy, w: w, h: h)
                        let s = p1(c)
                        if s > bestScore { best = c; bestScore = s }
                    }
                }
            }
        }
        return RECBaselines(meanBox: [mean.cx, mean.cy, mean.w, mean.h], bestConstantBox: [best.cx, best.cy, best.w, best.h],
                            meanBoxTrainP1: p1(mean), bestConstantBoxTrainP1: bestScore, trainSamples: samples,
                            trainReferents: boxes.count)
    }

    var meanBoxValue: Box { Box(cx: meanBox[0], cy: meanBox[1], w: meanBox[2], h: meanBox[3]) }
    var bestBoxValue: Box { Box(cx: bestConstantBox[0], cy: bestConstantBox[1], w: bestConstantBox[2], h: bestConstantBox[3]) }
}

/// Pearson's correlation of `x` and `y` (nan with fewer than two points or no spread).
func pearson(_ x: [Double], _ y: [Double]) -> Double {
    let n = Double(x.count)
    guard x.count >= 2, x.count == y.count else { return .nan }
    let mx = x.reduce(0, +) / n, my = y.reduce(0, +) / n
    var sxy = 0.0, sxx = 0.0, syy = 0.0
    for (a, b) in zip(x, y) { sxy += (a - mx) * (b - my); sxx += (a - mx) * (a - mx); syy += (b - my) * (b - my) }
    return sxx > 0 && syy > 0 ? sxy / (sxx * syy).squareRoot() : .nan
}

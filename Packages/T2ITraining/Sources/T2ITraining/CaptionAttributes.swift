import Autodiff
import NN
import ShapesWorld
import Tensor

/// What a caption says, as class labels for the auxiliary text loss (`text_parse_weight`): for the first two
/// object groups in caption order their colour, shape, size and count, and the relation with its direction. Every
/// group has class 0 = "none" (no such group, no size given, no relation), so every caption has a label in each.
///
/// The labels are a function of the caption's meaning, which ShapesWorld's `CaptionParser` recovers from the text
/// alone: a text-only objective, as a pretrained encoder would have learned, not information from the image.
public enum CaptionAttributes {
    /// The label groups and their class counts, in the order of `labels(_:)` and of the head's outputs.
    public static let groups: [(name: String, classes: Int)] = {
        var g: [(String, Int)] = []
        for slot in 0..<2 {
            g.append(("colour\(slot)", 1 + ColorName.allCases.count))
            g.append(("shape\(slot)", 1 + ShapeKind.allCases.count))
            g.append(("size\(slot)", 1 + SizeClass.allCases.count))
            g.append(("count\(slot)", 1 + 4))
        }
        g.append(("relation", 1 + 2 * SpatialPredicate.allCases.count))   // none, or predicate x (0 -> 1 | 1 -> 0)
        return g
    }()

    /// The head's output width: the sum of the class counts.
    public static var width: Int { groups.reduce(0) { $0 + $1.classes } }

    /// One label per group. Throws for meanings the labels cannot hold (more than two groups, counts above 4).
    public static func labels(_ m: Meaning) throws -> [Int] {
        guard m.objects.count <= 2 else { throw T2ITrainingError("caption attributes: \(m.objects.count) object groups (at most 2)") }
        var out: [Int] = []
        for slot in 0..<2 {
            guard slot < m.objects.count else { out += [0, 0, 0, 0]; continue }
            let o = m.objects[slot]
            guard (1...4).contains(o.count) else { throw T2ITrainingError("caption attributes: count \(o.count) (1...4)") }
            out.append(1 + ColorName.allCases.firstIndex(of: o.color)!)
            out.append(1 + ShapeKind.allCases.firstIndex(of: o.shape)!)
            out.append(o.size.map { 1 + SizeClass.allCases.firstIndex(of: $0)! } ?? 0)
            out.append(o.count)
        }
        if let r = m.relation {
            out.append(1 + 2 * SpatialPredicate.allCases.firstIndex(of: r.predicate)! + (r.subject == 0 ? 0 : 1))
        } else {
            out.append(0)
        }
        return out
    }

    /// The auxiliary loss: mean over the groups of the cross-entropy of the head's logits [B, width] against the
    /// labels; captions with nil labels (dropped for classifier-free guidance) count in no group. Nil when every
    /// caption is dropped.
    public static func loss(logits: Variable, labels: [[Int]?]) -> Variable? {
        tensorCheck(logits.shape == [labels.count, width], "CaptionAttributes.loss",
                    "logits \(logits.shape) must be [\(labels.count), \(width)]")
        guard labels.contains(where: { $0 != nil }) else { return nil }
        var total: Variable? = nil
        var offset = 0
        for (g, group) in groups.enumerated() {
            let slice = logits.sliced(axis: 1, start: offset, end: offset + group.classes)
            let targets = labels.map { $0?[g] ?? -100 }
            let ce = Variable.crossEntropy(logits: slice, targets: targets, ignoreIndex: -100)
            total = total.map { $0 + ce } ?? ce
            offset += group.classes
        }
        return total! * (1 / Float(groups.count))
    }
}

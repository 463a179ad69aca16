import Autodiff
import Tensor

/// Boxes as DETR uses them: (cx, cy, w, h) normalised to the image, converted to corners for IoU.
public enum BoxOps {
    /// (cx, cy, w, h) -> (x0, y0, x1, y1) on the last axis of a [..., 4] variable.
    public static func cornersFromCenter(_ b: Variable) -> Variable {
        tensorCheck(b.shape.last == 4, "BoxOps.cornersFromCenter", "boxes \(b.shape) must end in 4")
        let p = b.split(sizes: [1, 1, 1, 1], axis: -1)
        let hw = p[2] * 0.5, hh = p[3] * 0.5
        return Variable.concat([p[0] - hw, p[1] - hh, p[0] + hw, p[1] + hh], axis: -1)
    }

    /// Generalised IoU of corresponding corner boxes `a`, `b` [N, 4] -> [N] (the diagonal of torchvision's
    /// `generalized_box_iou`): IoU - (|C| - |A ∪ B|) / |C| with C the smallest enclosing box.
    public static func generalizedIoU(_ a: Variable, _ b: Variable) -> Variable {
        tensorCheck(a.shape == b.shape && a.rank == 2 && a.shape[1] == 4, "BoxOps.generalizedIoU",
                    "boxes \(a.shape) and \(b.shape) must both be [N, 4]")
        let pa = a.split(sizes: [1, 1, 1, 1], axis: 1), pb = b.split(sizes: [1, 1, 1, 1], axis: 1)
        let areaA = (pa[2] - pa[0]) * (pa[3] - pa[1]), areaB = (pb[2] - pb[0]) * (pb[3] - pb[1])
        let iw = (Variable.minimum(pa[2], pb[2]) - Variable.maximum(pa[0], pb[0])).clamped(min: 0)
        let ih = (Variable.minimum(pa[3], pb[3]) - Variable.maximum(pa[1], pb[1])).clamped(min: 0)
        let inter = iw * ih
        let union = areaA + areaB - inter
        let cw = (Variable.maximum(pa[2], pb[2]) - Variable.minimum(pa[0], pb[0])).clamped(min: 0)
        let ch = (Variable.maximum(pa[3], pb[3]) - Variable.minimum(pa[1], pb[1])).clamped(min: 0)
        let enclosing = cw * ch
        return (inter / union - (enclosing - union) / enclosing).reshaped([-1])
    }

    /// Pairwise GIoU of corner boxes (plain numbers, for matching costs): result[i][j] = GIoU(a[i], b[j]).
    public static func pairwiseGeneralizedIoU(_ a: [[Double]], _ b: [[Double]]) -> [[Double]] {
        a.map { x in b.map { y in generalizedIoU(x, y) } }
    }

    /// GIoU of two corner boxes (x0, y0, x1, y1).
    public static func generalizedIoU(_ a: [Double], _ b: [Double]) -> Double {
        let areaA = (a[2] - a[0]) * (a[3] - a[1]), areaB = (b[2] - b[0]) * (b[3] - b[1])
        let inter = max(0, min(a[2], b[2]) - max(a[0], b[0])) * max(0, min(a[3], b[3]) - max(a[1], b[1]))
        let union = areaA + areaB - inter
        let enclosing = max(0, max(a[2], b[2]) - min(a[0], b[0])) * max(0, max(a[3], b[3]) - min(a[1], b[1]))
        return inter / union - (enclosing - union) / enclosing
    }

    /// IoU of two corner boxes.
    public static func iou(_ a: [Double], _ b: [Double]) -> Double {
        let areaA = (a[2] - a[0]) * (a[3] - a[1]), areaB = (b[2] - b[0]) * (b[3] - b[1])
        let inter = max(0, min(a[2], b[2]) - max(a[0], b[0])) * max(0, min(a[3], b[3]) - max(a[1], b[1]))
        let union = areaA + areaB - inter
        return union > 0 ? inter / union : 0
    }

    /// (cx, cy, w, h) -> (x0, y0, x1, y1) for plain numbers.
    public static func corners(_ b: [Double]) -> [Double] {
        [b[0] - b[2] / 2, b[1] - b[3] / 2, b[0] + b[2] / 2, b[1] + b[3] / 2]
    }
}

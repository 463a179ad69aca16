import Autodiff
import Foundation
import ShapesWorld
import Tensor

/// How far apart a model's text encoder puts prompts that differ in one attribute only: colour, shape, size or the
/// spatial relation. A U-Net can only follow a word its conditioning tells apart, so a small separation for size
/// or relation words (next to a large one for colours) points at the text encoder, not the U-Net.
///
/// Separation of a pair = RMS of the difference of the two prompts' token states [context, hidden] divided by the
/// standard deviation of all states of that attribute's prompts (so 0 = the encoder ignores the word; a random
/// encoder gives every word swap a similar value).
public enum TextEncoderSeparation {
    public struct Row: Codable, Equatable, Sendable {
        public var attribute: String
        public var pairs: Int
        /// Mean over the pairs.
        public var separation: Double
    }

    /// The prompt pairs per attribute: every colour x shape, the attribute swapped to the next value of its list.
    public static func pairs() -> [(attribute: String, pairs: [(String, String)])] {
        let colors = ColorName.allCases.map(\.rawValue), shapes = ShapeKind.allCases.map(\.rawValue)
        var colour: [(String, String)] = [], shape: [(String, String)] = [], size: [(String, String)] = []
        var leftRight: [(String, String)] = [], aboveBelow: [(String, String)] = []
        for (i, c) in colors.enumerated() {
            for (j, s) in shapes.enumerated() {
                let c2 = colors[(i + 1) % colors.count], s2 = shapes[(j + 1) % shapes.count]
                colour.append(("a small \(c) \(s)", "a small \(c2) \(s)"))
                shape.append(("a small \(c) \(s)", "a small \(c) \(s2)"))
                size.append(("a small \(c) \(s)", "a large \(c) \(s)"))
                leftRight.append(("a \(c) \(s) to the left of a \(c2) \(s2)", "a \(c) \(s) to the right of a \(c2) \(s2)"))
                aboveBelow.append(("a \(c) \(s) above a \(c2) \(s2)", "a \(c) \(s) below a \(c2) \(s2)"))
            }
        }
        return [("colour", colour), ("shape", shape), ("size", size), ("left/right", leftRight), ("above/below", aboveBelow)]
    }

    public static func measure(model: T2IModel) throws -> [Row] {
        try GradMode.noGrad {
            try pairs().map { attribute, list in
                let a = try model.encode(list.map(\.0)).value, b = try model.encode(list.map(\.1)).value
                let all = Tensor.concat([a, b], axis: 0).scalars.map(Double.init)
                let mean = all.reduce(0, +) / Double(all.count)
                let sd = (all.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(all.count)).squareRoot()
                let (x, y) = (a.scalars, b.scalars)
                let per = x.count / list.count
                var total = 0.0
                for p in 0..<list.count {
                    var ss = 0.0
                    for k in (p * per)..<((p + 1) * per) { let d = Double(x[k] - y[k]); ss += d * d }
                    total += (ss / Double(per)).squareRoot() / Swift.max(sd, 1e-12)
                }
                return Row(attribute: attribute, pairs: list.count, separation: total / Double(list.count))
            }
        }
    }

    public static func markdownTable(_ rows: [Row]) -> String {
        var s = "| attribute swapped | pairs | separation |\n|---|---|---|\n"
        for r in rows { s += "| \(r.attribute) | \(r.pairs) | \(String(format: "%.3f", r.separation)) |\n" }
        return s
    }
}

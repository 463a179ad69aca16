/// One training or evaluation sample: image (as a scene), caption, meaning, hard negatives and referring expressions.

/// The ways a hard negative differs from its positive (NegCLIP style).
public enum NegativeKind: String, CaseIterable, Codable, Hashable, Sendable {
    case swapColors = "swap_colors"         // the two groups exchange colours
    case swapShapes = "swap_shapes"         // the two groups exchange shapes
    case swapSizes = "swap_sizes"           // the two groups exchange sizes
    case flipRelation = "flip_relation"     // the predicate becomes its opposite
    case reverseRelation = "reverse_relation" // subject and object exchange roles
    case countUp = "count_up"               // one group's count + 1
    case countDown = "count_down"           // one group's count - 1
    case replaceColor = "replace_color"     // one group's colour becomes a colour absent from the image
    case replaceShape = "replace_shape"     // one group's shape becomes a shape absent from the image
    case replaceSize = "replace_size"       // one group's given size becomes the other size
}

/// A hard negative: a caption that is false for the positive image, and an image (same layout where possible)
/// for which the negative caption is true and the positive caption false.
public struct HardNegative: Codable, Hashable, Sendable {
    public var kind: NegativeKind
    public var caption: String
    public var meaning: Meaning
    public var scene: Scene
    /// True when the negative image keeps every position of the positive (false: it had to be laid out anew).
    public var sameLayout: Bool
}

/// An expression that picks out exactly one object of the image.
public struct ReferringExpression: Codable, Hashable, Sendable {
    public var text: String
    /// Index of the referent in `scene.objects`.
    public var object: Int
    /// The referent's box, normalised (cx, cy, w, h).
    public var box: Box
    /// Indices (0-based, whitespace-separated words) of the words naming the referent: its attributes and head noun.
    public var wordIndices: [Int]
    /// The same words as character ranges [start, end) into `text`.
    public var charRanges: [[Int]]
    /// Which form was used: color_shape, color, shape, size, horizontal, vertical, color_shape_horizontal, ...
    public var form: String
}

/// A generated sample; a pure function of (seed, split, index) and the world configuration.
public struct Sample: Codable, Hashable, Sendable {
    public var split: Split
    public var index: Int
    public var category: Category
    public var caption: String
    public var template: String
    public var meaning: Meaning
    public var scene: Scene
    public var negatives: [HardNegative]
    public var expressions: [ReferringExpression]
    /// Index of another sample of the same split, the random negative (its caption and image).
    public var randomNegativeIndex: Int
}

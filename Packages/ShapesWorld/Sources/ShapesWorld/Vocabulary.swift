/// The world's closed vocabulary: shapes, colours (with their exact RGB values), sizes and spatial predicates.

/// An object's shape. Every shape fills its bounding square of half-width r (the object's radius).
public enum ShapeKind: String, CaseIterable, Codable, Hashable, Sendable, Comparable {
    case circle, square, triangle, cross

    public var word: String { rawValue }
    public var plural: String { self == .cross ? "crosses" : rawValue + "s" }
    public static func < (a: ShapeKind, b: ShapeKind) -> Bool { a.order < b.order }
    var order: Int { ShapeKind.allCases.firstIndex(of: self)! }
}

/// An 8-bit RGB colour.
public struct RGB: Codable, Hashable, Sendable, CustomStringConvertible {
    public var r: UInt8, g: UInt8, b: UInt8
    public init(_ r: UInt8, _ g: UInt8, _ b: UInt8) { self.r = r; self.g = g; self.b = b }
    public var description: String { "(\(r),\(g),\(b))" }
}

/// An object's colour name; `rgb` is the exact value the renderer paints. The palette's closest pair (cyan/blue)
/// is 121 apart in RGB, twice the judge's colour tolerance.
public enum ColorName: String, CaseIterable, Codable, Hashable, Sendable, Comparable {
    case red, green, blue, yellow, purple, cyan, white

    public var word: String { rawValue }
    public var rgb: RGB {
        switch self {
        case .red: return RGB(225, 35, 35)
        case .green: return RGB(35, 200, 55)
        case .blue: return RGB(45, 85, 240)
        case .yellow: return RGB(240, 215, 35)
        case .purple: return RGB(165, 55, 220)
        case .cyan: return RGB(40, 205, 225)
        case .white: return RGB(235, 235, 235)
        }
    }
    public static func < (a: ColorName, b: ColorName) -> Bool { a.order < b.order }
    var order: Int { ColorName.allCases.firstIndex(of: self)! }
}

/// An object's size class; the radii are fractions of the image side (see `WorldConfig`).
public enum SizeClass: String, CaseIterable, Codable, Hashable, Sendable {
    case small, large
    public var word: String { rawValue }
    public var other: SizeClass { self == .small ? .large : .small }
}

/// A spatial relation between a subject and an object, compared on object centres (image y grows downwards).
public enum SpatialPredicate: String, CaseIterable, Codable, Hashable, Sendable {
    case leftOf = "left_of", rightOf = "right_of", above, below

    /// The predicate that holds when subject and object are exchanged (left_of <-> right_of, above <-> below).
    public var opposite: SpatialPredicate {
        switch self {
        case .leftOf: return .rightOf
        case .rightOf: return .leftOf
        case .above: return .below
        case .below: return .above
        }
    }
    public var isHorizontal: Bool { self == .leftOf || self == .rightOf }

    /// Whether `a` stands in this relation to `b` (centres in pixels) with at least `margin` pixels to spare.
    @inline(__always) public func holds(_ a: (x: Double, y: Double), _ b: (x: Double, y: Double), margin: Double) -> Bool {
        switch self {
        case .leftOf: return a.x + margin < b.x
        case .rightOf: return a.x > b.x + margin
        case .above: return a.y + margin < b.y
        case .below: return a.y > b.y + margin
        }
    }
}

/// A colour-shape combination ("red triangle").
public struct ColorShape: Codable, Hashable, Sendable, CustomStringConvertible {
    public var color: ColorName, shape: ShapeKind
    public init(_ color: ColorName, _ shape: ShapeKind) { self.color = color; self.shape = shape }
    public var description: String { "\(color.word) \(shape.word)" }

    /// The held-out pairs: never in any train/val/test-id image, caption, negative or expression; every test-ood
    /// sample contains at least one. Part of the world's definition: changing it changes every split.
    public static let heldOut: [ColorShape] = [
        ColorShape(.red, .triangle), ColorShape(.green, .square), ColorShape(.blue, .circle),
        ColorShape(.yellow, .cross), ColorShape(.purple, .circle),
    ]
    public var isHeldOut: Bool { ColorShape.heldOut.contains(self) }

    public static let all: [ColorShape] = ColorName.allCases.flatMap { c in ShapeKind.allCases.map { ColorShape(c, $0) } }
    public static let inDistribution: [ColorShape] = all.filter { !$0.isHeldOut }
}

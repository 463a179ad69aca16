/// Geometry of the world: image size, background, object radii, gaps and relation margins (fractions of the image
/// side, so a 64x64 world is the 32x32 world at twice the resolution).
public struct WorldConfig: Codable, Hashable, Sendable {
    public var width: Int
    public var height: Int
    /// Samples per pixel side for anti-aliasing (coverage is the fraction of s*s sub-samples inside the shape).
    public var supersampling: Int
    public var background: RGB
    /// Radius (half the bounding-box side) of a small / large object, as a fraction of min(width, height).
    public var smallRadius: Double
    public var largeRadius: Double
    /// Minimum gap between the bounding boxes of two objects, and between an object and the border (fractions of the side).
    public var gap: Double
    public var borderMargin: Double
    /// Layouts make relations hold by at least this much (centre difference, fraction of the side) ...
    public var relationMarginGenerate: Double
    /// ... while the judge accepts a relation with this margin.
    public var relationMarginJudge: Double

    public init(width: Int = 32, height: Int = 32, supersampling: Int = 4, background: RGB = RGB(18, 18, 24),
                smallRadius: Double = 0.11, largeRadius: Double = 0.19, gap: Double = 0.07, borderMargin: Double = 0.035,
                relationMarginGenerate: Double = 0.15, relationMarginJudge: Double = 0.05) {
        self.width = width; self.height = height; self.supersampling = supersampling; self.background = background
        self.smallRadius = smallRadius; self.largeRadius = largeRadius; self.gap = gap; self.borderMargin = borderMargin
        self.relationMarginGenerate = relationMarginGenerate; self.relationMarginJudge = relationMarginJudge
    }

    /// The default 32x32 world.
    public static let standard = WorldConfig()

    /// The same world at another resolution.
    public static func square(_ side: Int) -> WorldConfig { WorldConfig(width: side, height: side) }

    public var side: Double { Double(min(width, height)) }
    /// Object radius in pixels.
    public func radius(_ size: SizeClass) -> Double { (size == .small ? smallRadius : largeRadius) * side }
    public var gapPixels: Double { gap * side }
    public var borderPixels: Double { borderMargin * side }
    public var generateMarginPixels: Double { relationMarginGenerate * side }
    public var judgeMarginPixels: Double { relationMarginJudge * side }

    /// Throws when the configuration cannot produce valid scenes.
    public func validate() throws {
        guard width >= 16, height >= 16, width <= 1024, height <= 1024 else {
            throw WorldError.invalidConfig("image size \(width)x\(height) outside 16...1024")
        }
        guard supersampling >= 1, supersampling <= 16 else { throw WorldError.invalidConfig("supersampling \(supersampling) outside 1...16") }
        guard smallRadius > 0, largeRadius > smallRadius * 1.3, largeRadius < 0.25 else {
            throw WorldError.invalidConfig("radii small \(smallRadius), large \(largeRadius): need 0 < small, large > 1.3 small, large < 0.25")
        }
    }
}

/// Errors of the world: bad configuration, captions outside the grammar, meanings that cannot be laid out.
public enum WorldError: Error, CustomStringConvertible, Equatable {
    case invalidConfig(String)
    case parse(text: String, message: String)
    case invalidMeaning(String)
    case layoutFailed(String)
    case io(String)

    public var description: String {
        switch self {
        case .invalidConfig(let m): return "ShapesWorld config: \(m)"
        case .parse(let text, let m): return "cannot parse caption \"\(text)\": \(m)"
        case .invalidMeaning(let m): return "invalid meaning: \(m)"
        case .layoutFailed(let m): return "layout failed: \(m)"
        case .io(let m): return m
        }
    }
}

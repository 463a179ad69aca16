/// An 8-bit image: `height` rows of `width` pixels, each `channels` interleaved bytes (3 = RGB, 4 = RGBA).
public struct RasterImage: Equatable, Sendable {
    public let width: Int
    public let height: Int
    public let channels: Int
    /// Row-major pixels, `height * width * channels` bytes.
    public var pixels: [UInt8]

    /// An image from existing pixels; the count must match.
    public init(width: Int, height: Int, channels: Int, pixels: [UInt8]) throws {
        guard width > 0, height > 0, channels == 3 || channels == 4 else {
            throw DataIOError(.invalidArgument, file: "<image>", "image must be at least 1x1 with 3 (RGB) or 4 (RGBA) channels, got \(width)x\(height)x\(channels)")
        }
        guard pixels.count == width * height * channels else {
            throw DataIOError(.invalidArgument, file: "<image>", "\(width)x\(height)x\(channels) image needs \(width * height * channels) bytes, got \(pixels.count)")
        }
        self.width = width
        self.height = height
        self.channels = channels
        self.pixels = pixels
    }

    /// An image filled with one colour (`color.count` is the channel count, 3 or 4).
    public init(width: Int, height: Int, color: [UInt8]) {
        precondition(width > 0 && height > 0 && (color.count == 3 || color.count == 4),
                     "RasterImage: need a positive size and an RGB or RGBA colour, got \(width)x\(height), \(color)")
        self.width = width
        self.height = height
        self.channels = color.count
        var p = [UInt8](repeating: 0, count: width * height * color.count)
        for i in 0..<(width * height) { for c in 0..<color.count { p[i * color.count + c] = color[c] } }
        self.pixels = p
    }

    /// The bytes of pixel (x, y).
    public func pixel(x: Int, y: Int) -> [UInt8] {
        precondition(x >= 0 && y >= 0 && x < width && y < height, "RasterImage.pixel: (\(x), \(y)) outside \(width)x\(height)")
        let o = (y * width + x) * channels
        return Array(pixels[o..<(o + channels)])
    }

    /// Sets pixel (x, y) to `color` (RGB, or RGBA; a missing alpha is opaque). Out-of-bounds writes are ignored.
    public mutating func setPixel(x: Int, y: Int, _ color: [UInt8]) {
        guard x >= 0, y >= 0, x < width, y < height else { return }
        let o = (y * width + x) * channels
        for c in 0..<channels { pixels[o + c] = c < color.count ? color[c] : 255 }
    }

    /// The same image with 3 or 4 channels (dropping alpha, or adding an opaque one).
    public func withChannels(_ n: Int) -> RasterImage {
        precondition(n == 3 || n == 4, "RasterImage.withChannels: \(n) is not 3 or 4")
        if n == channels { return self }
        var out = [UInt8](repeating: 255, count: width * height * n)
        for i in 0..<(width * height) { for c in 0..<3 { out[i * n + c] = pixels[i * channels + c] } }
        return try! RasterImage(width: width, height: height, channels: n, pixels: out)
    }
}

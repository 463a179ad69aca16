import Tensor

/// An 8-bit RGB image, rows top to bottom, pixels interleaved (r, g, b).
public struct RGBImage: Hashable, Sendable {
    public let width: Int
    public let height: Int
    public var pixels: [UInt8]

    public init(width: Int, height: Int, fill: RGB = RGB(0, 0, 0)) {
        self.width = width; self.height = height
        pixels = [UInt8](repeating: 0, count: width * height * 3)
        pixels.withUnsafeMutableBufferPointer { p in
            for i in 0..<(width * height) { p[3 * i] = fill.r; p[3 * i + 1] = fill.g; p[3 * i + 2] = fill.b }
        }
    }

    /// Wraps interleaved RGB bytes; throws when the byte count does not match.
    public init(width: Int, height: Int, pixels: [UInt8]) throws {
        guard width > 0, height > 0, pixels.count == width * height * 3 else {
            throw WorldError.invalidConfig("RGBImage: \(pixels.count) bytes for \(width)x\(height)x3")
        }
        self.width = width; self.height = height; self.pixels = pixels
    }

    public subscript(x: Int, y: Int) -> RGB {
        get { let i = 3 * (y * width + x); return RGB(pixels[i], pixels[i + 1], pixels[i + 2]) }
        set { let i = 3 * (y * width + x); pixels[i] = newValue.r; pixels[i + 1] = newValue.g; pixels[i + 2] = newValue.b }
    }

    /// The image as a [3, H, W] tensor with values in [-1, 1] (v / 127.5 - 1), the diffusion models' convention.
    public func tensor() -> Tensor {
        var t = Tensor(uninitializedShape: [3, height, width])
        let plane = width * height
        t.withMutableBuffer { out in
            pixels.withUnsafeBufferPointer { p in
                for i in 0..<plane {
                    out[i] = Float(p[3 * i]) / 127.5 - 1
                    out[plane + i] = Float(p[3 * i + 1]) / 127.5 - 1
                    out[2 * plane + i] = Float(p[3 * i + 2]) / 127.5 - 1
                }
            }
        }
        return t
    }

    /// An image from a [3, H, W] (or [1, 3, H, W]) tensor in [-1, 1]; values are clamped and rounded.
    public init(tensor: Tensor) throws {
        var shape = tensor.shape
        if shape.count == 4, shape[0] == 1 { shape.removeFirst() }
        guard shape.count == 3, shape[0] == 3, shape[1] > 0, shape[2] > 0 else {
            throw WorldError.invalidConfig("RGBImage(tensor:): expected shape [3, H, W] or [1, 3, H, W], got \(tensor.shape)")
        }
        let h = shape[1], w = shape[2], plane = w * h
        var px = [UInt8](repeating: 0, count: plane * 3)
        tensor.withContiguousBuffer { src in
            px.withUnsafeMutableBufferPointer { p in
                for c in 0..<3 {
                    for i in 0..<plane {
                        let v = (src[c * plane + i] + 1) * 127.5
                        p[3 * i + c] = v.isNaN ? 0 : UInt8(min(255, max(0, v.rounded())))
                    }
                }
            }
        }
        try self.init(width: w, height: h, pixels: px)
    }

    /// Nearest-neighbour upscaling by an integer factor (for viewing).
    public func upscaled(_ factor: Int) -> RGBImage {
        precondition(factor >= 1, "RGBImage.upscaled: factor must be >= 1, got \(factor)")
        var out = RGBImage(width: width * factor, height: height * factor)
        for y in 0..<out.height { for x in 0..<out.width { out[x, y] = self[x / factor, y / factor] } }
        return out
    }

    /// Copies `tile` into this image with its top-left corner at (x0, y0), clipped to the image.
    public mutating func paste(_ tile: RGBImage, x0: Int, y0: Int) {
        for y in 0..<tile.height where y + y0 >= 0 && y + y0 < height {
            for x in 0..<tile.width where x + x0 >= 0 && x + x0 < width { self[x + x0, y + y0] = tile[x, y] }
        }
    }
}

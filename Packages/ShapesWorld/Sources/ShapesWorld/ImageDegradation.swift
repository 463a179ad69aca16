/// Degradations that imitate generated images, used to validate the judge: a 1-pixel blur (separable [1, 2, 1] / 4
/// kernel, edges clamped), a colour jitter (one uniform offset in [-j, j] per channel for the whole image) and
/// Gaussian pixel noise (sigma in [-1, 1] image units, i.e. sigma * 127.5 in 8-bit levels), applied in that order.
/// Uses libm (log, cos) for the noise, so degraded pixels may differ in the last bit across platforms.
public struct ImageDegradation: Codable, Hashable, Sendable {
    public var blur: Bool
    public var colorJitter: Int
    public var noiseSigma: Double

    public init(blur: Bool = false, colorJitter: Int = 0, noiseSigma: Double = 0) {
        self.blur = blur; self.colorJitter = colorJitter; self.noiseSigma = noiseSigma
    }

    /// The degradation the judge is validated against (the "like generated images").
    public static let generatedLike = ImageDegradation(blur: true, colorJitter: 20, noiseSigma: 0.1)

    public func apply(_ image: RGBImage, rng: inout WorldRandom) -> RGBImage {
        let w = image.width, h = image.height, n = w * h * 3
        var buf = [Double](repeating: 0, count: n)
        for i in 0..<n { buf[i] = Double(image.pixels[i]) }
        if blur {
            var tmp = buf
            for y in 0..<h {
                for x in 0..<w {
                    let xl = max(0, x - 1), xr = min(w - 1, x + 1)
                    for c in 0..<3 {
                        tmp[3 * (y * w + x) + c] = 0.25 * buf[3 * (y * w + xl) + c] + 0.5 * buf[3 * (y * w + x) + c] + 0.25 * buf[3 * (y * w + xr) + c]
                    }
                }
            }
            for y in 0..<h {
                let yu = max(0, y - 1), yd = min(h - 1, y + 1)
                for x in 0..<w {
                    for c in 0..<3 {
                        buf[3 * (y * w + x) + c] = 0.25 * tmp[3 * (yu * w + x) + c] + 0.5 * tmp[3 * (y * w + x) + c] + 0.25 * tmp[3 * (yd * w + x) + c]
                    }
                }
            }
        }
        if colorJitter > 0 {
            let j = (0..<3).map { _ in Double(rng.below(2 * colorJitter + 1) - colorJitter) }
            for i in 0..<n { buf[i] += j[i % 3] }
        }
        if noiseSigma > 0 {
            let s = noiseSigma * 127.5
            for i in 0..<n { buf[i] += s * rng.normal() }
        }
        var out = image
        for i in 0..<n { out.pixels[i] = UInt8(min(255, max(0, buf[i].rounded()))) }
        return out
    }
}

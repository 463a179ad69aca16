/// Renders scenes: dark background, anti-aliased shapes (exact coverage where a pixel is far from an edge,
/// supersampled near edges).
public enum Renderer {
    /// The image of a scene.
    public static func render(_ scene: Scene) -> RGBImage {
        let cfg = scene.config
        var img = RGBImage(width: cfg.width, height: cfg.height, fill: cfg.background)
        for o in scene.objects { draw(o, into: &img, samples: cfg.supersampling) }
        return img
    }

    /// Blends one object into an image.
    public static func draw(_ o: SceneObject, into img: inout RGBImage, samples: Int) {
        let w = img.width, h = img.height
        let x0 = max(0, Int((o.x - o.radius).rounded(.down)) - 1), x1 = min(w - 1, Int((o.x + o.radius).rounded(.up)) + 1)
        let y0 = max(0, Int((o.y - o.radius).rounded(.down)) - 1), y1 = min(h - 1, Int((o.y + o.radius).rounded(.up)) + 1)
        if x0 > x1 || y0 > y1 { return }
        let c = o.color.rgb
        let cr = Double(c.r), cg = Double(c.g), cb = Double(c.b)
        img.pixels.withUnsafeMutableBufferPointer { p in
            for py in y0...y1 {
                for px in x0...x1 {
                    let a = ShapeGeometry.coverage(o.shape, cx: o.x, cy: o.y, radius: o.radius, px: px, py: py, samples: samples)
                    if a == 0 { continue }
                    let i = 3 * (py * w + px)
                    p[i] = UInt8((Double(p[i]) * (1 - a) + cr * a).rounded())
                    p[i + 1] = UInt8((Double(p[i + 1]) * (1 - a) + cg * a).rounded())
                    p[i + 2] = UInt8((Double(p[i + 2]) * (1 - a) + cb * a).rounded())
                }
            }
        }
    }
}

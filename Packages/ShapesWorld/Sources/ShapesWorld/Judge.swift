import Foundation

/// An object the judge found in an image.
public struct PerceivedObject: Codable, Hashable, Sendable {
    public var color: ColorName
    public var shape: ShapeKind
    public var size: SizeClass
    /// Centre of the fitted shape's box, in pixels (the mass centroid corrected by the shape's centroid offset).
    public var x: Double
    public var y: Double
    /// Fitted radius in pixels, and the normalised box.
    public var radius: Double
    public var box: Box
    /// Coverage mass in pixels.
    public var area: Double
    /// RGB distance between the estimated colour and the palette colour, both taken relative to the background
    /// (so a global colour cast cancels).
    public var colorDistance: Double
    /// Mean absolute coverage difference to the best template, relative to the area; and the runner-up's.
    public var shapeError: Double
    public var runnerUpError: Double

    public var observed: ObservedObject { ObservedObject(color: color, shape: shape, size: size, x: x, y: y) }
}

/// The judge's reading of an image. Problems make it unparseable: the judge then passes no constraint.
public struct ImageParse: Codable, Hashable, Sendable {
    public var width: Int
    public var height: Int
    public var objects: [PerceivedObject]
    /// Why the image cannot be read, one line each (empty when it can).
    public var problems: [String]
    /// Small blobs ignored as noise.
    public var ignoredSpecks: Int
    public var isParseable: Bool { problems.isEmpty }
}

/// The verdict on one (image, meaning) pair.
public struct Verdict: Codable, Hashable, Sendable {
    public var parseable: Bool
    public var problems: [String]
    public var constraints: [ConstraintResult]
    public var allPassed: Bool
    /// Fraction of constraints passed (0 for an unparseable image).
    public var fractionPassed: Double

    public init(parseable: Bool, problems: [String], constraints: [ConstraintResult], allPassed: Bool, fractionPassed: Double) {
        self.parseable = parseable; self.problems = problems; self.constraints = constraints
        self.allPassed = allPassed; self.fractionPassed = fractionPassed
    }
}

/// Tolerances of the judge.
public struct JudgeOptions: Codable, Hashable, Sendable {
    /// Largest RGB distance from a palette colour still accepted.
    public var colorTolerance: Double = 60
    /// Largest template error (mean |coverage - template| / area) still accepted as a shape.
    public var maxShapeError: Double = 0.45
    /// Blobs with fewer pixels than this fraction of the smallest object's area are ignored as noise; blobs between
    /// that and `minAreaFraction` are fragments and make the image unparseable.
    public var speckFraction: Double = 0.2
    public var minAreaFraction: Double = 0.45
    /// Blobs larger than this multiple of the largest object's area are merged objects (unparseable).
    public var maxAreaFactor: Double = 1.5
    public var maxObjects: Int = 8
    public init() {}
}

/// The exact judge: reads objects out of an RGB image by connected components, palette colours and template-fitted
/// shapes, and checks them against a meaning. Geometry comes from the world configuration, rescaled to the image size.
public struct Judge: Sendable {
    public var config: WorldConfig
    public var options: JudgeOptions

    public init(config: WorldConfig = .standard, options: JudgeOptions = JudgeOptions()) { self.config = config; self.options = options }

    /// Parses the image and checks the meaning.
    public func judge(_ image: RGBImage, _ meaning: Meaning) -> Verdict { verdict(parse(image), meaning) }

    /// Checks a parsed image against a meaning (relations with the judge margin).
    public func verdict(_ p: ImageParse, _ meaning: Meaning) -> Verdict {
        guard p.isParseable else {
            return Verdict(parseable: false, problems: p.problems, constraints: [], allPassed: false, fractionPassed: 0)
        }
        var cfg = config; cfg.width = p.width; cfg.height = p.height
        let cs = meaning.check(p.objects.map(\.observed), margin: cfg.judgeMarginPixels)
        let passed = cs.filter(\.passed).count
        return Verdict(parseable: true, problems: [], constraints: cs, allPassed: passed == cs.count,
                       fractionPassed: cs.isEmpty ? 1 : Double(passed) / Double(cs.count))
    }

    /// Reads the objects of an image.
    public func parse(_ image: RGBImage) -> ImageParse {
        var cfg = config; cfg.width = image.width; cfg.height = image.height
        let w = image.width, h = image.height, n = w * h
        var problems: [String] = []
        // Brightness = max channel; the background level is its median (objects cover well under half the image).
        var m = [Float](repeating: 0, count: n)
        image.pixels.withUnsafeBufferPointer { p in
            for i in 0..<n { m[i] = Float(max(p[3 * i], max(p[3 * i + 1], p[3 * i + 2]))) }
        }
        var bgRGB = (0.0, 0.0, 0.0)
        let bgLevel: Float = {
            var hist = [Int](repeating: 0, count: 256)
            for v in m { hist[Int(v)] += 1 }
            var acc = 0
            for (v, c) in hist.enumerated() { acc += c; if acc * 2 >= n { return Float(v) } }
            return 0
        }()
        do {
            var ch = [[Int]](repeating: [Int](repeating: 0, count: 256), count: 3)
            for i in 0..<n where m[i] <= bgLevel + 30 {
                for c in 0..<3 { ch[c][Int(image.pixels[3 * i + c])] += 1 }
            }
            func med(_ hs: [Int]) -> Double {
                let tot = hs.reduce(0, +); var acc = 0
                for (v, c) in hs.enumerated() { acc += c; if acc * 2 >= tot { return Double(v) } }
                return 0
            }
            bgRGB = (med(ch[0]), med(ch[1]), med(ch[2]))
        }
        let minPaletteLevel: Float = 200
        let threshold = bgLevel + 0.45 * max(40, minPaletteLevel - bgLevel)

        // 8-connected components above the threshold.
        var label = [Int32](repeating: 0, count: n)
        var stack: [Int] = []
        stack.reserveCapacity(n)
        var comps: [[Int]] = []
        for start in 0..<n where m[start] > threshold && label[start] == 0 {
            let id = Int32(comps.count + 1)
            var pix: [Int] = []
            label[start] = id; stack.append(start)
            while let q = stack.popLast() {
                pix.append(q)
                let qx = q % w, qy = q / w
                for dy in -1...1 {
                    let yy = qy + dy
                    if yy < 0 || yy >= h { continue }
                    for dx in -1...1 {
                        let xx = qx + dx
                        if xx < 0 || xx >= w || (dx == 0 && dy == 0) { continue }
                        let k = yy * w + xx
                        if label[k] == 0 && m[k] > threshold { label[k] = id; stack.append(k) }
                    }
                }
            }
            comps.append(pix)
        }

        let rs = cfg.radius(.small), rl = cfg.radius(.large)
        let smallestArea = ShapeKind.allCases.map { ShapeGeometry.areaFactor($0) }.min()! * rs * rs
        let largestArea = ShapeKind.allCases.map { ShapeGeometry.areaFactor($0) }.max()! * rl * rl
        var objects: [PerceivedObject] = []
        var specks = 0
        for (ci, pix) in comps.enumerated() {
            let id = Int32(ci + 1)
            if Double(pix.count) < options.speckFraction * smallestArea { specks += 1; continue }
            // First guess of the object's level: mean brightness of the brighter half of the blob.
            let vals = pix.map { m[$0] }.sorted()
            let top = vals[(vals.count / 2)...]
            let level0 = top.reduce(0, +) / Float(top.count)
            var x0 = w, x1 = 0, y0 = h, y1 = 0
            for q in pix { x0 = min(x0, q % w); x1 = max(x1, q % w); y0 = min(y0, q / w); y1 = max(y1, q / w) }
            let pad = 3
            let bx0 = max(0, x0 - pad), bx1 = min(w - 1, x1 + pad), by0 = max(0, y0 - pad), by1 = min(h - 1, y1 + pad)
            let pw = bx1 - bx0 + 1, ph = by1 - by0 + 1
            var cov = [Double](repeating: 0, count: pw * ph)
            // Region: the blob and its 1-pixel ring (pixels of other blobs excluded).
            var region: [Int] = []
            for yy in by0...by1 {
                for xx in bx0...bx1 {
                    let k = yy * w + xx
                    var inRegion = label[k] == id
                    if !inRegion && label[k] == 0 {
                        outer: for dy in -1...1 {
                            let y2 = yy + dy
                            if y2 < 0 || y2 >= h { continue }
                            for dx in -1...1 {
                                let x2 = xx + dx
                                if x2 >= 0 && x2 < w && label[y2 * w + x2] == id { inRegion = true; break outer }
                            }
                        }
                    }
                    if inRegion { region.append(k) }
                }
            }
            // Coverage at an object level; mass, centroid and the background-unmixed colour (minus the background).
            var area = 0.0, sx = 0.0, sy = 0.0, er = 0.0, eg = 0.0, eb = 0.0
            func measure(_ level: Float) {
                let span = max(level - bgLevel, 20)
                area = 0; sx = 0; sy = 0
                var cr = 0.0, cg = 0.0, cb = 0.0, cw = 0.0
                for k in region {
                    let xx = k % w, yy = k / w
                    let a = Double(min(1, max(0, (m[k] - bgLevel) / span)))
                    cov[(yy - by0) * pw + (xx - bx0)] = a
                    area += a; sx += a * (Double(xx) + 0.5); sy += a * (Double(yy) + 0.5)
                    if a >= 0.5 {
                        let p = 3 * k
                        cr += Double(image.pixels[p]) - bgRGB.0
                        cg += Double(image.pixels[p + 1]) - bgRGB.1
                        cb += Double(image.pixels[p + 2]) - bgRGB.2
                        cw += a
                    }
                }
                er = cr / max(cw, 1e-9); eg = cg / max(cw, 1e-9); eb = cb / max(cw, 1e-9)
            }
            measure(level0)
            // Colour: the palette entry whose direction from the background fits best up to a brightness factor in
            // [0.7, 1.15] (blur dims thin shapes). Its brightness, shifted like the background, then fixes the object
            // level when the first guess was dimmer, and the colour is measured again.
            let cbg = cfg.background
            func offset(_ c: ColorName) -> (Double, Double, Double) {
                (Double(c.rgb.r) - Double(cbg.r), Double(c.rgb.g) - Double(cbg.g), Double(c.rgb.b) - Double(cbg.b))
            }
            var best = ColorName.red, bestFit = Double.infinity
            for c in ColorName.allCases {
                let v = offset(c)
                let alpha = min(1.15, max(0.7, (er * v.0 + eg * v.1 + eb * v.2) / (v.0 * v.0 + v.1 * v.1 + v.2 * v.2)))
                let d = ((er - alpha * v.0) * (er - alpha * v.0) + (eg - alpha * v.1) * (eg - alpha * v.1) + (eb - alpha * v.2) * (eb - alpha * v.2)).squareRoot()
                if d < bestFit { bestFit = d; best = c }
            }
            do {
                let p = best.rgb
                let (ch, pv): (Int, UInt8) = p.r >= p.g && p.r >= p.b ? (0, p.r) : (p.g >= p.b ? (1, p.g) : (2, p.b))
                let shift = [bgRGB.0 - Double(cbg.r), bgRGB.1 - Double(cbg.g), bgRGB.2 - Double(cbg.b)][ch]
                let expected = Float(Double(pv) + shift)
                if expected > level0 && level0 >= 0.6 * expected { measure(expected) }
            }
            let v = offset(best)
            let bestD = ((er - v.0) * (er - v.0) + (eg - v.1) * (eg - v.1) + (eb - v.2) * (eb - v.2)).squareRoot()
            let mx = sx / area, my = sy / area
            if area < options.minAreaFraction * smallestArea {
                problems.append("fragment at (\(Int(mx)), \(Int(my))): area \(fmt(area)) px, smaller than any object"); continue
            }
            if area > options.maxAreaFactor * largestArea {
                problems.append("blob at (\(Int(mx)), \(Int(my))): area \(fmt(area)) px, larger than any object (touching objects?)"); continue
            }
            // Shape: the template (sharp or 1-pixel blurred) closest to the coverage.
            var errs: [(ShapeKind, Double, Double)] = []   // shape, error, radius
            for s in ShapeKind.allCases {
                let r = (area / ShapeGeometry.areaFactor(s)).squareRoot()
                let cx = mx - Double(bx0), cy = my - Double(by0) - ShapeGeometry.centroidOffsetY(s) * r
                let e = templateError(cov, pw, ph, s, cx, cy, r, area)
                errs.append((s, e, r))
            }
            errs.sort { $0.1 < $1.1 }
            let (shape, err, radius) = errs[0]
            let cy = my - ShapeGeometry.centroidOffsetY(shape) * radius
            let where_ = "object at (\(Int(mx)), \(Int(my)))"
            if bestD > options.colorTolerance {
                problems.append("\(where_): colour (\(Int(er + Double(cbg.r))),\(Int(eg + Double(cbg.g))),\(Int(eb + Double(cbg.b)))) is \(fmt(bestD)) from the nearest palette colour \(best.word)")
            }
            if err > options.maxShapeError {
                problems.append("\(where_): no shape fits (best \(shape.word), error \(fmt(err)))")
            }
            if radius < 0.6 * rs || radius > 1.45 * rl {
                problems.append("\(where_): radius \(fmt(radius)) px outside the sizes of the world")
            }
            let size: SizeClass = radius < (rs * rl).squareRoot() ? .small : .large
            objects.append(PerceivedObject(color: best, shape: shape, size: size, x: mx, y: cy, radius: radius,
                                           box: Box(cx: mx / Double(w), cy: cy / Double(h), w: 2 * radius / Double(w), h: 2 * radius / Double(h)),
                                           area: area, colorDistance: bestD, shapeError: err, runnerUpError: errs[1].1))
        }
        if objects.count > options.maxObjects { problems.append("\(objects.count) objects, more than \(options.maxObjects)") }
        return ImageParse(width: w, height: h, objects: objects, problems: problems, ignoredSpecks: specks)
    }

    /// min over {sharp, blurred} templates of sum |coverage - template| / area.
    func templateError(_ cov: [Double], _ pw: Int, _ ph: Int, _ s: ShapeKind, _ cx: Double, _ cy: Double, _ r: Double, _ area: Double) -> Double {
        var t = [Double](repeating: 0, count: pw * ph)
        for y in 0..<ph {
            for x in 0..<pw {
                t[y * pw + x] = ShapeGeometry.coverage(s, cx: cx, cy: cy, radius: r, px: x, py: y, samples: 4)
            }
        }
        var sharp = 0.0
        for i in 0..<(pw * ph) { sharp += abs(cov[i] - t[i]) }
        // Blur the template with the separable [1, 2, 1] / 4 kernel (zero outside the patch, which is padded).
        var tmp = t
        for y in 0..<ph {
            for x in 0..<pw {
                let l = x > 0 ? t[y * pw + x - 1] : 0, rr = x < pw - 1 ? t[y * pw + x + 1] : 0
                tmp[y * pw + x] = 0.25 * l + 0.5 * t[y * pw + x] + 0.25 * rr
            }
        }
        var blurred = 0.0
        for y in 0..<ph {
            for x in 0..<pw {
                let u = y > 0 ? tmp[(y - 1) * pw + x] : 0, d = y < ph - 1 ? tmp[(y + 1) * pw + x] : 0
                blurred += abs(cov[y * pw + x] - (0.25 * u + 0.5 * tmp[y * pw + x] + 0.25 * d))
            }
        }
        return min(sharp, blurred) / area
    }

    func fmt(_ v: Double) -> String { String(format: "%.2f", v) }
}

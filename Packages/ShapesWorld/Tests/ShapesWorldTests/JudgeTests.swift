import XCTest
import ShapesWorld

final class JudgeTests: XCTestCase {
    let perCategory = 250

    struct Tally {
        var agree = 0, total = 0, parseExact = 0, images = 0, negImagePass = 0, negImages = 0
        var rate: Double { Double(agree) / Double(max(1, total)) }
    }

    /// Judge vs ground truth: on each positive image the positive caption must pass and every hard-negative caption
    /// fail; on each hard-negative image the positive caption must fail.
    func measure(_ degradation: ImageDegradation?, seed: UInt64) -> [Category: Tally] {
        let g = SampleGenerator(seed: seed)
        let judge = Judge()
        var noise = WorldRandom(seed: seed, stream: 77, index: 0)
        func look(_ s: Scene) -> ImageParse {
            let img = Renderer.render(s)
            return judge.parse(degradation.map { $0.apply(img, rng: &noise) } ?? img)
        }
        var out: [Category: Tally] = [:]
        for cat in Category.allCases {
            var t = Tally()
            for i in 0..<perCategory {
                let s = g.sample(split: i % 2 == 0 ? .testID : .testOOD, index: i, category: cat)
                let p = look(s.scene)
                t.images += 1
                let seen = p.objects.map { "\($0.color)\($0.shape)\($0.size)" }.sorted()
                let truth = s.scene.objects.map { "\($0.color)\($0.shape)\($0.size)" }.sorted()
                if p.isParseable && seen == truth { t.parseExact += 1 }
                t.total += 1
                if judge.verdict(p, s.meaning).allPassed { t.agree += 1 }
                for n in s.negatives {
                    t.total += 1
                    if !judge.verdict(p, n.meaning).allPassed { t.agree += 1 }
                    let np = look(n.scene)
                    t.negImages += 1
                    if judge.verdict(np, s.meaning).allPassed { t.negImagePass += 1 }
                }
            }
            out[cat] = t
        }
        return out
    }

    func testAccuracyOnCleanRenders() {
        let r = measure(nil, seed: 101)
        for cat in Category.allCases {
            let t = r[cat]!
            XCTAssertGreaterThanOrEqual(t.rate, 0.995, "\(cat): agreement \(t.agree)/\(t.total)")
            XCTAssertGreaterThanOrEqual(Double(t.parseExact) / Double(t.images), 0.995, "\(cat): exact parses \(t.parseExact)/\(t.images)")
            XCTAssertLessThanOrEqual(Double(t.negImagePass) / Double(t.negImages), 0.02, "\(cat): hard-negative images passed \(t.negImagePass)/\(t.negImages)")
        }
    }

    func testAccuracyOnDegradedRenders() {
        let r = measure(.generatedLike, seed: 202)
        for cat in Category.allCases {
            let t = r[cat]!
            XCTAssertGreaterThanOrEqual(t.rate, 0.97, "\(cat): agreement \(t.agree)/\(t.total)")
            // Stricter than the 97%: the measured figure is 100% on 7000 images (Docs/SHAPESWORLD.md).
            XCTAssertGreaterThanOrEqual(Double(t.parseExact) / Double(t.images), 0.99, "\(cat): exact parses \(t.parseExact)/\(t.images)")
            XCTAssertLessThanOrEqual(Double(t.negImagePass) / Double(t.negImages), 0.02, "\(cat): hard-negative images passed \(t.negImagePass)/\(t.negImages)")
        }
    }

    func testAccuracyAt64Pixels() {
        let g = SampleGenerator(seed: 5, config: .square(64))
        let judge = Judge(config: .square(64))
        var agree = 0
        for i in 0..<200 {
            let s = g.sample(split: .train, index: i)
            if judge.judge(Renderer.render(s.scene), s.meaning).allPassed { agree += 1 }
        }
        XCTAssertGreaterThanOrEqual(agree, 199)
    }

    func testPerceivedGeometry() {
        let cfg = WorldConfig.standard
        let s = Scene(config: cfg, objects: [SceneObject(shape: .triangle, color: .yellow, size: .large, x: 9.3, y: 10.7, radius: cfg.radius(.large)),
                                             SceneObject(shape: .cross, color: .purple, size: .small, x: 24.2, y: 22.9, radius: cfg.radius(.small))])
        let p = Judge().parse(Renderer.render(s))
        XCTAssertTrue(p.isParseable, "\(p.problems)")
        XCTAssertEqual(p.objects.count, 2)
        let t = p.objects.first { $0.shape == .triangle }!, c = p.objects.first { $0.shape == .cross }!
        XCTAssertEqual(t.color, .yellow); XCTAssertEqual(t.size, .large)
        XCTAssertEqual(c.color, .purple); XCTAssertEqual(c.size, .small)
        XCTAssertEqual(t.x, 9.3, accuracy: 0.3); XCTAssertEqual(t.y, 10.7, accuracy: 0.4)
        XCTAssertEqual(t.radius, cfg.radius(.large), accuracy: 0.4)
        XCTAssertEqual(c.x, 24.2, accuracy: 0.3); XCTAssertEqual(c.y, 22.9, accuracy: 0.3)
        XCTAssertGreaterThan(t.box.iou(s.box(0)), 0.8)
    }

    func testUnparseableImagesAreReported() throws {
        let cfg = WorldConfig.standard
        let judge = Judge()
        // An off-palette colour: orange (240, 140, 30), rendered with the exact coverage of a white circle.
        var img = Renderer.render(Scene(config: cfg, objects: [SceneObject(shape: .circle, color: .white, size: .large, x: 16, y: 16, radius: 6)]))
        let bg = cfg.background
        for i in 0..<(32 * 32) {
            let a = (Double(img.pixels[3 * i]) - Double(bg.r)) / (235 - Double(bg.r))
            img.pixels[3 * i] = UInt8((Double(bg.r) + a * (240 - Double(bg.r))).rounded())
            img.pixels[3 * i + 1] = UInt8((Double(bg.g) + a * (140 - Double(bg.g))).rounded())
            img.pixels[3 * i + 2] = UInt8((Double(bg.b) + a * (30 - Double(bg.b))).rounded())
        }
        XCTAssertTrue(judge.parse(img).problems.first?.contains("palette") ?? false, "\(judge.parse(img).problems)")
        // A bar: no shape fits.
        var bar = RGBImage(width: 32, height: 32, fill: cfg.background)
        for x in 4..<28 { for y in 14..<17 { bar[x, y] = ColorName.green.rgb } }
        XCTAssertTrue(judge.parse(bar).problems.contains { $0.contains("no shape fits") || $0.contains("radius") }, "\(judge.parse(bar).problems)")
        // Two touching squares: one blob too large or misshapen.
        let merged = Renderer.render(Scene(config: cfg, objects: [SceneObject(shape: .square, color: .blue, size: .large, x: 10, y: 16, radius: 6),
                                                                 SceneObject(shape: .square, color: .blue, size: .large, x: 22, y: 16, radius: 6)]))
        XCTAssertFalse(judge.parse(merged).isParseable)
        // A fragment between speck and object size.
        var frag = RGBImage(width: 32, height: 32, fill: cfg.background)
        for x in 10..<13 { for y in 10..<13 { frag[x, y] = ColorName.white.rgb } }
        XCTAssertTrue(judge.parse(frag).problems.first?.contains("fragment") ?? false, "\(judge.parse(frag).problems)")
        let v = judge.judge(frag, Meaning(objects: [ObjectSpec(color: .white, shape: .square)]))
        XCTAssertFalse(v.parseable); XCTAssertFalse(v.allPassed); XCTAssertEqual(v.fractionPassed, 0)
        // A single noise pixel is ignored; an empty image parses to no objects and fails counts.
        var speck = RGBImage(width: 32, height: 32, fill: cfg.background)
        speck[5, 5] = ColorName.white.rgb
        let sp = judge.parse(speck)
        XCTAssertTrue(sp.isParseable); XCTAssertEqual(sp.objects.count, 0); XCTAssertEqual(sp.ignoredSpecks, 1)
        XCTAssertFalse(judge.judge(speck, Meaning(objects: [ObjectSpec(color: .white, shape: .square)])).allPassed)
    }

    func testConstraintReport() throws {
        let m = try CaptionParser.parse("two small red circles above a blue square")
        let s = Scene(config: .standard, objects: [
            SceneObject(shape: .circle, color: .red, size: .small, x: 8, y: 7, radius: 3.52),
            SceneObject(shape: .circle, color: .red, size: .large, x: 22, y: 9, radius: 6.08),
            SceneObject(shape: .square, color: .blue, size: .large, x: 15, y: 24, radius: 6.08)])
        let v = Judge().judge(Renderer.render(s), m)
        XCTAssertTrue(v.parseable)
        XCTAssertEqual(v.constraints.map(\.kind), [.count, .size, .count, .relation])
        XCTAssertEqual(v.constraints.map(\.passed), [true, false, true, true])
        XCTAssertFalse(v.allPassed)
        XCTAssertEqual(v.fractionPassed, 0.75)
    }

    /// Percentile bootstrap vs the normal approximation of a binomial proportion.
    func testBootstrapIntervalMatchesBinomial() {
        let xs = (0..<400).map { $0 % 10 < 3 ? 1.0 : 0.0 }
        let ci = JudgeSummary.bootstrap(xs, resamples: 2000, seed: 1)
        let se = (0.3 * 0.7 / 400).squareRoot()
        XCTAssertEqual(ci.mean, 0.3, accuracy: 1e-12)
        XCTAssertEqual(ci.low, 0.3 - 1.96 * se, accuracy: 0.01)
        XCTAssertEqual(ci.high, 0.3 + 1.96 * se, accuracy: 0.01)
        XCTAssertEqual(JudgeSummary.bootstrap(xs, resamples: 2000, seed: 1), ci)
        let v = Verdict(parseable: true, problems: [], constraints: [], allPassed: true, fractionPassed: 1)
        let f = Verdict(parseable: false, problems: ["x"], constraints: [], allPassed: false, fractionPassed: 0)
        let sums = JudgeSummary.aggregate([("a", v), ("a", f), ("b", v)])
        XCTAssertEqual(sums.map(\.group), ["a", "b", "all"])
        XCTAssertEqual(sums[0].allPass.mean, 0.5); XCTAssertEqual(sums[0].unparseable, 1); XCTAssertEqual(sums[2].count, 3)
    }
}

/// Measures the judge against ground truth on generated samples (the figures reported in Docs/SHAPESWORLD.md).
public enum JudgeValidation {
    public struct Figures: Codable, Hashable, Sendable {
        public var category: Category
        public var images: Int
        /// (image, caption) pairs where the verdict equals the truth: positive caption on its image (true), each hard
        /// negative caption on the positive image (false), the positive caption on each hard-negative image (false).
        public var agreements: Int
        public var pairs: Int
        /// Images whose parse equals the scene's objects (colour, shape, size multiset).
        public var exactParses: Int
        /// Positive captions judged true on their own (clean or degraded) image.
        public var positivesPassed: Int
        /// Hard-negative images judged to match the positive caption.
        public var negativeImagesPassed: Int
        public var negativeImages: Int
        public var unparseable: Int
        /// Largest colour distance and template error among the objects read (margins to the judge's tolerances).
        public var maxColorDistance: Double
        public var maxShapeError: Double
        public var agreement: Double { Double(agreements) / Double(max(1, pairs)) }
    }

    /// Figures per category over `perCategory` samples (alternating test-id and test-ood), images optionally degraded.
    public static func measure(perCategory: Int, degradation: ImageDegradation?, seed: UInt64 = 1,
                               config: WorldConfig = .standard) -> [Figures] {
        let gen = SampleGenerator(seed: seed, config: config)
        let judge = Judge(config: config)
        var noise = WorldRandom(seed: seed, stream: 0xDE6, index: 0)
        func look(_ s: Scene) -> ImageParse {
            let img = Renderer.render(s)
            return judge.parse(degradation.map { $0.apply(img, rng: &noise) } ?? img)
        }
        return Category.allCases.map { cat in
            var f = Figures(category: cat, images: 0, agreements: 0, pairs: 0, exactParses: 0, positivesPassed: 0, negativeImagesPassed: 0, negativeImages: 0, unparseable: 0, maxColorDistance: 0, maxShapeError: 0)
            for i in 0..<perCategory {
                let s = gen.sample(split: i % 2 == 0 ? .testID : .testOOD, index: i, category: cat)
                let p = look(s.scene)
                f.images += 1
                if !p.isParseable { f.unparseable += 1 }
                for o in p.objects {
                    f.maxColorDistance = max(f.maxColorDistance, o.colorDistance)
                    f.maxShapeError = max(f.maxShapeError, o.shapeError)
                }
                let key = { (c: ColorName, sh: ShapeKind, z: SizeClass) in "\(c.rawValue) \(sh.rawValue) \(z.rawValue)" }
                if p.isParseable && p.objects.map({ key($0.color, $0.shape, $0.size) }).sorted() == s.scene.objects.map({ key($0.color, $0.shape, $0.size) }).sorted() {
                    f.exactParses += 1
                }
                f.pairs += 1
                if judge.verdict(p, s.meaning).allPassed { f.agreements += 1; f.positivesPassed += 1 }
                for n in s.negatives {
                    f.pairs += 2
                    if !judge.verdict(p, n.meaning).allPassed { f.agreements += 1 }
                    let np = look(n.scene)
                    f.negativeImages += 1
                    if judge.verdict(np, s.meaning).allPassed { f.negativeImagesPassed += 1 } else { f.agreements += 1 }
                }
            }
            return f
        }
    }
}

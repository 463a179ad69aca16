/// Generates samples: meaning -> template -> caption -> layout -> hard negatives -> referring expressions, all from one
/// `WorldRandom` keyed by (seed, split, index) (and the category when one is asked for).
public struct SampleGenerator: Sendable {
    public var config: WorldConfig
    public var seed: UInt64

    public init(seed: UInt64 = 0, config: WorldConfig = .standard) { self.seed = seed; self.config = config }

    /// The random stream of one sample.
    public func rng(split: Split, index: Int, category: Category?) -> WorldRandom {
        let c = category.map { UInt64(Category.allCases.firstIndex(of: $0)! + 1) } ?? 0
        return WorldRandom(seed: seed, stream: split.stream &* 16 &+ c, index: UInt64(index))
    }

    /// The positive part of a sample: meaning, template, caption and scene (no negatives, no expressions).
    public func positive(split: Split, index: Int, category: Category? = nil) -> (meaning: Meaning, template: Template, caption: String, scene: Scene) {
        var r = rng(split: split, index: index, category: category)
        return positive(split: split, category: category, rng: &r)
    }

    func positive(split: Split, category: Category?, rng r: inout WorldRandom) -> (meaning: Meaning, template: Template, caption: String, scene: Scene) {
        let cat = category ?? Category.allCases[r.below(Category.allCases.count)]
        for _ in 0..<100 {
            let m = SampleGenerator.randomMeaning(category: cat, split: split, rng: &r)
            let t = SampleGenerator.randomTemplate(for: m, split: split, rng: &r)
            guard let scene = try? Layout.scene(for: m, config: config, rng: &r, restarts: 40) else { continue }
            let caption = try! Grammar.write(m, template: t)
            return (m, t, caption, scene)
        }
        preconditionFailure("SampleGenerator: no layout for 100 meanings of \(cat.rawValue) in \(config.width)x\(config.height)")
    }

    /// The full sample with hard negatives, referring expressions and a random-negative index.
    public func sample(split: Split, index: Int, category: Category? = nil) -> Sample {
        var r = rng(split: split, index: index, category: category)
        let p = positive(split: split, category: category, rng: &r)
        var nr = r.derived(1)
        let negs = HardNegatives.make(for: p.meaning, scene: p.scene, template: p.template, split: split, rng: &nr)
        var other = r.below(1 << 30)
        if other == index { other += 1 }
        return Sample(split: split, index: index, category: p.meaning.category, caption: p.caption, template: p.template.id,
                      meaning: p.meaning, scene: p.scene, negatives: negs,
                      expressions: ReferringExpressions.make(for: p.scene), randomNegativeIndex: other)
    }

    /// The rendered image of a sample's positive.
    public func image(split: Split, index: Int, category: Category? = nil) -> RGBImage {
        Renderer.render(positive(split: split, index: index, category: category).scene)
    }

    /// A scene for any meaning (e.g. a parsed caption), laid out with the given seed.
    public func scene(for meaning: Meaning, seed layoutSeed: UInt64) throws -> Scene {
        var r = WorldRandom(seed: seed, stream: 0xCA97, index: layoutSeed)
        return try Layout.scene(for: meaning, config: config, rng: &r)
    }

    // MARK: meanings and templates

    /// A random meaning of a category that respects the split: no held-out pair outside test-ood, at least one in it.
    public static func randomMeaning(category: Category, split: Split, rng r: inout WorldRandom) -> Meaning {
        while true {
            let m = unconstrainedMeaning(category, &r)
            let held = m.pairs.contains { $0.isHeldOut }
            if held == split.isOOD { return m }
        }
    }

    static func unconstrainedMeaning(_ cat: Category, _ r: inout WorldRandom) -> Meaning {
        let colors = ColorName.allCases, shapes = ShapeKind.allCases
        func twoDistinct<T>(_ xs: [T]) -> (T, T) {
            let i = r.below(xs.count); var j = r.below(xs.count - 1); if j >= i { j += 1 }
            return (xs[i], xs[j])
        }
        switch cat {
        case .single:
            return Meaning(objects: [ObjectSpec(color: r.pick(colors), shape: r.pick(shapes), size: r.chance(0.5) ? r.pick(SizeClass.allCases) : nil)])
        case .colorBinding:
            let (c0, c1) = twoDistinct(colors), (s0, s1) = twoDistinct(shapes)
            return Meaning(objects: [ObjectSpec(color: c0, shape: s0), ObjectSpec(color: c1, shape: s1)])
        case .shapeBinding:
            let c = r.pick(colors), (s0, s1) = twoDistinct(shapes)
            return Meaning(objects: [ObjectSpec(color: c, shape: s0), ObjectSpec(color: c, shape: s1)])
        case .sizeBinding:
            let (c0, c1) = twoDistinct(colors), (s0, s1) = twoDistinct(shapes)
            let z = r.pick(SizeClass.allCases)
            return Meaning(objects: [ObjectSpec(color: c0, shape: s0, size: z), ObjectSpec(color: c1, shape: s1, size: z.other)])
        case .spatial:
            let (c0, c1) = twoDistinct(colors), (s0, s1) = r.chance(0.5) ? twoDistinct(shapes) : { let s = r.pick(shapes); return (s, s) }()
            return Meaning(objects: [ObjectSpec(color: c0, shape: s0), ObjectSpec(color: c1, shape: s1)],
                           relation: Relation(subject: 0, predicate: r.pick(SpatialPredicate.allCases), object: 1))
        case .counting:
            let n = 2 + r.below(3)
            let size: SizeClass? = r.chance(0.3) ? (n == 4 ? .small : r.pick(SizeClass.allCases)) : nil
            return Meaning(objects: [ObjectSpec(count: n, color: r.pick(colors), shape: r.pick(shapes), size: size)])
        case .complex:
            let (c0, c1) = twoDistinct(colors), (s0, s1) = twoDistinct(shapes)
            let n = 2 + r.below(2)
            let pluralFirst = r.chance(0.6)
            return Meaning(objects: [ObjectSpec(count: pluralFirst ? n : 1, color: c0, shape: s0), ObjectSpec(count: pluralFirst ? 1 : n, color: c1, shape: s1)],
                           relation: Relation(subject: 0, predicate: r.pick(SpatialPredicate.allCases), object: 1))
        }
    }

    /// A template for a meaning: training templates outside test-ood; in test-ood a held-out one half of the time.
    public static func randomTemplate(for m: Meaning, split: Split, rng r: inout WorldRandom) -> Template {
        let all = Grammar.templates(kind: FrameKind.of(m), predicate: m.relation?.predicate)
        let wantHeld = split.isOOD && r.chance(0.5)
        let pool = all.filter { $0.heldOut == wantHeld }
        return r.pick(pool)
    }
}

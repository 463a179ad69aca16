/// Lays out a meaning as a scene: sizes (given or drawn), positions by seeded rejection sampling with gaps, border
/// margin and relations holding by the generation margin.
public enum Layout {
    /// A scene showing exactly the meaning's objects. Objects are listed group by group, in meaning order.
    public static func scene(for m: Meaning, config: WorldConfig, rng: inout WorldRandom, restarts: Int = 300) throws -> Scene {
        try m.validate()
        // Sizes: given, or drawn; drawn sizes shrink to small while the objects would crowd the image.
        var members: [(group: Int, size: SizeClass, drawn: Bool)] = []
        for (g, spec) in m.objects.enumerated() {
            for _ in 0..<spec.count { members.append((g, spec.size ?? (rng.chance(0.5) ? .large : .small), spec.size == nil)) }
        }
        let budget = 0.6 * Double(config.width * config.height)
        func footprint() -> Double {
            members.reduce(0) { let s = 2 * config.radius($1.size) + config.gapPixels; return $0 + s * s }
        }
        var k = 0
        while footprint() > budget, k < members.count {
            if members[k].drawn { members[k].size = .small }
            k += 1
        }
        var order = Array(members.indices)
        for _ in 0..<restarts {
            rng.shuffle(&order)
            var placed = [SceneObject?](repeating: nil, count: members.count)
            var scene = Scene(config: config, objects: [])
            var ok = true
            for i in order {
                let mem = members[i], spec = m.objects[mem.group]
                var obj = SceneObject(shape: spec.shape, color: spec.color, size: mem.size, x: 0, y: 0, radius: config.radius(mem.size))
                var found = false
                for _ in 0..<60 {
                    place(&obj, config: config, rng: &rng)
                    if scene.fits(obj) && relationHolds(obj, group: mem.group, placed: placed, members: members.map(\.group), meaning: m, config: config) {
                        found = true; break
                    }
                }
                if !found { ok = false; break }
                placed[i] = obj
                scene.objects.append(obj)
            }
            if ok { return Scene(config: config, objects: placed.map { $0! }) }
        }
        throw WorldError.layoutFailed("no layout found for \(m.objects.map { "\($0.count) \($0.size?.word ?? "") \($0.pair)" }) with relation \(m.relation?.predicate.rawValue ?? "none") in \(config.width)x\(config.height)")
    }

    /// A uniform position keeping the border margin.
    @inline(__always) static func place(_ o: inout SceneObject, config: WorldConfig, rng: inout WorldRandom) {
        let b = config.borderPixels + o.radius
        o.x = rng.uniform(b, Double(config.width) - b)
        o.y = rng.uniform(b, Double(config.height) - b)
    }

    /// Whether `o` (a member of `group`) keeps the meaning's relation, with the generation margin, to every placed member
    /// of the other group.
    static func relationHolds(_ o: SceneObject, group: Int, placed: [SceneObject?], members: [Int], meaning m: Meaning, config: WorldConfig) -> Bool {
        guard let r = m.relation else { return true }
        let margin = config.generateMarginPixels
        for (j, p) in placed.enumerated() {
            guard let p = p else { continue }
            if group == r.subject && members[j] == r.object {
                if !r.predicate.holds((o.x, o.y), (p.x, p.y), margin: margin) { return false }
            } else if group == r.object && members[j] == r.subject {
                if !r.predicate.holds((p.x, p.y), (o.x, o.y), margin: margin) { return false }
            }
        }
        return true
    }

    /// Adds one more object of group `g` to a scene at a free place that keeps the relation; nil when none is found.
    static func addMember(of g: Int, to scene: Scene, meaning m: Meaning, rng: inout WorldRandom) -> Scene? {
        let spec = m.objects[g], cfg = scene.config
        let size = spec.size ?? (rng.chance(0.5) ? .large : .small)
        var obj = SceneObject(shape: spec.shape, color: spec.color, size: size, x: 0, y: 0, radius: cfg.radius(size))
        let groups = scene.objects.map { o in m.objects.firstIndex { $0.pair == o.pair } ?? -1 }
        for attempt in 0..<400 {
            if attempt == 200 && spec.size == nil { obj.size = .small; obj.radius = cfg.radius(.small) }
            place(&obj, config: cfg, rng: &rng)
            if scene.fits(obj) && relationHolds(obj, group: g, placed: scene.objects, members: groups, meaning: m, config: cfg) {
                var s = scene
                s.objects.append(obj)
                return s
            }
        }
        return nil
    }
}

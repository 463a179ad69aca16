/// Hard negatives per category (NegCLIP style) with their images: the positive's layout re-rendered with the
/// negative meaning (attributes changed in place, arrangement mirrored, one object added or removed).
public enum HardNegatives {
    /// The negative kinds tried for each category, in order.
    public static func kinds(for c: Category) -> [NegativeKind] {
        switch c {
        case .single: return [.replaceColor, .replaceShape, .replaceSize]
        case .colorBinding: return [.swapColors, .replaceColor]
        case .shapeBinding: return [.replaceShape, .replaceColor]
        case .sizeBinding: return [.swapSizes, .swapShapes, .swapColors]
        case .spatial: return [.flipRelation, .reverseRelation, .swapColors]
        case .counting: return [.countUp, .countDown, .replaceColor, .replaceShape]
        case .complex: return [.countUp, .countDown, .flipRelation, .swapColors]
        }
    }

    /// Every valid hard negative of the category's kinds. A negative is kept only if its meaning is false for the
    /// positive scene, true for its own scene, the positive is false for the negative scene, and (outside test-ood) it
    /// names no held-out pair.
    public static func make(for m: Meaning, scene: Scene, template: Template, split: Split, rng: inout WorldRandom) -> [HardNegative] {
        var out: [HardNegative] = []
        for kind in kinds(for: m.category) {
            var r = rng.derived(UInt64(NegativeKind.allCases.firstIndex(of: kind)!))
            guard let (nm, ns, same) = negative(kind, m, scene, split: split, rng: &r) else { continue }
            guard (try? nm.validate()) != nil, nm != m, ns.isValid, !nm.holds(in: scene), nm.holds(in: ns), !m.holds(in: ns) else { continue }
            if !split.isOOD && (nm.pairs.contains { $0.isHeldOut } || ns.objects.contains { $0.pair.isHeldOut }) { continue }
            guard let t = adaptedTemplate(template, to: nm), let caption = try? Grammar.write(nm, template: t) else { continue }
            out.append(HardNegative(kind: kind, caption: caption, meaning: nm, scene: ns, sameLayout: same))
        }
        return out
    }

    /// The positive's template with the phrasing of the same number for a changed predicate.
    static func adaptedTemplate(_ t: Template, to m: Meaning) -> Template? {
        guard let r = m.relation, let ph = t.phrase, ph.predicate != r.predicate else { return t }
        let suffix = ph.id.split(separator: ".").last!
        guard let np = Grammar.phrases.first(where: { $0.predicate == r.predicate && $0.id.hasSuffix(".\(suffix)") }) else { return nil }
        return Template(frame: t.frame, phrase: np)
    }

    /// One negative meaning and its scene; nil when the kind does not apply.
    static func negative(_ kind: NegativeKind, _ m: Meaning, _ scene: Scene, split: Split, rng r: inout WorldRandom) -> (Meaning, Scene, Bool)? {
        var nm = m, ns = scene
        func group(of o: SceneObject) -> Int? { m.objects.firstIndex { $0.pair == o.pair } }
        func allowed(_ p: ColorShape) -> Bool { split.isOOD || !p.isHeldOut }
        switch kind {
        case .swapColors, .swapShapes:
            guard m.objects.count == 2 else { return nil }
            if kind == .swapColors {
                guard m.objects[0].color != m.objects[1].color else { return nil }
                nm.objects[0].color = m.objects[1].color; nm.objects[1].color = m.objects[0].color
            } else {
                guard m.objects[0].shape != m.objects[1].shape else { return nil }
                nm.objects[0].shape = m.objects[1].shape; nm.objects[1].shape = m.objects[0].shape
            }
            for i in ns.objects.indices {
                guard let g = group(of: scene.objects[i]) else { return nil }
                ns.objects[i].color = nm.objects[g].color; ns.objects[i].shape = nm.objects[g].shape
            }
            return (nm, ns, true)
        case .swapSizes, .replaceSize:
            if kind == .swapSizes {
                guard m.objects.count == 2, let a = m.objects[0].size, let b = m.objects[1].size, a != b else { return nil }
                nm.objects[0].size = b; nm.objects[1].size = a
            } else {
                let sized = m.objects.indices.filter { m.objects[$0].size != nil }
                guard !sized.isEmpty else { return nil }
                let g = r.pick(sized)
                nm.objects[g].size = m.objects[g].size!.other
            }
            for i in ns.objects.indices {
                guard let g = group(of: scene.objects[i]), let s = nm.objects[g].size else { continue }
                ns.objects[i].size = s; ns.objects[i].radius = scene.config.radius(s)
            }
            if ns.isValid { return (nm, ns, true) }
            guard let fresh = try? Layout.scene(for: nm, config: scene.config, rng: &r, restarts: 40) else { return nil }
            return (nm, fresh, false)
        case .flipRelation, .reverseRelation:
            guard let rel = m.relation else { return nil }
            if kind == .flipRelation {
                nm.relation!.predicate = rel.predicate.opposite
            } else {
                nm.objects = [m.objects[rel.object], m.objects[rel.subject]]
                nm.relation = Relation(subject: 0, predicate: rel.predicate, object: 1)
            }
            return (nm, scene.mirrored(horizontal: rel.predicate.isHorizontal), true)
        case .countUp:
            guard m.objectCount < 4 else { return nil }
            let candidates = m.objects.indices.filter { m.objects.count == 1 || m.objects[$0].count > 1 }
            let g = r.pick(candidates.isEmpty ? Array(m.objects.indices) : candidates)
            nm.objects[g].count += 1
            guard let s = Layout.addMember(of: g, to: scene, meaning: m, rng: &r) else { return nil }
            return (nm, s, true)
        case .countDown:
            let candidates = m.objects.indices.filter { m.objects[$0].count > 1 }
            guard !candidates.isEmpty else { return nil }
            let g = r.pick(candidates)
            nm.objects[g].count -= 1
            guard let last = ns.objects.lastIndex(where: { $0.pair == m.objects[g].pair }) else { return nil }
            ns.objects.remove(at: last)
            return (nm, ns, true)
        case .replaceColor, .replaceShape:
            let g = r.below(m.objects.count)
            if kind == .replaceColor {
                let present = Set(scene.objects.map(\.color))
                let options = ColorName.allCases.filter { !present.contains($0) && allowed(ColorShape($0, m.objects[g].shape)) }
                guard !options.isEmpty else { return nil }
                nm.objects[g].color = r.pick(options)
            } else {
                let present = Set(scene.objects.map(\.shape))
                let options = ShapeKind.allCases.filter { !present.contains($0) && allowed(ColorShape(m.objects[g].color, $0)) }
                guard !options.isEmpty else { return nil }
                nm.objects[g].shape = r.pick(options)
            }
            for i in ns.objects.indices where scene.objects[i].pair == m.objects[g].pair {
                ns.objects[i].color = nm.objects[g].color; ns.objects[i].shape = nm.objects[g].shape
            }
            return (nm, ns, true)
        }
    }
}

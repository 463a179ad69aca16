import ShapesWorld

/// Independent brute-force ground truth for tests: does a meaning describe a scene? (Exact counts per colour-shape
/// pair, sizes when given, every subject-object pair in relation by 5% of the side.) Written separately from
/// `Meaning.check` so the two can disagree.
enum TruthReference {
    static func holds(_ m: Meaning, _ scene: Scene) -> Bool {
        let margin = 0.05 * Double(min(scene.config.width, scene.config.height))
        for g in m.objects {
            let members = scene.objects.filter { $0.color == g.color && $0.shape == g.shape }
            if members.count != g.count { return false }
            if let s = g.size, members.contains(where: { $0.size != s }) { return false }
        }
        if let r = m.relation {
            let a = scene.objects.filter { $0.color == m.objects[r.subject].color && $0.shape == m.objects[r.subject].shape }
            let b = scene.objects.filter { $0.color == m.objects[r.object].color && $0.shape == m.objects[r.object].shape }
            if a.isEmpty || b.isEmpty { return false }
            for p in a {
                for q in b {
                    let ok: Bool
                    switch r.predicate {
                    case .leftOf: ok = q.x - p.x > margin
                    case .rightOf: ok = p.x - q.x > margin
                    case .above: ok = q.y - p.y > margin
                    case .below: ok = p.y - q.y > margin
                    }
                    if !ok { return false }
                }
            }
        }
        return true
    }
}

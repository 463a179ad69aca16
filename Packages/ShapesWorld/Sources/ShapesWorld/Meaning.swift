import Foundation

/// The structured meaning of a caption: object groups with attributes and counts, and an optional relation.

/// Caption categories, mirroring the failure types DPT targets.
public enum Category: String, CaseIterable, Codable, Hashable, Sendable {
    case single
    case colorBinding = "color_binding"
    case shapeBinding = "shape_binding"
    case sizeBinding = "size_binding"
    case spatial
    case counting
    case complex
}

/// A group of `count` identical objects: "three small green triangles". Size nil = unspecified.
public struct ObjectSpec: Codable, Hashable, Sendable {
    public var count: Int
    public var color: ColorName
    public var shape: ShapeKind
    public var size: SizeClass?

    public init(count: Int = 1, color: ColorName, shape: ShapeKind, size: SizeClass? = nil) {
        self.count = count; self.color = color; self.shape = shape; self.size = size
    }
    public var pair: ColorShape { ColorShape(color, shape) }

    /// Whether an observed object belongs to this group (colour, shape, and size when specified).
    @inline(__always) public func matches(_ o: ObservedObject, withSize: Bool = true) -> Bool {
        o.color == color && o.shape == shape && (!withSize || size == nil || o.size == size!)
    }
}

/// "objects[subject] <predicate> objects[object]"; for groups, every member of the subject group relates to every
/// member of the object group.
public struct Relation: Codable, Hashable, Sendable {
    public var subject: Int
    public var predicate: SpatialPredicate
    public var object: Int
    public init(subject: Int, predicate: SpatialPredicate, object: Int) {
        self.subject = subject; self.predicate = predicate; self.object = object
    }
}

/// The meaning of a caption. Groups are listed in caption order; their (colour, shape) pairs are distinct.
public struct Meaning: Codable, Hashable, Sendable {
    public var objects: [ObjectSpec]
    public var relation: Relation?

    public init(objects: [ObjectSpec], relation: Relation? = nil) { self.objects = objects; self.relation = relation }

    /// Total number of objects the caption asks for.
    public var objectCount: Int { objects.reduce(0) { $0 + $1.count } }

    /// The category, a function of the structure: a relation makes `spatial` (all counts 1) or `complex`; one group is
    /// `single` or `counting`; two groups are `size_binding` (both sizes given and different), `shape_binding`
    /// (same colour) or `color_binding`.
    public var category: Category {
        if relation != nil { return objects.allSatisfy { $0.count == 1 } ? .spatial : .complex }
        if objects.count == 1 { return objects[0].count == 1 ? .single : .counting }
        let a = objects[0], b = objects[1]
        if let sa = a.size, let sb = b.size, sa != sb { return .sizeBinding }
        if a.color == b.color { return .shapeBinding }
        return .colorBinding
    }

    /// Colour-shape pairs the meaning mentions.
    public var pairs: [ColorShape] { objects.map(\.pair) }

    /// Throws unless the meaning is well formed: 1 or 2 groups (2 with a relation), counts 1...4 with at most 4 objects
    /// in all, distinct (colour, shape) pairs, relation indices valid and distinct.
    public func validate() throws {
        guard !objects.isEmpty, objects.count <= 2 else { throw WorldError.invalidMeaning("\(objects.count) object groups (need 1 or 2)") }
        for o in objects where o.count < 1 || o.count > 4 { throw WorldError.invalidMeaning("count \(o.count) for \(o.pair) (need 1...4)") }
        guard objectCount <= 4 else { throw WorldError.invalidMeaning("\(objectCount) objects in all (at most 4)") }
        if objects.count == 2, objects[0].pair == objects[1].pair {
            throw WorldError.invalidMeaning("the \(objects[0].pair) is named twice; name each colour-shape pair once")
        }
        if let r = relation {
            guard objects.count == 2, r.subject != r.object, objects.indices.contains(r.subject), objects.indices.contains(r.object) else {
                throw WorldError.invalidMeaning("relation \(r.subject) \(r.predicate.rawValue) \(r.object) needs two distinct groups")
            }
        }
    }
}

/// An object as perceived (by the judge) or known (from a scene): attributes and centre in pixels.
public struct ObservedObject: Codable, Hashable, Sendable {
    public var color: ColorName
    public var shape: ShapeKind
    public var size: SizeClass
    public var x: Double
    public var y: Double
    public init(color: ColorName, shape: ShapeKind, size: SizeClass, x: Double, y: Double) {
        self.color = color; self.shape = shape; self.size = size; self.x = x; self.y = y
    }
}

/// One checked constraint of a meaning.
public struct ConstraintResult: Codable, Hashable, Sendable {
    public enum Kind: String, Codable, Sendable { case count, size, relation }
    public var kind: Kind
    /// What was checked, e.g. "count(green triangle) == 3".
    public var description: String
    /// What was seen, e.g. "2".
    public var observed: String
    public var passed: Bool
}

extension Meaning {
    /// The meaning's constraints checked against objects: per group the exact count of its colour-shape pair and, when
    /// a size is given, that all of them have it; the relation between every subject and object member with `margin`
    /// pixels to spare (a relation with an empty side fails).
    public func check(_ objects: [ObservedObject], margin: Double) -> [ConstraintResult] {
        var out: [ConstraintResult] = []
        for g in self.objects {
            let n = objects.reduce(0) { $0 + (g.matches($1, withSize: false) ? 1 : 0) }
            out.append(ConstraintResult(kind: .count, description: "count(\(g.pair)) == \(g.count)", observed: "\(n)", passed: n == g.count))
            if let s = g.size {
                let ok = objects.reduce(0) { $0 + (g.matches($1, withSize: false) && $1.size == s ? 1 : 0) }
                out.append(ConstraintResult(kind: .size, description: "size(\(g.pair)) == \(s.word)",
                                            observed: "\(ok) of \(n) \(s.word)", passed: n > 0 && ok == n))
            }
        }
        if let r = relation {
            let sg = self.objects[r.subject], og = self.objects[r.object]
            let subs = objects.filter { sg.matches($0) }, objs = objects.filter { og.matches($0) }
            var ok = !subs.isEmpty && !objs.isEmpty
            var worst = Double.infinity
            for a in subs {
                for b in objs {
                    if !r.predicate.holds((a.x, a.y), (b.x, b.y), margin: margin) { ok = false }
                    let d: Double
                    switch r.predicate {
                    case .leftOf: d = b.x - a.x
                    case .rightOf: d = a.x - b.x
                    case .above: d = b.y - a.y
                    case .below: d = a.y - b.y
                    }
                    worst = min(worst, d)
                }
            }
            let obs = subs.isEmpty || objs.isEmpty ? "missing \(subs.isEmpty ? sg.pair : og.pair)" : "worst offset \(String(format: "%.1f", worst)) px"
            out.append(ConstraintResult(kind: .relation, description: "\(sg.pair) \(r.predicate.rawValue) \(og.pair)", observed: obs, passed: ok))
        }
        return out
    }

    /// Whether the meaning holds in a scene (ground truth, on exact object centres).
    public func holds(in scene: Scene) -> Bool {
        check(scene.observed, margin: scene.config.judgeMarginPixels).allSatisfy(\.passed)
    }
}

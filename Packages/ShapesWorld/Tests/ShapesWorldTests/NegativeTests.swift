import XCTest
import ShapesWorld

final class NegativeTests: XCTestCase {
    /// Each hard negative differs from its positive in exactly the intended way (checked structurally here), its
    /// caption parses to its meaning, and the truth table holds: negative false / positive true on the positive image,
    /// negative true / positive false on the negative image.
    func testHardNegativesDifferExactlyAsIntended() throws {
        let g = SampleGenerator(seed: 8)
        var kindsSeen: [Category: Set<NegativeKind>] = [:]
        var withNegatives = 0, total = 0
        for cat in Category.allCases {
            for i in 0..<150 {
                for split in [Split.train, .testOOD] {
                    let s = g.sample(split: split, index: i, category: cat)
                    total += 1
                    if !s.negatives.isEmpty { withNegatives += 1 }
                    XCTAssertEqual(s.category, cat)
                    XCTAssertTrue(TruthReference.holds(s.meaning, s.scene), s.caption)
                    for n in s.negatives {
                        kindsSeen[cat, default: []].insert(n.kind)
                        let what = "\(s.caption) -> \(n.kind.rawValue): \(n.caption)"
                        XCTAssertTrue(differsAsIntended(s.meaning, n.meaning, n.kind, s.scene), what)
                        XCTAssertEqual(try CaptionParser.parse(n.caption), n.meaning, what)
                        XCTAssertFalse(TruthReference.holds(n.meaning, s.scene), what)
                        XCTAssertTrue(TruthReference.holds(n.meaning, n.scene), what)
                        XCTAssertFalse(TruthReference.holds(s.meaning, n.scene), what)
                        if n.sameLayout { XCTAssertTrue(layoutKept(s.scene, n.scene, n.kind), what) }
                    }
                }
            }
        }
        XCTAssertGreaterThan(Double(withNegatives) / Double(total), 0.97)
        for cat in Category.allCases {
            XCTAssertEqual(kindsSeen[cat], Set(HardNegatives.kinds(for: cat)), "\(cat) produced \(kindsSeen[cat] ?? [])")
        }
    }

    func differsAsIntended(_ m: Meaning, _ n: Meaning, _ kind: NegativeKind, _ scene: Scene) -> Bool {
        let a = m.objects, b = n.objects
        func same(_ x: ObjectSpec, _ y: ObjectSpec, except keys: Set<String>) -> Bool {
            (keys.contains("count") || x.count == y.count) && (keys.contains("color") || x.color == y.color)
                && (keys.contains("shape") || x.shape == y.shape) && (keys.contains("size") || x.size == y.size)
        }
        switch kind {
        case .swapColors, .swapShapes, .swapSizes:
            guard a.count == 2, b.count == 2, m.relation == n.relation else { return false }
            let key = kind == .swapColors ? "color" : kind == .swapShapes ? "shape" : "size"
            let swapped: Bool
            switch kind {
            case .swapColors: swapped = b[0].color == a[1].color && b[1].color == a[0].color && a[0].color != a[1].color
            case .swapShapes: swapped = b[0].shape == a[1].shape && b[1].shape == a[0].shape && a[0].shape != a[1].shape
            default: swapped = b[0].size == a[1].size && b[1].size == a[0].size && a[0].size != a[1].size
            }
            return swapped && same(a[0], b[0], except: [key]) && same(a[1], b[1], except: [key])
        case .flipRelation:
            return a == b && n.relation?.predicate == m.relation?.predicate.opposite && n.relation?.subject == m.relation?.subject
        case .reverseRelation:
            return b == [a[1], a[0]] && n.relation?.predicate == m.relation?.predicate
        case .countUp, .countDown:
            guard a.count == b.count, m.relation == n.relation else { return false }
            let changed = a.indices.filter { a[$0] != b[$0] }
            guard changed.count == 1, let k = changed.first else { return false }
            return same(a[k], b[k], except: ["count"]) && b[k].count - a[k].count == (kind == .countUp ? 1 : -1)
        case .replaceColor, .replaceShape, .replaceSize:
            guard a.count == b.count, m.relation == n.relation else { return false }
            let changed = a.indices.filter { a[$0] != b[$0] }
            guard changed.count == 1, let k = changed.first else { return false }
            switch kind {
            case .replaceColor: return same(a[k], b[k], except: ["color"]) && !scene.objects.contains { $0.color == b[k].color }
            case .replaceShape: return same(a[k], b[k], except: ["shape"]) && !scene.objects.contains { $0.shape == b[k].shape }
            default: return same(a[k], b[k], except: ["size"]) && a[k].size != nil && b[k].size == a[k].size?.other
            }
        }
    }

    /// Same positions (attribute kinds), mirrored positions (relation kinds), or all but one object kept (count kinds).
    func layoutKept(_ p: Scene, _ n: Scene, _ kind: NegativeKind) -> Bool {
        let pos = { (s: Scene) in s.objects.map { [$0.x, $0.y] } }
        switch kind {
        case .flipRelation, .reverseRelation:
            return pos(n) == pos(p.mirrored(horizontal: true)) || pos(n) == pos(p.mirrored(horizontal: false))
        case .countUp: return Array(pos(n).prefix(p.objects.count)) == pos(p) && n.objects.count == p.objects.count + 1
        case .countDown:
            let a = pos(p), b = pos(n)
            return b.count == a.count - 1 && a.indices.contains { k in var c = a; c.remove(at: k); return c == b }
        default: return pos(n) == pos(p)
        }
    }

    func testRandomNegativeIsAnotherSample() {
        let g = SampleGenerator(seed: 8)
        for i in 0..<100 {
            let s = g.sample(split: .train, index: i)
            XCTAssertNotEqual(s.randomNegativeIndex, i)
            XCTAssertTrue((0..<(1 << 30) + 1).contains(s.randomNegativeIndex))
        }
    }
}

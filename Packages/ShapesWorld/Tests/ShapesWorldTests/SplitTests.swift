import XCTest
import ShapesWorld

final class SplitTests: XCTestCase {
    func testHeldOutSetIsFixedAndLargeEnough() {
        XCTAssertGreaterThanOrEqual(ColorShape.heldOut.count, 4)
        XCTAssertEqual(Set(ColorShape.heldOut).count, ColorShape.heldOut.count)
        XCTAssertEqual(Set(ColorShape.heldOut.map(\.shape)), Set(ShapeKind.allCases), "every shape keeps training colours and loses one")
        XCTAssertEqual(ColorShape.inDistribution.count, ColorName.allCases.count * ShapeKind.allCases.count - ColorShape.heldOut.count)
    }

    /// No held-out pair anywhere in train / val / test-id: meanings, images, captions (parsed back), negatives
    /// (captions, meanings and images), referring expressions; and no held-out template.
    func testHeldOutPairsAndTemplatesNeverOutsideOOD() throws {
        let g = SampleGenerator(seed: 21)
        for (split, n) in [(Split.train, 1500), (.val, 300), (.testID, 300)] {
            for i in 0..<n {
                let s = g.sample(split: split, index: i)
                func noHeld(_ pairs: [ColorShape], _ what: String) {
                    XCTAssertFalse(pairs.contains { $0.isHeldOut }, "\(split) \(i) \(what): \(pairs)")
                }
                noHeld(s.meaning.pairs, "meaning")
                noHeld(s.scene.objects.map(\.pair), "scene")
                let parsed = try CaptionParser.parseWithTemplate(s.caption)
                noHeld(parsed.meaning.pairs, "caption")
                XCTAssertFalse(parsed.template.heldOut, "\(split) \(i) template \(parsed.template.id)")
                for n in s.negatives {
                    noHeld(n.meaning.pairs, "negative meaning")
                    noHeld(n.scene.objects.map(\.pair), "negative image")
                    let np = try CaptionParser.parseWithTemplate(n.caption)
                    noHeld(np.meaning.pairs, "negative caption")
                    XCTAssertFalse(np.template.heldOut)
                }
                for e in s.expressions {
                    let words = e.text.split(separator: " ").map(String.init)
                    for k in 0..<(words.count - 1) {
                        if let c = ColorName(rawValue: words[k]), let sh = ShapeKind(rawValue: words[k + 1]) { noHeld([ColorShape(c, sh)], "expression") }
                    }
                }
            }
        }
    }

    func testEveryOODSampleHasAHeldOutPairAndHalfUseHeldOutTemplates() throws {
        let g = SampleGenerator(seed: 21)
        var heldTemplates = 0
        let n = 600
        for i in 0..<n {
            let s = g.sample(split: .testOOD, index: i)
            XCTAssertTrue(s.meaning.pairs.contains { $0.isHeldOut })
            XCTAssertTrue(s.scene.objects.contains { $0.pair.isHeldOut })
            if try CaptionParser.parseWithTemplate(s.caption).template.heldOut { heldTemplates += 1 }
        }
        XCTAssertEqual(Double(heldTemplates) / Double(n), 0.5, accuracy: 0.08)
    }

    func testCategoriesAreBalanced() {
        let g = SampleGenerator(seed: 2)
        var counts: [Category: Int] = [:]
        for i in 0..<1400 { counts[g.positive(split: .train, index: i).meaning.category, default: 0] += 1 }
        for c in Category.allCases { XCTAssertEqual(Double(counts[c] ?? 0), 200, accuracy: 60, "\(c)") }
    }
}

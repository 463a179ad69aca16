import XCTest
import ShapesWorld

final class GrammarTests: XCTestCase {
    /// Every template, with many meanings of every category it can express: write, parse, compare.
    func testRoundTripOverEveryTemplate() throws {
        var r = WorldRandom(seed: 5, stream: 0, index: 0)
        var covered = Set<String>()
        for t in Grammar.allTemplates {
            for cat in Category.allCases {
                for _ in 0..<12 {
                    var m = SampleGenerator.randomMeaning(category: cat, split: r.chance(0.5) ? .train : .testOOD, rng: &r)
                    guard FrameKind.of(m) == t.frame.kind else { break }
                    if let p = t.phrase { m.relation!.predicate = p.predicate }
                    let text = try Grammar.write(m, template: t)
                    let parsed = try CaptionParser.parseWithTemplate(text)
                    XCTAssertEqual(parsed.meaning, m, text)
                    XCTAssertEqual(parsed.template.id, t.id, text)
                    XCTAssertEqual(parsed.meaning.category, cat, text)
                    covered.insert(t.id)
                }
            }
        }
        XCTAssertEqual(covered.count, Grammar.allTemplates.count)
        XCTAssertEqual(Grammar.allTemplates.count, 5 + 5 + 4 * 12)
    }

    func testHandWrittenCaptions() throws {
        XCTAssertEqual(try CaptionParser.parse("two red circles above a blue square"),
                       Meaning(objects: [ObjectSpec(count: 2, color: .red, shape: .circle), ObjectSpec(color: .blue, shape: .square)],
                               relation: Relation(subject: 0, predicate: .above, object: 1)))
        XCTAssertEqual(try CaptionParser.parse("A small green square and a large yellow circle."),
                       Meaning(objects: [ObjectSpec(color: .green, shape: .square, size: .small), ObjectSpec(color: .yellow, shape: .circle, size: .large)]))
        XCTAssertEqual(try CaptionParser.parse("there are three green triangles").category, .counting)
        XCTAssertEqual(try CaptionParser.parse("a red circle left of a blue square").relation?.predicate, .leftOf)
        XCTAssertEqual(try CaptionParser.parse("a white cross beneath three small cyan crosses").objects[1],
                       ObjectSpec(count: 3, color: .cyan, shape: .cross, size: .small))
        XCTAssertEqual(try CaptionParser.parse("an image of a large red circle").category, .single)
        XCTAssertEqual(try CaptionParser.parse("a red circle and a red square").category, .shapeBinding)
        XCTAssertEqual(try CaptionParser.parse("a red circle and a blue square").category, .colorBinding)
    }

    func testRejectionsNameTheWord() {
        func message(_ s: String) -> String {
            do { _ = try CaptionParser.parse(s); return "parsed" } catch { return "\(error)" }
        }
        XCTAssertTrue(message("a red circle and a blue banana").contains("word 7 \"banana\""), message("a red circle and a blue banana"))
        XCTAssertTrue(message("a red circles").contains("\"circles\""))
        XCTAssertTrue(message("two red circle").contains("\"circle\""))
        XCTAssertTrue(message("a crimson circle").contains("\"crimson\""))
        XCTAssertTrue(message("a red circle near a blue square").contains("\"near\""))
        XCTAssertTrue(message("a red circle to the").contains("ends early"))
        XCTAssertTrue(message("").contains("empty"))
        XCTAssertTrue(message("a red circle and a red circle").contains("named twice"))
        XCTAssertTrue(message("three red circles above two blue squares").contains("at most 4"))
        XCTAssertTrue(message("a red circle blue").contains("word 4 \"blue\""))
    }

    func testWriteRejectsMismatchedTemplate() {
        let m = Meaning(objects: [ObjectSpec(color: .red, shape: .circle)])
        XCTAssertThrowsError(try Grammar.write(m, template: Grammar.template(id: "pair.and")!))
        let rel = Meaning(objects: [ObjectSpec(color: .red, shape: .circle), ObjectSpec(color: .blue, shape: .cross)],
                          relation: Relation(subject: 0, predicate: .above, object: 1))
        XCTAssertThrowsError(try Grammar.write(rel, template: Grammar.template(id: "rel.plain+left.1")!))
        XCTAssertEqual(try Grammar.write(rel, template: Grammar.template(id: "rel.be+above.2")!), "a red circle is over a blue cross")
    }

    /// Each kind of frame and each predicate keeps at least two training phrasings and one held-out phrasing.
    func testParaphrasesAndHeldOutTemplates() {
        for k in FrameKind.allCases {
            let fs = Grammar.frames.filter { $0.kind == k }
            XCTAssertGreaterThanOrEqual(fs.filter { !$0.heldOut }.count, 3)
            XCTAssertGreaterThanOrEqual(fs.filter(\.heldOut).count, 1)
        }
        for p in SpatialPredicate.allCases {
            let ps = Grammar.phrases.filter { $0.predicate == p }
            XCTAssertGreaterThanOrEqual(ps.filter { !$0.heldOut }.count, 2)
            XCTAssertEqual(ps.filter(\.heldOut).count, 1)
        }
    }
}

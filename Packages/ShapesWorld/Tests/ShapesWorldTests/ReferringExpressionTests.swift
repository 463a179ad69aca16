import XCTest
import ShapesWorld

final class ReferringExpressionTests: XCTestCase {
    /// Independent resolver: the objects an expression could denote. Returns nil for an ambiguous positional phrase.
    func resolve(_ text: String, _ s: Scene) -> [Int] {
        var w = text.split(separator: " ").map(String.init)
        XCTAssertEqual(w.first, "the")
        w.removeFirst()
        var side: String? = nil
        if let f = w.first, f == "left" || f == "right" { side = f; w.removeFirst() }
        if let l = w.last, l == "above" || l == "below" { side = l; w.removeLast() }
        var comparative: String? = nil
        if let f = w.first, f == "large" || f == "small" { comparative = f; w.removeFirst() }
        var cands = Array(s.objects.indices)
        for word in w {
            if let c = ColorName(rawValue: word) { cands = cands.filter { s.objects[$0].color == c } }
            else if let sh = ShapeKind(rawValue: word) { cands = cands.filter { s.objects[$0].shape == sh } }
            else { XCTFail("unexpected word \(word) in \(text)") }
        }
        if let c = comparative {
            guard cands.count == 2 else { return cands }
            let r = cands.map { s.objects[$0].radius }
            if r[0] == r[1] { return cands }
            return [c == "large" ? (r[0] > r[1] ? cands[0] : cands[1]) : (r[0] < r[1] ? cands[0] : cands[1])]
        }
        if let side = side {
            let key: (Int) -> Double = { side == "left" || side == "right" ? s.objects[$0].x : s.objects[$0].y }
            let sorted = cands.sorted { key($0) < key($1) }
            guard sorted.count >= 2 else { return cands }
            let pick = side == "left" || side == "above" ? sorted.first! : sorted.last!
            let next = side == "left" || side == "above" ? sorted[1] : sorted[sorted.count - 2]
            return abs(key(pick) - key(next)) > 1.0 ? [pick] : cands
        }
        return cands
    }

    func testExpressionsPickExactlyTheirReferent() {
        let g = SampleGenerator(seed: 31)
        var forms: Set<String> = []
        var referred = 0, objects = 0
        for cat in Category.allCases {
            for i in 0..<150 {
                let s = g.sample(split: .train, index: i, category: cat)
                objects += s.scene.objects.count
                referred += Set(s.expressions.map(\.object)).count
                for e in s.expressions {
                    forms.insert(e.form)
                    XCTAssertEqual(resolve(e.text, s.scene), [e.object], e.text)
                    XCTAssertEqual(e.box, s.scene.box(e.object))
                    let words = e.text.split(separator: " ").map(String.init)
                    let o = s.scene.objects[e.object]
                    XCTAssertTrue(e.wordIndices.contains { words[$0] == o.shape.word || words[$0] == o.color.word }, e.text)
                    XCTAssertFalse(e.wordIndices.contains(0))
                    for (k, r) in zip(e.wordIndices, e.charRanges) {
                        let chars = Array(e.text)
                        XCTAssertEqual(String(chars[r[0]..<r[1]]), words[k])
                    }
                }
            }
        }
        XCTAssertEqual(forms, ["color_shape", "color", "shape", "size", "horizontal", "vertical", "color_shape_horizontal", "color_shape_vertical"])
        XCTAssertGreaterThan(Double(referred) / Double(objects), 0.9)
    }

    func testBoxOfKnownObject() {
        let cfg = WorldConfig.standard
        let s = Scene(config: cfg, objects: [SceneObject(shape: .square, color: .red, size: .large, x: 10, y: 20, radius: 6),
                                             SceneObject(shape: .square, color: .blue, size: .small, x: 24, y: 8, radius: 3.5)])
        let ex = ReferringExpressions.make(for: s)
        let larger = ex.first { $0.text == "the large square" }!
        XCTAssertEqual(larger.object, 0)
        XCTAssertEqual(larger.box, Box(cx: 10.0 / 32, cy: 20.0 / 32, w: 12.0 / 32, h: 12.0 / 32))
        XCTAssertEqual(larger.wordIndices, [1, 2])
        XCTAssertEqual(larger.charRanges, [[4, 9], [10, 16]])
        XCTAssertTrue(ex.contains { $0.text == "the blue" && $0.object == 1 })
        XCTAssertTrue(ex.contains { $0.text == "the left square" && $0.object == 0 })
        XCTAssertTrue(ex.contains { $0.text == "the square above" && $0.object == 1 })
        XCTAssertFalse(ex.contains { $0.text == "the square" })
    }

    /// Every word of every referring expression is a word the captions use: a text encoder trained on captions
    /// (the bundled model's) has seen them all.
    func testExpressionWordsAreCaptionWords() {
        let g = SampleGenerator(seed: 5)
        var captionWords = Set<String>(), expressionWords: [String: String] = [:]
        for cat in Category.allCases {
            for i in 0..<300 {
                let s = g.sample(split: .train, index: i, category: cat)
                for w in ([s.caption] + s.negatives.map(\.caption)).flatMap({ $0.split(separator: " ") }) { captionWords.insert(String(w)) }
                for e in s.expressions { for w in e.text.split(separator: " ") { expressionWords[String(w)] = e.text } }
            }
        }
        for (w, example) in expressionWords.sorted(by: { $0.key < $1.key }) {
            XCTAssertTrue(captionWords.contains(w), "'\(w)' (in '\(example)') is no caption word")
        }
    }
}

/// Referring expressions: every phrasing, among a fixed set of forms, that picks out exactly one object of a scene.
///
/// Forms, in the captions' own words (a text encoder trained on captions has seen every word): "the red circle"
/// (unique colour-shape pair), "the blue" (unique colour), "the circle" (unique shape), "the large square" / "the
/// small square" (exactly two squares, different sizes), "the left|right circle" and "the triangle above|below" (the
/// extreme object of its shape, ahead of the next by the generation margin), and "the left|right red circle" /
/// "the red circle above|below" for repeated pairs.
public enum ReferringExpressions {
    public static func make(for scene: Scene) -> [ReferringExpression] {
        let objs = scene.objects
        var out: [ReferringExpression] = []
        let margin = scene.config.generateMarginPixels * 0.7
        for (i, o) in objs.enumerated() {
            let samePair = objs.indices.filter { objs[$0].pair == o.pair }
            let sameColor = objs.indices.filter { objs[$0].color == o.color }
            let sameShape = objs.indices.filter { objs[$0].shape == o.shape }
            func add(_ words: [String], _ named: [Int], _ form: String) {
                out.append(expression(words, named, object: i, box: scene.box(i), form: form))
            }
            if samePair.count == 1 { add(["the", o.color.word, o.shape.word], [1, 2], "color_shape") }
            if sameColor.count == 1 { add(["the", o.color.word], [1], "color") }
            if sameShape.count == 1 { add(["the", o.shape.word], [1], "shape") }
            if sameShape.count == 2 {
                let other = objs[sameShape.first { $0 != i }!]
                if other.size != o.size { add(["the", o.size.word, o.shape.word], [1, 2], "size") }
            }
            if sameShape.count >= 2 {
                if let side = extreme(i, among: sameShape, objs, horizontal: true, margin: margin) {
                    add(["the", side, o.shape.word], [1, 2], "horizontal")
                }
                if let side = extreme(i, among: sameShape, objs, horizontal: false, margin: margin) {
                    add(["the", o.shape.word, side], [1, 2], "vertical")
                }
            }
            if samePair.count >= 2 {
                if let side = extreme(i, among: samePair, objs, horizontal: true, margin: margin) {
                    add(["the", side, o.color.word, o.shape.word], [1, 2, 3], "color_shape_horizontal")
                }
                if let side = extreme(i, among: samePair, objs, horizontal: false, margin: margin) {
                    add(["the", o.color.word, o.shape.word, side], [1, 2, 3], "color_shape_vertical")
                }
            }
        }
        return out
    }

    /// "left"/"right" (or "above"/"below": image y grows downwards) when object i is the extreme of the group by at
    /// least `margin`.
    static func extreme(_ i: Int, among group: [Int], _ objs: [SceneObject], horizontal: Bool, margin: Double) -> String? {
        let v = { (k: Int) in horizontal ? objs[k].x : objs[k].y }
        let others = group.filter { $0 != i }.map(v)
        if others.allSatisfy({ v(i) + margin < $0 }) { return horizontal ? "left" : "above" }
        if others.allSatisfy({ v(i) > $0 + margin }) { return horizontal ? "right" : "below" }
        return nil
    }

    static func expression(_ words: [String], _ named: [Int], object: Int, box: Box, form: String) -> ReferringExpression {
        var ranges: [[Int]] = []
        var start = 0
        for (k, w) in words.enumerated() {
            if named.contains(k) { ranges.append([start, start + w.count]) }
            start += w.count + 1
        }
        return ReferringExpression(text: words.joined(separator: " "), object: object, box: box, wordIndices: named, charRanges: ranges, form: form)
    }
}

/// The caption grammar: sentence frames with noun-phrase and relation slots, and relation phrasings. A caption's
/// template is a frame plus (for relations) a phrasing; templates marked held out appear only in test-ood.
///
/// Noun phrase: `(a | an | two | three | four) [small | large] COLOUR SHAPE`, the shape plural after a number.

/// One token of a frame.
public enum FrameToken: Hashable, Sendable {
    case word(String)
    /// The noun phrase of object group 0 or 1.
    case np(Int)
    /// The relation phrase.
    case relation
    /// "is" / "are", agreeing with group 0 (the parser accepts either).
    case be
}

/// The shape of meanings a frame can express.
public enum FrameKind: String, Codable, Sendable, CaseIterable {
    case one          // one group: single, counting
    case pair         // two groups, no relation: the binding categories
    case relational   // two groups and a relation: spatial, complex

    public static func of(_ m: Meaning) -> FrameKind { m.relation != nil ? .relational : (m.objects.count == 1 ? .one : .pair) }
}

/// A sentence frame.
public struct Frame: Hashable, Sendable {
    public let id: String
    public let kind: FrameKind
    public let tokens: [FrameToken]
    public let heldOut: Bool
}

/// A way to say a predicate ("to the left of").
public struct RelationPhrase: Hashable, Sendable {
    public let id: String
    public let predicate: SpatialPredicate
    public let words: [String]
    public let heldOut: Bool
}

/// A caption template: a frame and, for relational frames, a phrasing.
public struct Template: Hashable, Sendable, CustomStringConvertible {
    public let frame: Frame
    public let phrase: RelationPhrase?
    public var id: String { phrase.map { "\(frame.id)+\($0.id)" } ?? frame.id }
    public var heldOut: Bool { frame.heldOut || (phrase?.heldOut ?? false) }
    public var description: String { id }
}

public enum Grammar {
    private static func f(_ id: String, _ kind: FrameKind, _ spec: String, heldOut: Bool = false) -> Frame {
        let tokens: [FrameToken] = spec.split(separator: " ").map { w in
            switch w {
            case "{A}": return .np(0)
            case "{B}": return .np(1)
            case "{R}": return .relation
            case "{be}": return .be
            default: return .word(String(w))
            }
        }
        return Frame(id: id, kind: kind, tokens: tokens, heldOut: heldOut)
    }

    /// Every frame; the held-out ones are used only by test-ood and the `ood` prompt suite.
    public static let frames: [Frame] = [
        f("one.plain", .one, "{A}"),
        f("one.image", .one, "an image of {A}"),
        f("one.there", .one, "there {be} {A}"),
        f("one.picture", .one, "a picture of {A}"),
        f("one.scene", .one, "a scene showing {A}", heldOut: true),
        f("pair.and", .pair, "{A} and {B}"),
        f("pair.image", .pair, "an image of {A} and {B}"),
        f("pair.together", .pair, "{A} together with {B}"),
        f("pair.there", .pair, "there {be} {A} and {B}"),
        f("pair.aswell", .pair, "{A} as well as {B}", heldOut: true),
        f("rel.plain", .relational, "{A} {R} {B}"),
        f("rel.be", .relational, "{A} {be} {R} {B}"),
        f("rel.image", .relational, "an image of {A} {R} {B}"),
        f("rel.there", .relational, "there {be} {A} {R} {B}", heldOut: true),
    ]

    private static func p(_ id: String, _ pred: SpatialPredicate, _ words: String, heldOut: Bool = false) -> RelationPhrase {
        RelationPhrase(id: id, predicate: pred, words: words.split(separator: " ").map(String.init), heldOut: heldOut)
    }

    /// Every relation phrasing; one per predicate is held out.
    public static let phrases: [RelationPhrase] = [
        p("left.1", .leftOf, "to the left of"), p("left.2", .leftOf, "left of"),
        p("left.3", .leftOf, "on the left side of", heldOut: true),
        p("right.1", .rightOf, "to the right of"), p("right.2", .rightOf, "right of"),
        p("right.3", .rightOf, "on the right side of", heldOut: true),
        p("above.1", .above, "above"), p("above.2", .above, "over"),
        p("above.3", .above, "higher than", heldOut: true),
        p("below.1", .below, "below"), p("below.2", .below, "under"),
        p("below.3", .below, "beneath", heldOut: true),
    ]

    /// All templates for meanings of this kind with this predicate (nil for non-relational kinds).
    public static func templates(kind: FrameKind, predicate: SpatialPredicate?) -> [Template] {
        let fs = frames.filter { $0.kind == kind }
        guard kind == .relational else { return fs.map { Template(frame: $0, phrase: nil) } }
        let ps = phrases.filter { predicate == nil || $0.predicate == predicate! }
        return fs.flatMap { fr in ps.map { Template(frame: fr, phrase: $0) } }
    }

    /// Every template of the grammar.
    public static var allTemplates: [Template] {
        templates(kind: .one, predicate: nil) + templates(kind: .pair, predicate: nil) + templates(kind: .relational, predicate: nil)
    }

    public static let numberWords = ["two": 2, "three": 3, "four": 4]
    static func countWord(_ n: Int) -> String { ["", "a", "two", "three", "four"][n] }

    /// The template with this id, if any.
    public static func template(id: String) -> Template? { allTemplates.first { $0.id == id } }

    // MARK: writing

    /// The noun phrase of a group: "a large red circle", "three green triangles".
    public static func nounPhrase(_ o: ObjectSpec) -> [String] {
        var words: [String] = []
        if let s = o.size { words.append(s.word) }
        words.append(o.color.word)
        words.append(o.count == 1 ? o.shape.word : o.shape.plural)
        if o.count == 1 {
            let vowel = "aeiou".contains(words[0].first!)
            return [vowel ? "an" : "a"] + words
        }
        return [countWord(o.count)] + words
    }

    /// The caption of a meaning in a template (the template must fit: same kind, same predicate).
    public static func write(_ m: Meaning, template t: Template) throws -> String {
        guard t.frame.kind == FrameKind.of(m) else {
            throw WorldError.invalidMeaning("template \(t.id) is for \(t.frame.kind.rawValue) meanings, not \(FrameKind.of(m).rawValue)")
        }
        if let r = m.relation, t.phrase?.predicate != r.predicate {
            throw WorldError.invalidMeaning("template \(t.id) does not say \(r.predicate.rawValue)")
        }
        // Relational frames put the subject first.
        let order: [Int]
        if let r = m.relation { order = [r.subject, r.object] } else { order = Array(m.objects.indices) }
        var words: [String] = []
        for tok in t.frame.tokens {
            switch tok {
            case .word(let w): words.append(w)
            case .np(let i): words += nounPhrase(m.objects[order[i]])
            case .relation: words += t.phrase!.words
            case .be: words.append(m.objects[order[0]].count == 1 ? "is" : "are")
            }
        }
        return words.joined(separator: " ")
    }
}

/// Parses captions of the grammar back into meanings; rejects anything else, naming the first word it could not place.
public enum CaptionParser {
    /// A parsed caption: its meaning and the template it was said in.
    public struct Parse: Hashable, Sendable {
        public var meaning: Meaning
        public var template: Template
    }

    /// Lower-cased words, with the punctuation . , ! ? ; : dropped.
    public static func words(_ text: String) -> [String] {
        let cleaned = text.lowercased().map { ".,!?;:".contains($0) ? " " : $0 }
        return String(cleaned).split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" }).map(String.init)
    }

    /// The meaning of a caption; throws `WorldError.parse` naming the first word no template could place.
    public static func parse(_ text: String) throws -> Meaning { try parseWithTemplate(text).meaning }

    /// The meaning of a caption and the template that produced it.
    public static func parseWithTemplate(_ text: String) throws -> Parse {
        let w = words(text)
        guard !w.isEmpty else { throw WorldError.parse(text: text, message: "empty caption") }
        var failure = Failure()
        for t in Grammar.frames {
            var state = MatchState()
            if match(t.tokens, 0, 0, w, &state, &failure) {
                var groups = state.groups.compactMap { $0 }
                let meaning: Meaning
                if t.kind == .relational {
                    meaning = Meaning(objects: groups, relation: Relation(subject: 0, predicate: state.phrase!.predicate, object: 1))
                } else {
                    if t.kind == .one { groups = [groups[0]] }
                    meaning = Meaning(objects: groups)
                }
                do { try meaning.validate() } catch let e as WorldError {
                    throw WorldError.parse(text: text, message: "\(e)")
                }
                return Parse(meaning: meaning, template: Template(frame: t, phrase: state.phrase))
            }
        }
        let expected = failure.expected.sorted().joined(separator: ", ")
        if failure.position >= w.count {
            throw WorldError.parse(text: text, message: "caption ends early; expected one of: \(expected)")
        }
        throw WorldError.parse(text: text, message: "could not place word \(failure.position + 1) \"\(w[failure.position])\"; expected one of: \(expected)")
    }

    struct Failure {
        var position = -1
        var expected: Set<String> = []
        mutating func note(_ pos: Int, _ exp: [String]) {
            if pos > position { position = pos; expected = Set(exp) } else if pos == position { expected.formUnion(exp) }
        }
    }

    struct MatchState {
        var groups: [ObjectSpec?] = [nil, nil]
        var phrase: RelationPhrase?
    }

    static let determiners = ["a": 1, "an": 1, "two": 2, "three": 3, "four": 4]

    /// Matches frame tokens from index `ti` against words from `pos`, backtracking over relation phrasings.
    static func match(_ toks: [FrameToken], _ ti: Int, _ pos: Int, _ w: [String], _ st: inout MatchState, _ fail: inout Failure) -> Bool {
        if ti == toks.count {
            if pos == w.count { return true }
            fail.note(pos, ["end of caption"])
            return false
        }
        switch toks[ti] {
        case .word(let x):
            guard pos < w.count, w[pos] == x else { fail.note(pos, [x]); return false }
            return match(toks, ti + 1, pos + 1, w, &st, &fail)
        case .be:
            guard pos < w.count, w[pos] == "is" || w[pos] == "are" else { fail.note(pos, ["is", "are"]); return false }
            return match(toks, ti + 1, pos + 1, w, &st, &fail)
        case .np(let g):
            guard let (spec, next) = nounPhrase(w, pos, &fail) else { return false }
            let saved = st.groups[g]
            st.groups[g] = spec
            if match(toks, ti + 1, next, w, &st, &fail) { return true }
            st.groups[g] = saved
            return false
        case .relation:
            for ph in Grammar.phrases {
                var k = 0
                while k < ph.words.count, pos + k < w.count, w[pos + k] == ph.words[k] { k += 1 }
                if k < ph.words.count { fail.note(pos + k, [ph.words[k]]); continue }
                st.phrase = ph
                if match(toks, ti + 1, pos + k, w, &st, &fail) { return true }
                st.phrase = nil
            }
            return false
        }
    }

    /// `(a|an|two|three|four) [small|large] COLOUR SHAPE(S)`.
    static func nounPhrase(_ w: [String], _ start: Int, _ fail: inout Failure) -> (ObjectSpec, Int)? {
        var pos = start
        guard pos < w.count, let count = determiners[w[pos]] else {
            fail.note(pos, Array(determiners.keys)); return nil
        }
        pos += 1
        var size: SizeClass? = nil
        if pos < w.count, let s = SizeClass(rawValue: w[pos]) { size = s; pos += 1 }
        guard pos < w.count, let color = ColorName(rawValue: w[pos]) else {
            fail.note(pos, ColorName.allCases.map(\.word) + (size == nil ? SizeClass.allCases.map(\.word) : [])); return nil
        }
        pos += 1
        let forms = ShapeKind.allCases.map { count == 1 ? $0.word : $0.plural }
        guard pos < w.count, let i = forms.firstIndex(of: w[pos]) else { fail.note(pos, forms); return nil }
        return (ObjectSpec(count: count, color: color, shape: ShapeKind.allCases[i], size: size), pos + 1)
    }
}

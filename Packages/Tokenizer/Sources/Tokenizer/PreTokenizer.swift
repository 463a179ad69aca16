/// CLIP's pre-tokenisation pattern, implemented by hand with Unicode general categories:
/// `special|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+`, scanned left to right like `re.findall`
/// (the first alternative that matches at a position wins; positions where none matches, i.e. white space, are skipped).
struct PreTokenizer: Sendable {
    /// One match: the scalar range, and the index into `patternSpecials` when the special alternative matched.
    struct Piece {
        var start: Int
        var end: Int
        var special: Int  // -1 when not a special alternative
    }

    /// The literal alternatives tried first (e.g. "<start_of_text>", "<end_of_text>"), as code points.
    let patternSpecials: [[UInt32]]
    /// `re.IGNORECASE` (open_clip): ASCII literals also match their upper case, U+017F (for s) and U+212A (for k).
    let caseInsensitive: Bool

    private static let contractions: [[UInt32]] = ["s", "t", "re", "ve", "m", "ll", "d"].map { $0.unicodeScalars.map(\.value) }

    init(patternSpecials: [String], caseInsensitive: Bool) {
        self.patternSpecials = patternSpecials.map { $0.unicodeScalars.map(\.value) }
        self.caseInsensitive = caseInsensitive
    }

    @inline(__always)
    private func matches(_ literal: [UInt32], in text: UnsafeBufferPointer<Unicode.Scalar>, at i: Int) -> Bool {
        if i + literal.count > text.count { return false }
        for k in 0..<literal.count {
            let c = text[i + k].value
            if c == literal[k] { continue }
            if caseInsensitive && UnicodeClasses.foldForASCII(c) == UnicodeClasses.foldForASCII(literal[k]) { continue }
            return false
        }
        return true
    }

    /// Appends the pieces of `text` to `pieces`.
    func split(_ text: UnsafeBufferPointer<Unicode.Scalar>, into pieces: inout [Piece]) {
        let n = text.count
        var i = 0
        scan: while i < n {
            let kind = UnicodeClasses.kind(text[i])
            if kind == .space { i += 1; continue }
            for (index, literal) in patternSpecials.enumerated() where matches(literal, in: text, at: i) {
                pieces.append(Piece(start: i, end: i + literal.count, special: index))
                i += literal.count
                continue scan
            }
            if text[i] == "'" {
                for c in Self.contractions where matches(c, in: text, at: i + 1) {
                    pieces.append(Piece(start: i, end: i + 1 + c.count, special: -1))
                    i += 1 + c.count
                    continue scan
                }
            }
            var j = i + 1
            switch kind {
            case .letter:
                while j < n, UnicodeClasses.kind(text[j]) == .letter { j += 1 }
            case .number:
                break
            default:
                while j < n, UnicodeClasses.kind(text[j]) == .other { j += 1 }
            }
            pieces.append(Piece(start: i, end: j, special: -1))
            i = j
        }
    }
}

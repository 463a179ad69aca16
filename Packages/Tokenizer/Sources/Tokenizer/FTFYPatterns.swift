/// ftfy's regular expressions as alternatives of fixed-length atom sequences, matched leftmost-first as Python's `re`
/// does (at each position the first alternative that matches wins). Generated from Python's own parse of the
/// patterns (`CleaningTables`), so the classes are exact.
struct FTFYPattern {
    enum Atom {
        case inClass(Int)
        case notInClass(Int)
        /// Python `\s` (`str.isspace()`).
        case space
        /// Python `\w` (`str.isalnum()` or '_').
        case word
        /// `.`: anything but '\n'.
        case anyButNewline
        /// `^`: the start of the text.
        case start
    }

    /// A set of code points (or bytes): a bitmap below 256, ranges above.
    struct CharClass {
        var low = [UInt64](repeating: 0, count: 4)
        var high = [ClosedRange<UInt32>]()

        @inline(__always) func contains(_ v: UInt32) -> Bool {
            if v < 256 { return low[Int(v >> 6)] & (1 << UInt64(v & 63)) != 0 }
            for r in high where r.contains(v) { return true }
            return false
        }
    }

    static let classes: [CharClass] = CleaningTables.patternClasses.split(separator: "\n").map { line in
        var c = CharClass()
        for item in line.split(separator: " ") {
            let bounds = item.split(separator: "-").map { UInt32($0, radix: 16)! }
            let range = bounds[0]...bounds[bounds.count - 1]
            if range.lowerBound < 256 {
                for v in range.lowerBound...min(range.upperBound, 255) { c.low[Int(v >> 6)] |= 1 << UInt64(v & 63) }
            }
            if range.upperBound >= 256 { c.high.append(max(range.lowerBound, 256)...range.upperBound) }
        }
        return c
    }

    static func atom(_ token: Substring) -> Atom {
        switch token {
        case "s": return .space
        case "w": return .word
        case ".": return .anyButNewline
        case "^": return .start
        default:
            let id = Int(token.dropFirst())!
            return token.first == "!" ? .notInClass(id) : .inClass(id)
        }
    }

    let alternatives: [[Atom]]

    init(_ table: String) {
        alternatives = table.split(separator: "\n").map { $0.split(separator: " ").map(Self.atom) }
    }

    static let badness = FTFYPattern(CleaningTables.badnessPattern)
    static let alteredUTF8 = FTFYPattern(CleaningTables.alteredUTF8Pattern)
    static let lossyUTF8 = FTFYPattern(CleaningTables.lossyUTF8Pattern)

    /// The `UTF8_CLUES` classes of `UTF8_DETECTOR_RE`, by name.
    static let utf8Clues: [String: CharClass] = {
        var clues = [String: CharClass]()
        for line in CleaningTables.utf8Clues.split(separator: "\n") {
            let parts = line.split(separator: "\t")
            guard case let .inClass(id) = atom(parts[1]) else { fatalError("UTF8_CLUES class \(parts[0]) is negated") }
            clues[String(parts[0])] = classes[id]
        }
        return clues
    }()

    @inline(__always) static func isPythonWord(_ v: UInt32) -> Bool {
        if v < 0x80 {
            return (v >= 0x30 && v <= 0x39) || (v >= 0x41 && v <= 0x5A) || (v >= 0x61 && v <= 0x7A) || v == 0x5F
        }
        guard let s = Unicode.Scalar(v) else { return false }
        switch s.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: return true
        default: return s.properties.numericType != nil
        }
    }

    /// Which classes a code point belongs to, one bit per class (there are fewer than 128).
    struct Membership {
        var bits: (UInt64, UInt64) = (0, 0)
        @inline(__always) func contains(_ k: Int) -> Bool { k < 64 ? bits.0 >> UInt64(k) & 1 != 0 : bits.1 >> UInt64(k - 64) & 1 != 0 }
        mutating func insert(_ k: Int) { if k < 64 { bits.0 |= 1 << UInt64(k) } else { bits.1 |= 1 << UInt64(k - 64) } }
    }

    /// Memberships below 256 by value, above by dictionary (every class is a short list of small ranges).
    static let membershipTables: ([Membership], [UInt32: Membership]) = {
        precondition(classes.count <= 128, "more pattern classes than membership bits")
        var low = [Membership](repeating: Membership(), count: 256)
        var high = [UInt32: Membership]()
        for (k, c) in classes.enumerated() {
            for v in 0..<256 where c.contains(UInt32(v)) { low[v].insert(k) }
            for r in c.high { for v in r { high[v, default: Membership()].insert(k) } }
        }
        return (low, high)
    }()

    @inline(__always) static func membership(_ v: UInt32) -> Membership {
        v < 256 ? membershipTables.0[Int(v)] : membershipTables.1[v] ?? Membership()
    }

    @inline(__always) static func matches(_ atom: Atom, _ text: [UInt32], _ masks: [Membership], _ i: Int) -> Bool {
        if case .start = atom { return i == 0 }
        guard i < text.count else { return false }
        switch atom {
        case let .inClass(k): return masks[i].contains(k)
        case let .notInClass(k): return !masks[i].contains(k)
        case .space: return UnicodeClasses.isPythonSpace(text[i])
        case .word: return isPythonWord(text[i])
        case .anyButNewline: return text[i] != 0x0A
        case .start: return i == 0
        }
    }

    /// Length of the first alternative that matches at `position`, or nil.
    func matchLength(_ text: [UInt32], _ masks: [Membership], at position: Int) -> Int? {
        alternatives: for alternative in alternatives {
            var i = position
            for atom in alternative {
                guard Self.matches(atom, text, masks, i) else { continue alternatives }
                if case .start = atom { continue }
                i += 1
            }
            return i - position
        }
        return nil
    }

    /// Python `pattern.search(text) is not None`.
    func occurs(in text: [UInt32]) -> Bool {
        let masks = text.map(Self.membership)
        for p in 0..<text.count where matchLength(text, masks, at: p) != nil { return true }
        return false
    }

    /// Python `pattern.sub(replace, text)`: non-overlapping matches left to right (none of these patterns can match
    /// the empty string).
    func substitute(_ text: [UInt32], _ replace: (ArraySlice<UInt32>) -> [UInt32]) -> [UInt32] {
        let masks = text.map(Self.membership)
        var out = [UInt32]()
        out.reserveCapacity(text.count)
        var p = 0
        while p < text.count {
            if let n = matchLength(text, masks, at: p), n > 0 {
                out.append(contentsOf: replace(text[p..<(p + n)]))
                p += n
            } else {
                out.append(text[p])
                p += 1
            }
        }
        return out
    }
}

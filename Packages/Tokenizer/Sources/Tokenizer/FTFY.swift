/// ftfy 6.3.1 `fix_text` with its default configuration (what open_clip's `basic_clean` runs first), on Unicode
/// scalars: mojibake repair included (`fix_encoding` with restore_byte_a0, replace_lossy_sequences,
/// decode_inconsistent_utf8 and its badness heuristic), in ftfy's order and to ftfy's fixed points.
public enum FTFY {
    /// ftfy `fix_text(text)`: fixed in line segments (at most 1,000,000 scalars each); HTML entities are unescaped
    /// ("auto") until a segment containing '<' is met, then never again (ftfy's own rule).
    /// - Parameter fixEncoding: false gives `fix_text(text, fix_encoding=False)` (ftfy without its mojibake repair).
    public static func fixText(_ text: [Unicode.Scalar], fixEncoding: Bool = true) -> [Unicode.Scalar] {
        var out = [Unicode.Scalar]()
        out.reserveCapacity(text.count)
        var unescape = true
        var pos = 0
        let maxDecodeLength = 1_000_000
        while pos < text.count {
            var end = pos
            while end < text.count, text[end] != "\n" { end += 1 }
            end = end < text.count ? end + 1 : text.count
            if end - pos > maxDecodeLength { end = pos + maxDecodeLength }
            let segment = Array(text[pos..<end])
            if unescape && segment.contains("<") { unescape = false }
            out.append(contentsOf: fixSegment(segment, unescapeHTML: unescape, fixEncoding: fixEncoding))
            pos = end
        }
        return out
    }

    /// `fixText` on a `String`.
    public static func fixText(_ text: String, fixEncoding: Bool = true) -> String {
        string(fixText(Array(text.unicodeScalars), fixEncoding: fixEncoding))
    }

    /// ftfy `fix_encoding(text)`: the mojibake repair alone, repeated until the text stops changing.
    public static func fixEncoding(_ text: String) -> String {
        string(scalars(fixEncoding(text.unicodeScalars.map(\.value))))
    }

    /// ftfy `badness.is_bad(text)`: whether the text contains a character sequence typical of mojibake.
    public static func isBad(_ text: String) -> Bool {
        FTFYPattern.badness.occurs(in: text.unicodeScalars.map(\.value))
    }

    /// ftfy `fix_and_explain` on one segment: the fixes in ftfy's order, repeated until nothing changes.
    static func fixSegment(_ text: [Unicode.Scalar], unescapeHTML: Bool, fixEncoding encoding: Bool) -> [Unicode.Scalar] {
        var t = text
        while true {
            let original = t
            if unescapeHTML { t = HTMLEntities.ftfyUnescape(t) }
            if encoding { t = scalars(fixEncoding(t.map(\.value))) }
            t = translate(t)
            // fix_surrogates: a Swift string holds no surrogate code points, so there is nothing to pair or replace.
            t = removeTerminalEscapes(t)
            t = removeControlCharacters(t)
            t = TextNormalizer.nfc(t)
            if t == original { return t }
        }
    }

    // MARK: fix_encoding

    /// A single-byte codec of ftfy's `CHARMAP_ENCODINGS` (or strict windows-1252).
    struct Charmap {
        let name: String
        /// Byte -> code point; nil where the codec leaves the byte undefined.
        let decode: [UInt32?]
        let encode: [UInt32: UInt8]
        var isSloppy: Bool { name.hasPrefix("sloppy") }

        init(line: Substring) {
            let parts = line.split(separator: "\t")
            name = String(parts[0])
            decode = parts[1].split(separator: " ").map { $0 == "-1" ? nil : UInt32($0, radix: 16)! }
            var encode = [UInt32: UInt8]()
            for (byte, v) in decode.enumerated() { if let v { encode[v] = UInt8(byte) } }
            self.encode = encode
        }

        /// `text.encode(name)` when `possible_encoding(text, name)`, else nil. ftfy's test is "every character is one
        /// the codec decodes to", which is exactly the encoding table.
        func encodeIfPossible(_ text: [UInt32]) -> [UInt8]? {
            var out = [UInt8]()
            out.reserveCapacity(text.count)
            for v in text {
                guard let b = encode[v] else { return nil }
                out.append(b)
            }
            return out
        }
    }

    static let charmaps: [Charmap] = CleaningTables.charmapEncodings.split(separator: "\n").map(Charmap.init(line:))
    /// The ten codecs ftfy tries, in order (latin-1 first).
    static let trialCharmaps = Array(charmaps.filter { $0.name != "windows-1252" })
    static let strictWindows1252 = charmaps.first { $0.name == "windows-1252" }!

    static func fixEncoding(_ text: [UInt32]) -> [UInt32] {
        var t = text
        while true {
            let previous = t
            t = fixEncodingOneStep(t)
            if t == previous { return t }
        }
    }

    /// ftfy `_fix_encoding_one_step_and_explain` with the default configuration.
    static func fixEncodingOneStep(_ text: [UInt32]) -> [UInt32] {
        if text.isEmpty || !text.contains(where: { $0 >= 0x80 }) || !FTFYPattern.badness.occurs(in: text) { return text }
        var latin1Possible = false
        for codec in trialCharmaps {
            guard var bytes = codec.encodeIfPossible(text) else { continue }
            if codec.name == "latin-1" { latin1Possible = true }
            if codec.name != "macroman", FTFYPattern.alteredUTF8.occurs(in: bytes.map(UInt32.init)) {
                bytes = restoreByteA0(bytes)
            }
            if codec.isSloppy { bytes = replaceLossySequences(bytes) }
            if let fixed = decodeUTF8Variants(bytes) { return fixed }
        }
        if let fixed = decodeInconsistentUTF8(text), fixed != text { return fixed }
        // "latin-1" possible and "windows-1252" never in ftfy's list (it holds "sloppy-windows-1252"): the C1
        // characters are re-read as strict windows-1252, which fails on its five undefined bytes.
        if latin1Possible {
            var fixed = [UInt32]()
            fixed.reserveCapacity(text.count)
            var ok = true
            for v in text {
                guard let w = strictWindows1252.decode[Int(v)] else { ok = false; break }
                fixed.append(w)
            }
            if ok && fixed != text { return fixed }
        }
        if text.contains(where: { $0 >= 0x80 && $0 <= 0x9F }) {
            return text.map { v in v >= 0x80 && v <= 0x9F ? c1Map[v]![0].value : v }
        }
        return text
    }

    /// ftfy `restore_byte_a0`: "\xc3 " before most words becomes "\xc3\xa0 "; then spaces inside ALTERED_UTF8_RE
    /// matches become 0xA0.
    static func restoreByteA0(_ bytes: [UInt8]) -> [UInt8] {
        var step = [UInt32]()
        step.reserveCapacity(bytes.count + 8)
        let n = bytes.count
        var i = 0
        func follows(_ word: String, at k: Int) -> Bool {
            let w = Array(word.utf8)
            return k + w.count <= n && bytes[k..<(k + w.count)].elementsEqual(w)
        }
        while i < n {
            if bytes[i] == 0xC3, i + 1 < n, bytes[i + 1] == 0x20,
               !(follows(" ", at: i + 2) || follows("quele", at: i + 2) || follows("quela", at: i + 2)
                 || follows("quilo", at: i + 2) || follows("s ", at: i + 2)) {
                step.append(contentsOf: [0xC3, 0xA0, 0x20])
                i += 2
                continue
            }
            step.append(UInt32(bytes[i]))
            i += 1
        }
        let replaced = FTFYPattern.alteredUTF8.substitute(step) { match in match.map { $0 == 0x20 ? 0xA0 : $0 } }
        return replaced.map { UInt8($0) }
    }

    /// ftfy `replace_lossy_sequences`: UTF-8 sequences with bytes lost to 0x1A (or '?') become U+FFFD's UTF-8.
    static func replaceLossySequences(_ bytes: [UInt8]) -> [UInt8] {
        FTFYPattern.lossyUTF8.substitute(bytes.map(UInt32.init)) { _ in [0xEF, 0xBF, 0xBD] }.map { UInt8($0) }
    }

    /// ftfy's `utf-8-variants` codec with errors="strict": UTF-8, plus CESU-8 surrogate pairs and Java's 0xC0 0x80
    /// for U+0000, with the quirk of Python's `$` (also true before a final '\n'); nil where Python raises.
    static func decodeUTF8Variants(_ bytes: [UInt8]) -> [UInt32]? {
        let n = bytes.count
        @inline(__always) func atEnd(_ k: Int) -> Bool { k == n || (k == n - 1 && bytes[n - 1] == 0x0A) }
        @inline(__always) func within(_ k: Int, _ lo: UInt8, _ hi: UInt8) -> Bool { k < n && bytes[k] >= lo && bytes[k] <= hi }
        var out = [UInt32]()
        out.reserveCapacity(n)
        var i = 0
        while i < n {
            let b = bytes[i]
            if b < 0x80 { out.append(UInt32(b)); i += 1; continue }
            if b == 0xC0, within(i + 1, 0x80, 0x80) || atEnd(i + 1) {
                guard n - i > 1 else { return nil }
                out.append(0)
                i += 2
                continue
            }
            if b == 0xED, n - i >= 6, within(i + 1, 0xA0, 0xAF), within(i + 2, 0x80, 0xBF), bytes[i + 3] == 0xED,
               within(i + 4, 0xB0, 0xBF), within(i + 5, 0x80, 0xBF) || i + 5 == n - 1 && bytes[i + 5] == 0x0A {
                let cp = (UInt32(bytes[i + 1] & 0x0F) << 16) + (UInt32(bytes[i + 2] & 0x3F) << 10)
                    + (UInt32(bytes[i + 4] & 0x0F) << 6) + UInt32(bytes[i + 5] & 0x3F) + 0x10000
                out.append(cp)
                i += 6
                continue
            }
            // Strict UTF-8 (Python's decoder): shortest form, no surrogates, at most U+10FFFF.
            let length: Int, minimum: UInt32
            var cp: UInt32
            switch b {
            case 0xC2...0xDF: length = 2; cp = UInt32(b & 0x1F); minimum = 0x80
            case 0xE0...0xEF: length = 3; cp = UInt32(b & 0x0F); minimum = 0x800
            case 0xF0...0xF4: length = 4; cp = UInt32(b & 0x07); minimum = 0x10000
            default: return nil
            }
            guard i + length <= n else { return nil }
            for k in 1..<length {
                let c = bytes[i + k]
                guard c & 0xC0 == 0x80 else { return nil }
                cp = cp << 6 | UInt32(c & 0x3F)
            }
            guard cp >= minimum, cp <= 0x10FFFF, !(0xD800...0xDFFF).contains(cp) else { return nil }
            out.append(cp)
            i += length
        }
        return out
    }

    static let clueFirstOf2 = FTFYPattern.utf8Clues["utf8_first_of_2"]!
    static let clueFirstOf3 = FTFYPattern.utf8Clues["utf8_first_of_3"]!
    static let clueFirstOf4 = FTFYPattern.utf8Clues["utf8_first_of_4"]!
    static let clueContinuation = FTFYPattern.utf8Clues["utf8_continuation"]!
    static let clueContinuationStrict = FTFYPattern.utf8Clues["utf8_continuation_strict"]!

    /// Length of `UTF8_DETECTOR_RE`'s match at `p` (the lookbehind and the greedy `(...)+`), or 0.
    static func utf8DetectorMatch(_ text: [UInt32], at p: Int) -> Int {
        if p > 0, clueContinuationStrict.contains(text[p - 1]) { return 0 }
        let n = text.count
        func continuations(_ from: Int, _ count: Int) -> Bool {
            guard from + count <= n else { return false }
            for k in from..<(from + count) where !clueContinuation.contains(text[k]) { return false }
            return true
        }
        var q = p
        while q < n {
            let v = text[q]
            if clueFirstOf2.contains(v), continuations(q + 1, 1) { q += 2 }
            else if clueFirstOf3.contains(v), continuations(q + 1, 2) { q += 3 }
            else if clueFirstOf4.contains(v), continuations(q + 1, 3) { q += 4 }
            else { break }
        }
        return q - p
    }

    /// ftfy `decode_inconsistent_utf8`, or nil when `UTF8_DETECTOR_RE` does not occur: each detected run that is
    /// shorter than the text and `is_bad` is replaced by its own `fix_encoding`.
    static func decodeInconsistentUTF8(_ text: [UInt32]) -> [UInt32]? {
        var out = [UInt32]()
        var found = false
        var p = 0
        while p < text.count {
            let length = utf8DetectorMatch(text, at: p)
            if length == 0 { out.append(text[p]); p += 1; continue }
            found = true
            let run = Array(text[p..<(p + length)])
            if run.count < text.count && FTFYPattern.badness.occurs(in: run) {
                out.append(contentsOf: fixEncoding(run))
            } else {
                out.append(contentsOf: run)
            }
            p += length
        }
        return found ? out : nil
    }

    // MARK: The character fixes

    private static func parseScalarTable(_ text: String) -> [UInt32: [Unicode.Scalar]] {
        var table = [UInt32: [Unicode.Scalar]]()
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: "\t", maxSplits: 1)
            table[UInt32(parts[0], radix: 16)!] = parts[1].split(separator: " ").map { Unicode.Scalar(UInt32($0, radix: 16)!)! }
        }
        return table
    }
    static let c1Map = parseScalarTable(CleaningTables.sloppyWindows1252C1)
    static let ligatureMap = parseScalarTable(CleaningTables.latinLigatures)
    static let widthMap = parseScalarTable(CleaningTables.characterWidth)

    /// fix_c1_controls, fix_latin_ligatures, fix_character_width, uncurl_quotes and fix_line_breaks, in that order
    /// (each a per-character map, so they compose into sequential passes here).
    static func translate(_ text: [Unicode.Scalar]) -> [Unicode.Scalar] {
        if !text.contains(where: { $0.value >= 0x80 || $0 == "\r" }) { return text }
        var t = text
        for (table, guardRange) in [(c1Map, 0x80...0x9F as ClosedRange<UInt32>), (ligatureMap, 0x132...0xFB06), (widthMap, 0x3000...0xFFEF)] {
            guard t.contains(where: { guardRange.contains($0.value) }) else { continue }
            var out = [Unicode.Scalar]()
            out.reserveCapacity(t.count)
            for s in t {
                if let r = table[s.value] { out.append(contentsOf: r) } else { out.append(s) }
            }
            t = out
        }
        var out = [Unicode.Scalar]()
        out.reserveCapacity(t.count)
        var i = 0
        while i < t.count {
            let s = t[i]
            switch s.value {
            case 0x02BC, 0x2018...0x201B: out.append("'")
            case 0x201C...0x201F: out.append("\"")
            case 0x0D:
                out.append("\n")
                if i + 1 < t.count, t[i + 1] == "\n" { i += 1 }
            case 0x2028, 0x2029, 0x85: out.append("\n")
            default: out.append(s)
            }
            i += 1
        }
        return out
    }

    /// ftfy `remove_terminal_escapes`: ESC '[' (digits or ';')* letter.
    static func removeTerminalEscapes(_ text: [Unicode.Scalar]) -> [Unicode.Scalar] {
        guard text.contains("\u{1B}") else { return text }
        var out = [Unicode.Scalar]()
        var i = 0
        while i < text.count {
            if text[i] == "\u{1B}", i + 1 < text.count, text[i + 1] == "[" {
                var j = i + 2
                while j < text.count, text[j] == ";" || text[j].properties.generalCategory == .decimalNumber { j += 1 }
                if j < text.count, text[j].isASCII, text[j].properties.isAlphabetic {
                    i = j + 1
                    continue
                }
            }
            out.append(text[i])
            i += 1
        }
        return out
    }

    @inline(__always) static func isControl(_ v: UInt32) -> Bool {
        v <= 0x08 || v == 0x0B || (v >= 0x0E && v <= 0x1F) || v == 0x7F || (v >= 0x206A && v <= 0x206F) || v == 0xFEFF
            || (v >= 0xFFF9 && v <= 0xFFFC)
    }

    /// ftfy `remove_control_chars`.
    static func removeControlCharacters(_ text: [Unicode.Scalar]) -> [Unicode.Scalar] {
        guard text.contains(where: { isControl($0.value) }) else { return text }
        return text.filter { !isControl($0.value) }
    }

    // MARK: Helpers

    /// Code points to scalars (every value produced here is a valid scalar: decoding rejects surrogates).
    static func scalars(_ values: [UInt32]) -> [Unicode.Scalar] { values.map { Unicode.Scalar($0)! } }

    static func string(_ scalars: [Unicode.Scalar]) -> String { String(String.UnicodeScalarView(scalars)) }
}

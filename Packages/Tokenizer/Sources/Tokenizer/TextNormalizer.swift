import Foundation

/// How raw text is cleaned before pre-tokenisation.
public enum TextNormalization: String, Sendable, CaseIterable {
    /// open_clip / OpenAI CLIP (`clean='lower'`): `ftfy.fix_text` (every fix except the mojibake repair, see README),
    /// `html.unescape` twice, strip, collapse whitespace, Python `str.lower()`; the pattern is case-insensitive.
    case openCLIP
    /// `transformers` 5 `CLIPTokenizer` (the `tokenizers` backend): NFC, `\s+` -> " ", lower-case; special tokens are
    /// split from the raw text first; the pattern is case-sensitive; no ftfy and no HTML unescaping.
    case huggingFace
}

/// The text clean-up steps of CLIP's reference tokenizers on Unicode scalars.
public enum TextNormalizer {
    /// Normalises `text` the way `mode` prescribes (without special-token handling).
    public static func normalize(_ text: String, mode: TextNormalization) -> [Unicode.Scalar] {
        let scalars = Array(text.unicodeScalars)
        switch mode {
        case .openCLIP: return openCLIPClean(scalars)
        case .huggingFace: return huggingFaceClean(scalars)
        }
    }

    /// open_clip `_clean_lower`: `whitespace_clean(basic_clean(x)).lower()`.
    public static func openCLIPClean(_ text: [Unicode.Scalar]) -> [Unicode.Scalar] {
        var t = ftfyFixText(text)
        t = HTMLEntities.pythonUnescape(HTMLEntities.pythonUnescape(t))
        return pythonLower(collapsePythonWhitespace(t))
    }

    /// `tokenizers` normalizer sequence of CLIP: NFC, `Replace(\s+, " ")`, `Lowercase` (per character, no final sigma).
    public static func huggingFaceClean(_ text: [Unicode.Scalar]) -> [Unicode.Scalar] {
        let t = nfc(text)
        var out = [Unicode.Scalar]()
        out.reserveCapacity(t.count)
        var inSpace = false
        for s in t {
            if UnicodeClasses.isWhiteSpace(s.value) {
                if !inSpace { out.append(" ") }
                inSpace = true
                continue
            }
            inSpace = false
            appendLowercase(s, to: &out)
        }
        return out
    }

    // MARK: ftfy

    /// ftfy 6.3.1 `fix_text` with its default configuration, except `fix_encoding` (mojibake detection and repair,
    /// with its sub-steps restore_byte_a0, replace_lossy_sequences, decode_inconsistent_utf8) and `fix_surrogates`
    /// (Swift strings cannot hold lone surrogates). Text is fixed in line segments; HTML entities are unescaped
    /// ("auto") until a segment containing '<' is met, then never again (ftfy's own rule).
    public static func ftfyFixText(_ text: [Unicode.Scalar]) -> [Unicode.Scalar] {
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
            out.append(contentsOf: ftfyFixSegment(segment, unescapeHTML: unescape))
            pos = end
        }
        return out
    }

    /// ftfy `fix_and_explain` on one segment: the fixes in ftfy's order, repeated until nothing changes.
    static func ftfyFixSegment(_ text: [Unicode.Scalar], unescapeHTML: Bool) -> [Unicode.Scalar] {
        var t = text
        while true {
            let original = t
            if unescapeHTML { t = HTMLEntities.ftfyUnescape(t) }
            t = ftfyTranslate(t)
            t = removeTerminalEscapes(t)
            t = removeControlCharacters(t)
            t = nfc(t)
            if t == original { return t }
        }
    }

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
    static func ftfyTranslate(_ text: [Unicode.Scalar]) -> [Unicode.Scalar] {
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

    @inline(__always) static func isFtfyControl(_ v: UInt32) -> Bool {
        v <= 0x08 || v == 0x0B || (v >= 0x0E && v <= 0x1F) || v == 0x7F || (v >= 0x206A && v <= 0x206F) || v == 0xFEFF
            || (v >= 0xFFF9 && v <= 0xFFFC)
    }

    /// ftfy `remove_control_chars`.
    static func removeControlCharacters(_ text: [Unicode.Scalar]) -> [Unicode.Scalar] {
        guard text.contains(where: { isFtfyControl($0.value) }) else { return text }
        return text.filter { !isFtfyControl($0.value) }
    }

    // MARK: Unicode helpers

    /// Unicode NFC (Foundation); text below U+0300 is already NFC and is returned as is.
    public static func nfc(_ text: [Unicode.Scalar]) -> [Unicode.Scalar] {
        guard text.contains(where: { $0.value >= 0x300 }) else { return text }
        let s = String(String.UnicodeScalarView(text))
        return Array(s.precomposedStringWithCanonicalMapping.unicodeScalars)
    }

    /// Python `" ".join(text.split())`: runs of `str.isspace()` characters become one space; ends trimmed.
    public static func collapsePythonWhitespace(_ text: [Unicode.Scalar]) -> [Unicode.Scalar] {
        var out = [Unicode.Scalar]()
        out.reserveCapacity(text.count)
        var pendingSpace = false
        for s in text {
            if UnicodeClasses.isPythonSpace(s.value) {
                pendingSpace = !out.isEmpty
            } else {
                if pendingSpace { out.append(" "); pendingSpace = false }
                out.append(s)
            }
        }
        return out
    }

    @inline(__always) private static func appendLowercase(_ s: Unicode.Scalar, to out: inout [Unicode.Scalar]) {
        let v = s.value
        if v < 0x80 {
            out.append(v >= 0x41 && v <= 0x5A ? Unicode.Scalar(v + 32)! : s)
        } else if s.properties.changesWhenLowercased {
            out.append(contentsOf: s.properties.lowercaseMapping.unicodeScalars)
        } else {
            out.append(s)
        }
    }

    /// Python `str.lower()`: full lower-case mappings, with the Final_Sigma rule for U+03A3.
    public static func pythonLower(_ text: [Unicode.Scalar]) -> [Unicode.Scalar] {
        var out = [Unicode.Scalar]()
        out.reserveCapacity(text.count)
        for (i, s) in text.enumerated() {
            if s.value == 0x3A3 {
                out.append(isFinalSigma(text, at: i) ? "\u{3C2}" : "\u{3C3}")
            } else {
                appendLowercase(s, to: &out)
            }
        }
        return out
    }

    /// CPython `handle_capital_sigma`: \p{cased} \p{case-ignorable}* Σ !(\p{case-ignorable}* \p{cased}).
    private static func isFinalSigma(_ text: [Unicode.Scalar], at i: Int) -> Bool {
        var j = i - 1
        while j >= 0, text[j].properties.isCaseIgnorable { j -= 1 }
        guard j >= 0, text[j].properties.isCased else { return false }
        j = i + 1
        while j < text.count, text[j].properties.isCaseIgnorable { j += 1 }
        return j == text.count || !text[j].properties.isCased
    }
}

import Foundation

/// How raw text is cleaned before pre-tokenisation.
public enum TextNormalization: String, Sendable, CaseIterable {
    /// open_clip / OpenAI CLIP (`clean='lower'`): `ftfy.fix_text` (mojibake repair included), `html.unescape` twice,
    /// strip, collapse whitespace, Python `str.lower()`; the pattern is case-insensitive.
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
        var t = FTFY.fixText(text)
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

    /// ftfy 6.3.1 `fix_text` with its default configuration (see `FTFY.fixText`).
    public static func ftfyFixText(_ text: [Unicode.Scalar]) -> [Unicode.Scalar] {
        FTFY.fixText(text)
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

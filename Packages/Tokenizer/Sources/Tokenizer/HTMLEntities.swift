/// HTML character references, decoded exactly as CPython's `html.unescape` and ftfy 6.3.1's `unescape_html` do.
public enum HTMLEntities {
    private static func parseTable(_ text: String) -> [String: [Unicode.Scalar]] {
        var table = [String: [Unicode.Scalar]]()
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: "\t", maxSplits: 1)
            let value = parts[1].split(separator: " ").map { Unicode.Scalar(UInt32($0, radix: 16)!)! }
            table[String(parts[0])] = value
        }
        return table
    }

    /// CPython `html.entities.html5` (names with and without the trailing ';').
    static let html5: [String: [Unicode.Scalar]] = parseTable(CleaningTables.html5Entities)
    /// ftfy's extra upper-case names (with ';').
    static let ftfyUppercase: [String: [Unicode.Scalar]] = parseTable(CleaningTables.ftfyUppercaseEntities)
    /// `html._invalid_charrefs`: numeric references replaced per the HTML5 rules (mostly Windows-1252).
    private static let windows1252Charrefs: [UInt32: UInt32] = [
        0x00: 0xFFFD, 0x0D: 0x0D, 0x80: 0x20AC, 0x81: 0x81, 0x82: 0x201A, 0x83: 0x0192, 0x84: 0x201E, 0x85: 0x2026,
        0x86: 0x2020, 0x87: 0x2021, 0x88: 0x02C6, 0x89: 0x2030, 0x8A: 0x0160, 0x8B: 0x2039, 0x8C: 0x0152, 0x8D: 0x8D,
        0x8E: 0x017D, 0x8F: 0x8F, 0x90: 0x90, 0x91: 0x2018, 0x92: 0x2019, 0x93: 0x201C, 0x94: 0x201D, 0x95: 0x2022,
        0x96: 0x2013, 0x97: 0x2014, 0x98: 0x02DC, 0x99: 0x2122, 0x9A: 0x0161, 0x9B: 0x203A, 0x9C: 0x0153, 0x9D: 0x9D,
        0x9E: 0x017E, 0x9F: 0x0178,
    ]

    private static func isInvalidCodepoint(_ n: UInt32) -> Bool {
        if (0x1...0x8).contains(n) || (0xE...0x1F).contains(n) || (0x7F...0x9F).contains(n) || (0xFDD0...0xFDEF).contains(n) || n == 0xB {
            return true
        }
        return (n & 0xFFFE) == 0xFFFE  // U+xFFFE and U+xFFFF in every plane
    }

    @inline(__always) private static func isASCIIDigit(_ v: UInt32) -> Bool { v >= 0x30 && v <= 0x39 }
    @inline(__always) private static func isHexDigit(_ v: UInt32) -> Bool {
        isASCIIDigit(v) || (v >= 0x41 && v <= 0x46) || (v >= 0x61 && v <= 0x66)
    }

    /// Decodes one numeric reference's value per `html._replace_charref`; `nil` value means "too large".
    private static func appendNumeric(_ value: UInt32?, to out: inout [Unicode.Scalar]) {
        guard let n = value else { out.append("\u{FFFD}"); return }
        if let mapped = windows1252Charrefs[n] { out.append(Unicode.Scalar(mapped)!); return }
        if (0xD800...0xDFFF).contains(n) || n > 0x10FFFF { out.append("\u{FFFD}"); return }
        if isInvalidCodepoint(n) { return }
        out.append(Unicode.Scalar(n)!)
    }

    private static func parseNumber(_ digits: ArraySlice<Unicode.Scalar>, radix: UInt32) -> UInt32? {
        var n: UInt32 = 0
        for d in digits {
            let v = d.value
            let digit: UInt32 = isASCIIDigit(v) ? v - 0x30 : (v | 0x20) - 0x61 + 10
            let (m, o1) = n.multipliedReportingOverflow(by: radix)
            let (a, o2) = m.addingReportingOverflow(digit)
            if o1 || o2 || a > 0x10FFFF { return nil }
            n = a
        }
        return n
    }

    /// CPython `html.unescape`: numeric references (with the HTML5 replacement rules) and all html5 named
    /// references, including legacy names without ';' and the longest-prefix rule.
    public static func pythonUnescape(_ text: [Unicode.Scalar]) -> [Unicode.Scalar] {
        guard text.contains("&") else { return text }
        var out = [Unicode.Scalar]()
        out.reserveCapacity(text.count)
        let n = text.count
        var i = 0
        while i < n {
            let c = text[i]
            if c != "&" || i + 1 >= n { out.append(c); i += 1; continue }
            let next = text[i + 1]
            if next == "#" {
                // '#[0-9]+;?' then '#[xX][0-9a-fA-F]+;?'
                var j = i + 2
                while j < n, isASCIIDigit(text[j].value) { j += 1 }
                if j > i + 2 {
                    appendNumeric(parseNumber(text[(i + 2)..<j], radix: 10), to: &out)
                    if j < n, text[j] == ";" { j += 1 }
                    i = j; continue
                }
                if i + 2 < n, text[i + 2] == "x" || text[i + 2] == "X" {
                    j = i + 3
                    while j < n, isHexDigit(text[j].value) { j += 1 }
                    if j > i + 3 {
                        appendNumeric(parseNumber(text[(i + 3)..<j], radix: 16), to: &out)
                        if j < n, text[j] == ";" { j += 1 }
                        i = j; continue
                    }
                }
                out.append(c); i += 1; continue
            }
            // '[^\t\n\f <&#;]{1,32};?'
            var j = i + 1
            while j < n, j - (i + 1) < 32 {
                switch text[j] {
                case "\t", "\n", "\u{0C}", " ", "<", "&", "#", ";": break
                default: j += 1; continue
                }
                break
            }
            if j == i + 1 { out.append(c); i += 1; continue }
            if j < n, text[j] == ";" { j += 1 }
            let name = Array(text[(i + 1)..<j])
            i = j
            if let value = html5[String(String.UnicodeScalarView(name))] { out.append(contentsOf: value); continue }
            var replaced = false
            var x = name.count - 1
            while x > 1 {
                if let value = html5[String(String.UnicodeScalarView(name[0..<x]))] {
                    out.append(contentsOf: value)
                    out.append(contentsOf: name[x...])
                    replaced = true
                    break
                }
                x -= 1
            }
            if !replaced { out.append("&"); out.append(contentsOf: name) }
        }
        return out
    }

    @inline(__always) private static func isASCIIAlnum(_ v: UInt32) -> Bool {
        isASCIIDigit(v) || (v >= 0x41 && v <= 0x5A) || (v >= 0x61 && v <= 0x7A)
    }

    /// ftfy `unescape_html`: only `&name;` / `&#...;` forms of 1-24 ASCII letters or digits ending in ';'; names from
    /// html5 (with ';') plus ftfy's upper-case variants; numeric ones only when `html.unescape` consumes the ';'.
    public static func ftfyUnescape(_ text: [Unicode.Scalar]) -> [Unicode.Scalar] {
        guard text.contains("&") else { return text }
        var out = [Unicode.Scalar]()
        out.reserveCapacity(text.count)
        let n = text.count
        var i = 0
        while i < n {
            let c = text[i]
            guard c == "&" else { out.append(c); i += 1; continue }
            var j = i + 1
            let hasHash = j < n && text[j] == "#"
            if hasHash { j += 1 }
            let start = j
            while j < n, isASCIIAlnum(text[j].value) { j += 1 }
            let length = j - start
            guard length >= 1, length <= 24, j < n, text[j] == ";" else { out.append(c); i += 1; continue }
            let match = Array(text[i...j])  // "&...;"
            i = j + 1
            if !hasHash {
                let name = String(String.UnicodeScalarView(match[1...]))
                if let value = html5[name] ?? ftfyUppercase[name] { out.append(contentsOf: value) } else { out.append(contentsOf: match) }
            } else {
                let decoded = pythonUnescape(match)
                if decoded.contains(";") { out.append(contentsOf: match) } else { out.append(contentsOf: decoded) }
            }
        }
        return out
    }
}

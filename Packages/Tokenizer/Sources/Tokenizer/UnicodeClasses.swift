/// Character classes with the exact meaning that CLIP's Python reference gives them.
enum UnicodeClasses {
    /// Python `str.isspace()` (bidirectional class WS/B/S or category Zs): what `str.split()` and `str.strip()` remove.
    @inline(__always)
    static func isPythonSpace(_ v: UInt32) -> Bool {
        if v < 0x80 { return (v >= 0x09 && v <= 0x0D) || (v >= 0x1C && v <= 0x20) }
        switch v {
        case 0x85, 0xA0, 0x1680, 0x2000...0x200A, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000: return true
        default: return false
        }
    }

    /// Unicode `White_Space` (the `\s` of the `regex` module and of Oniguruma).
    @inline(__always)
    static func isWhiteSpace(_ v: UInt32) -> Bool {
        if v < 0x80 { return (v >= 0x09 && v <= 0x0D) || v == 0x20 }
        switch v {
        case 0x85, 0xA0, 0x1680, 0x2000...0x200A, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000: return true
        default: return false
        }
    }

    /// Letter (`\p{L}`), number (`\p{N}`) or other, per the Unicode general category.
    enum Kind: UInt8 { case letter, number, space, other }

    private static let asciiKinds: [Kind] = (0..<128).map { v -> Kind in
        let s = Unicode.Scalar(UInt8(v))
        if (s >= "a" && s <= "z") || (s >= "A" && s <= "Z") { return .letter }
        if s >= "0" && s <= "9" { return .number }
        if isWhiteSpace(UInt32(v)) { return .space }
        return .other
    }

    @inline(__always)
    static func kind(_ s: Unicode.Scalar) -> Kind {
        let v = s.value
        if v < 0x80 { return asciiKinds[Int(v)] }
        if isWhiteSpace(v) { return .space }
        switch s.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: return .letter
        case .decimalNumber, .letterNumber, .otherNumber: return .number
        default: return .other
        }
    }

    /// Simple case folding restricted to what matters for matching ASCII pattern literals case-insensitively:
    /// ASCII upper case, U+017F LONG S (folds to s) and U+212A KELVIN SIGN (folds to k).
    @inline(__always)
    static func foldForASCII(_ v: UInt32) -> UInt32 {
        if v >= 0x41 && v <= 0x5A { return v + 32 }
        if v == 0x17F { return 0x73 }
        if v == 0x212A { return 0x6B }
        return v
    }
}

/// GPT-2/CLIP `bytes_to_unicode`: a reversible map from the 256 byte values to printable code points, so that
/// byte-level BPE tokens can be written as text in `vocab.json` and `merges.txt`.
public enum ByteEncoding {
    /// Byte values in CLIP's vocabulary order: printable ranges first (`!`-`~`, `¡`-`¬`, `®`-`ÿ`), then the rest.
    /// The base token with id `i` (and `i + 256` with `</w>`) in the original vocabulary is `bytesInVocabularyOrder[i]`.
    public static let bytesInVocabularyOrder: [UInt8] = {
        var bs = Array(UInt8(ascii: "!")...UInt8(ascii: "~")) + Array(UInt8(0xA1)...UInt8(0xAC)) + Array(UInt8(0xAE)...UInt8(0xFF))
        let printable = Set(bs)
        for b in 0...255 where !printable.contains(UInt8(b)) { bs.append(UInt8(b)) }
        return bs
    }()

    /// `byteToScalar[b]`: the code point that stands for byte `b`.
    public static let byteToScalar: [Unicode.Scalar] = {
        var table = [Unicode.Scalar](repeating: " ", count: 256)
        var n: UInt32 = 0
        for b in 0...255 {
            let isPrintable = (0x21...0x7E).contains(b) || (0xA1...0xAC).contains(b) || (0xAE...0xFF).contains(b)
            if isPrintable {
                table[b] = Unicode.Scalar(UInt32(b))!
            } else {
                table[b] = Unicode.Scalar(256 + n)!
                n += 1
            }
        }
        return table
    }()

    /// Inverse of `byteToScalar`, indexed by code point (all are below 0x144); -1 where no byte maps.
    static let scalarToByte: [Int16] = {
        var table = [Int16](repeating: -1, count: 0x144)
        for b in 0...255 { table[Int(byteToScalar[b].value)] = Int16(b) }
        return table
    }()

    /// The byte-level text of raw bytes (what `vocab.json` stores).
    public static func encode<C: Collection>(_ bytes: C) -> String where C.Element == UInt8 {
        var s = String.UnicodeScalarView()
        for b in bytes { s.append(byteToScalar[Int(b)]) }
        return String(s)
    }

    /// Raw bytes of a byte-level string, or nil when it holds a code point outside the byte alphabet.
    public static func decode<S: StringProtocol>(_ text: S) -> [UInt8]? {
        var out = [UInt8]()
        out.reserveCapacity(text.unicodeScalars.count)
        for scalar in text.unicodeScalars {
            let v = Int(scalar.value)
            guard v < scalarToByte.count, scalarToByte[v] >= 0 else { return nil }
            out.append(UInt8(scalarToByte[v]))
        }
        return out
    }
}

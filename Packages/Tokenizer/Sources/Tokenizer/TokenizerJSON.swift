/// A strict JSON reader for tokenizer files (`vocab.json`, `tokenizer_config.json`, `special_tokens_map.json`):
/// bounded nesting, no duplicate keys, and errors that name the file and line. Numbers keep their literal text, so
/// an id is checked as an integer rather than rounded through a Double.
enum TokenizerJSON {
    indirect enum Value: CustomStringConvertible {
        case object([Member])
        case array([Value])
        case string(String)
        case number(String)
        case bool(Bool)
        case null

        /// Short text for error messages.
        var description: String {
            switch self {
            case .object: return "an object"
            case .array: return "an array"
            case let .string(s): return "\"\(s.prefix(40))\""
            case let .number(n): return String(n.prefix(40))
            case let .bool(b): return "\(b)"
            case .null: return "null"
            }
        }
    }

    struct Member {
        var key: String
        var value: Value
        /// 1-based line of the key.
        var line: Int
    }

    /// Deepest nesting of arrays and objects accepted (the tokenizer files use 3).
    static let maximumDepth = 64

    /// Parses a whole file's bytes (already checked to be UTF-8 and within the size limit).
    static func parse(_ bytes: [UInt8], path: String) throws -> Value {
        var reader = Reader(bytes: bytes, path: path)
        reader.skipSpace()
        let value = try reader.value(depth: 0)
        reader.skipSpace()
        guard reader.pos == bytes.count else { throw reader.error("unexpected text after the JSON value") }
        return value
    }

    struct Reader {
        let bytes: [UInt8]
        let path: String
        var pos = 0
        var line = 1

        init(bytes: [UInt8], path: String) {
            self.bytes = bytes
            self.path = path
        }

        func error(_ reason: String) -> TokenizerError {
            TokenizerError.malformed(path: path, reason: "line \(line): \(reason)")
        }

        mutating func skipSpace() {
            while pos < bytes.count {
                switch bytes[pos] {
                case 0x0A: line += 1; pos += 1
                case 0x20, 0x09, 0x0D: pos += 1
                default: return
                }
            }
        }

        mutating func expect(_ literal: String) throws {
            let l = Array(literal.utf8)
            guard pos + l.count <= bytes.count, bytes[pos..<(pos + l.count)].elementsEqual(l) else {
                throw error("invalid JSON literal")
            }
            pos += l.count
        }

        mutating func value(depth: Int) throws -> Value {
            guard pos < bytes.count else { throw error("unexpected end of the file") }
            switch bytes[pos] {
            case UInt8(ascii: "{"):
                guard depth < TokenizerJSON.maximumDepth else { throw error("nesting deeper than \(TokenizerJSON.maximumDepth)") }
                pos += 1
                var members = [Member]()
                var lineOfKey = [String: Int]()
                skipSpace()
                if pos < bytes.count, bytes[pos] == UInt8(ascii: "}") { pos += 1; return .object(members) }
                while true {
                    skipSpace()
                    guard pos < bytes.count, bytes[pos] == UInt8(ascii: "\"") else { throw error("expected a string key") }
                    let keyLine = line
                    let key = try string()
                    if let first = lineOfKey[key] {
                        throw error("key \"\(key)\" repeats the key of line \(first)")
                    }
                    lineOfKey[key] = keyLine
                    skipSpace()
                    guard pos < bytes.count, bytes[pos] == UInt8(ascii: ":") else { throw error("expected ':' after key \"\(key)\"") }
                    pos += 1
                    skipSpace()
                    members.append(Member(key: key, value: try value(depth: depth + 1), line: keyLine))
                    skipSpace()
                    guard pos < bytes.count else { throw error("unexpected end of the file in an object") }
                    if bytes[pos] == UInt8(ascii: ",") { pos += 1; continue }
                    if bytes[pos] == UInt8(ascii: "}") { pos += 1; return .object(members) }
                    throw error("expected ',' or '}' in an object")
                }
            case UInt8(ascii: "["):
                guard depth < TokenizerJSON.maximumDepth else { throw error("nesting deeper than \(TokenizerJSON.maximumDepth)") }
                pos += 1
                var items = [Value]()
                skipSpace()
                if pos < bytes.count, bytes[pos] == UInt8(ascii: "]") { pos += 1; return .array(items) }
                while true {
                    skipSpace()
                    items.append(try value(depth: depth + 1))
                    skipSpace()
                    guard pos < bytes.count else { throw error("unexpected end of the file in an array") }
                    if bytes[pos] == UInt8(ascii: ",") { pos += 1; continue }
                    if bytes[pos] == UInt8(ascii: "]") { pos += 1; return .array(items) }
                    throw error("expected ',' or ']' in an array")
                }
            case UInt8(ascii: "\""): return .string(try string())
            case UInt8(ascii: "t"): try expect("true"); return .bool(true)
            case UInt8(ascii: "f"): try expect("false"); return .bool(false)
            case UInt8(ascii: "n"): try expect("null"); return .null
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number(try number())
            default: throw error("unexpected character '\(Unicode.Scalar(bytes[pos]))'")
            }
        }

        /// RFC 8259 number grammar; the literal text is returned.
        mutating func number() throws -> String {
            let start = pos
            func digits() -> Int {
                let s = pos
                while pos < bytes.count, bytes[pos] >= 0x30, bytes[pos] <= 0x39 { pos += 1 }
                return pos - s
            }
            if bytes[pos] == UInt8(ascii: "-") { pos += 1 }
            let intStart = pos
            guard digits() > 0 else { throw error("invalid number") }
            if bytes[intStart] == UInt8(ascii: "0"), pos - intStart > 1 { throw error("number with a leading zero") }
            if pos < bytes.count, bytes[pos] == UInt8(ascii: ".") {
                pos += 1
                guard digits() > 0 else { throw error("invalid number") }
            }
            if pos < bytes.count, bytes[pos] == UInt8(ascii: "e") || bytes[pos] == UInt8(ascii: "E") {
                pos += 1
                if pos < bytes.count, bytes[pos] == UInt8(ascii: "+") || bytes[pos] == UInt8(ascii: "-") { pos += 1 }
                guard digits() > 0 else { throw error("invalid number") }
            }
            return String(decoding: bytes[start..<pos], as: UTF8.self)
        }

        mutating func hex4() throws -> UInt32 {
            guard pos + 4 <= bytes.count else { throw error("truncated \\u escape") }
            var v: UInt32 = 0
            for _ in 0..<4 {
                let c = bytes[pos]
                let d: UInt32
                switch c {
                case 0x30...0x39: d = UInt32(c - 0x30)
                case 0x41...0x46: d = UInt32(c - 0x41 + 10)
                case 0x61...0x66: d = UInt32(c - 0x61 + 10)
                default: throw error("invalid \\u escape")
                }
                v = v << 4 | d
                pos += 1
            }
            return v
        }

        /// A string at `pos` (which holds '"'); raw control characters and lone surrogates are errors.
        mutating func string() throws -> String {
            pos += 1
            var scalars = String.UnicodeScalarView()
            var runStart = pos
            func flush(_ end: Int) { scalars.append(contentsOf: String(decoding: bytes[runStart..<end], as: UTF8.self).unicodeScalars) }
            while true {
                guard pos < bytes.count else { throw error("unterminated string") }
                let c = bytes[pos]
                if c == UInt8(ascii: "\"") {
                    flush(pos)
                    pos += 1
                    return String(scalars)
                }
                if c < 0x20 { throw error("control character 0x\(String(c, radix: 16)) inside a string") }
                if c != UInt8(ascii: "\\") { pos += 1; continue }
                flush(pos)
                pos += 1
                guard pos < bytes.count else { throw error("unterminated string") }
                let e = bytes[pos]
                pos += 1
                switch e {
                case UInt8(ascii: "\""): scalars.append("\"")
                case UInt8(ascii: "\\"): scalars.append("\\")
                case UInt8(ascii: "/"): scalars.append("/")
                case UInt8(ascii: "b"): scalars.append("\u{8}")
                case UInt8(ascii: "f"): scalars.append("\u{C}")
                case UInt8(ascii: "n"): scalars.append("\n")
                case UInt8(ascii: "r"): scalars.append("\r")
                case UInt8(ascii: "t"): scalars.append("\t")
                case UInt8(ascii: "u"):
                    var v = try hex4()
                    if (0xD800...0xDBFF).contains(v) {
                        guard pos + 2 <= bytes.count, bytes[pos] == UInt8(ascii: "\\"), bytes[pos + 1] == UInt8(ascii: "u") else {
                            throw error("lone surrogate \\u\(String(v, radix: 16)) in a string")
                        }
                        pos += 2
                        let low = try hex4()
                        guard (0xDC00...0xDFFF).contains(low) else { throw error("lone surrogate \\u\(String(v, radix: 16)) in a string") }
                        v = 0x10000 + ((v - 0xD800) << 10) + (low - 0xDC00)
                    } else if (0xDC00...0xDFFF).contains(v) {
                        throw error("lone surrogate \\u\(String(v, radix: 16)) in a string")
                    }
                    scalars.append(Unicode.Scalar(v)!)
                default: throw error("invalid escape '\\\(Unicode.Scalar(e))' in a string")
                }
                runStart = pos
            }
        }
    }
}

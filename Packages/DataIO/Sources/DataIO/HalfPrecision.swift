/// Conversions between Float32 and the 16-bit float formats of safetensors (IEEE half `F16`, bfloat16 `BF16`).
///
/// Table-free bit manipulation written without branches so that the compiler vectorises the loops
/// (SSE2/AVX2 on x86, NEON on arm64). Float -> half rounds to nearest even, like NumPy's `astype(float16)` and
/// PyTorch's `.half()`: subnormals, overflow to infinity and NaN (kept quiet, sign preserved) included.
public enum HalfPrecision {
    /// One half (bits) to Float32, exactly (every half value is representable).
    @inline(__always)
    public static func halfToFloat(_ h: UInt16) -> Float {
        let hu = UInt32(h)
        let sign = (hu & 0x8000) << 16
        let em = (hu & 0x7FFF) << 13                   // exponent and mantissa in float position
        let exp = em & 0x0F80_0000                     // the 5 exponent bits, shifted
        // Normal numbers: rebias the exponent by 112 (127 - 15).
        let normal = em &+ 0x3800_0000
        // Inf/NaN: rebias twice so the exponent becomes all ones.
        let infNaN = em | 0x7F80_0000
        // Zero/subnormal: value = mantissa * 2^-24; use a magic subtraction (exact in Float32).
        let subBits = em &+ 0x3880_0000                // 2^-14 plus the mantissa bits
        let sub = Float(bitPattern: subBits) - Float(bitPattern: 0x3880_0000)
        let isInfNaN = exp == 0x0F80_0000
        let isSub = exp == 0
        var bits = isInfNaN ? infNaN : normal
        bits = isSub ? sub.bitPattern : bits
        return Float(bitPattern: bits | sign)
    }

    /// One Float32 to half bits, rounding to nearest even.
    @inline(__always)
    public static func floatToHalf(_ f: Float) -> UInt16 {
        let x = f.bitPattern
        let sign = (x >> 16) & 0x8000
        let ax = x & 0x7FFF_FFFF
        // NaN: keep the top mantissa bits and force a quiet bit.
        let nanBits = 0x7E00 | ((ax >> 13) & 0x3FF)
        // >= 65520 rounds to infinity.
        let isOverflow = ax >= 0x477F_F000
        // Normal range (>= 2^-14): round the 13 dropped bits to nearest even, then rebias the exponent.
        let roundedNormal = (ax &+ 0x0FFF &+ ((ax >> 13) & 1)) >> 13
        let normal = roundedNormal &- (112 << 10)
        // Subnormal range: adding 0.5 (as a float) aligns the mantissa so that the FPU rounds to nearest even.
        let subF = Float(bitPattern: ax) + Float(bitPattern: 0x3F00_0000)
        let sub = subF.bitPattern &- 0x3F00_0000
        var h = ax < 0x3880_0000 ? sub : normal
        h = isOverflow ? 0x7C00 : h
        h = ax > 0x7F80_0000 ? nanBits : h
        return UInt16(truncatingIfNeeded: h | sign)
    }

    /// One bfloat16 (bits) to Float32, exactly.
    @inline(__always)
    public static func bfloat16ToFloat(_ b: UInt16) -> Float { Float(bitPattern: UInt32(b) << 16) }

    /// One Float32 to bfloat16 bits, rounding to nearest even (NaN stays NaN), like PyTorch's `.bfloat16()`.
    @inline(__always)
    public static func floatToBFloat16(_ f: Float) -> UInt16 {
        let x = f.bitPattern
        if f.isNaN { return UInt16(truncatingIfNeeded: (x >> 16) | 0x0040) }
        return UInt16(truncatingIfNeeded: (x &+ 0x7FFF &+ ((x >> 16) & 1)) >> 16)
    }

    /// Converts `count` halves at `src` (any alignment) to Float32 at `dst`.
    public static func convertHalfToFloat(_ src: UnsafeRawPointer, _ dst: UnsafeMutablePointer<Float>, count: Int) {
        if Int(bitPattern: src) & 1 == 0 {
            let s = src.assumingMemoryBound(to: UInt16.self)
            for i in 0..<count { dst[i] = halfToFloat(UInt16(littleEndian: s[i])) }
        } else {
            for i in 0..<count { dst[i] = halfToFloat(UInt16(littleEndian: src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))) }
        }
    }

    /// Converts `count` bfloat16 values at `src` (any alignment) to Float32 at `dst`.
    public static func convertBFloat16ToFloat(_ src: UnsafeRawPointer, _ dst: UnsafeMutablePointer<Float>, count: Int) {
        if Int(bitPattern: src) & 1 == 0 {
            let s = src.assumingMemoryBound(to: UInt16.self)
            for i in 0..<count { dst[i] = bfloat16ToFloat(UInt16(littleEndian: s[i])) }
        } else {
            for i in 0..<count { dst[i] = bfloat16ToFloat(UInt16(littleEndian: src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))) }
        }
    }

    /// Converts `count` Float32 values to halves.
    public static func convertFloatToHalf(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<UInt16>, count: Int) {
        for i in 0..<count { dst[i] = floatToHalf(src[i]).littleEndian }
    }

    /// Converts `count` Float32 values to bfloat16.
    public static func convertFloatToBFloat16(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<UInt16>, count: Int) {
        for i in 0..<count { dst[i] = floatToBFloat16(src[i]).littleEndian }
    }
}

/// The 8-bit float formats of safetensors (`F8_*`), by PyTorch's names.
public enum Float8Format: String, CaseIterable, Sendable {
    case e4m3fn, e5m2, e4m3fnuz, e5m2fnuz, e8m0fnu
}

/// Conversions of the 8-bit and 4-bit float formats to Float32, bit for bit as PyTorch's `.float()` gives them
/// (CPU, torch 2.13): subnormals exact, NaN bit patterns included. Every value of these formats is a Float32, so
/// each conversion is a lookup in a 256-entry table built once from the format's definition.
extension HalfPrecision {
    /// One 8-bit float (bits) of `format` to Float32.
    @inline(__always)
    public static func float8ToFloat(_ bits: UInt8, _ format: Float8Format) -> Float {
        float8Tables[format.index][Int(bits)]
    }

    /// One MXFP4 E2M1 value (the low 4 bits of `nibble`) to Float32: 0, 0.5, 1, 1.5, 2, 3, 4, 6 and their negatives.
    @inline(__always)
    public static func float4E2M1ToFloat(_ nibble: UInt8) -> Float { float4Table[Int(nibble & 0xF)] }

    /// Converts `count` 8-bit floats at `src` to Float32 at `dst`.
    public static func convertFloat8ToFloat(_ src: UnsafeRawPointer, _ dst: UnsafeMutablePointer<Float>, count: Int,
                                            format: Float8Format) {
        let s = src.assumingMemoryBound(to: UInt8.self)
        float8Tables[format.index].withUnsafeBufferPointer { t in
            for i in 0..<count { dst[i] = t[Int(s[i])] }
        }
    }

    /// Converts `count` F4 elements packed two per byte from `src` (element 2k in the low nibble of byte k, as
    /// PyTorch's `float4_e2m1fn_x2`) to Float32 at `dst`, starting at element `first` (which must be even).
    public static func convertFloat4ToFloat(_ src: UnsafeRawPointer, _ dst: UnsafeMutablePointer<Float>, first: Int = 0,
                                            count: Int) {
        precondition(first % 2 == 0, "F4 conversion must start at a byte boundary")
        let s = src.assumingMemoryBound(to: UInt8.self) + first / 2
        float4Table.withUnsafeBufferPointer { t in
            for i in 0..<count {
                let b = s[i >> 1]
                dst[i] = t[Int(i & 1 == 0 ? b & 0xF : b >> 4)]
            }
        }
    }

    static let float8Tables: [[Float]] = Float8Format.allCases.map { f in (0..<256).map { decodeFloat8(UInt32($0), f) } }
    static let float4Table: [Float] = (0..<16).map { n in
        let e = (n >> 1) & 3, m = Double(n & 1)
        let v = e == 0 ? m * 0.5 : (1 + m / 2) * Double(sign: .plus, exponent: e - 1, significand: 1)
        return Float(n & 8 != 0 ? -v : v)
    }

    /// The value of one 8-bit float, from the format's fields (exact: every value is a Float32). NaNs get the bit
    /// patterns PyTorch's converters produce.
    static func decodeFloat8(_ b: UInt32, _ format: Float8Format) -> Float {
        let negative = b & 0x80 != 0
        let sign: UInt32 = negative ? 0x8000_0000 : 0
        func value(_ e: Int, _ m: UInt32, mantissaBits: Int, bias: Int) -> Float {
            let frac = Double(m) / Double(1 << mantissaBits)
            let v = e == 0 ? frac * Double(sign: .plus, exponent: 1 - bias, significand: 1)
                           : (1 + frac) * Double(sign: .plus, exponent: e - bias, significand: 1)
            return Float(negative ? -v : v)
        }
        switch format {
        case .e4m3fn:
            let e = Int((b >> 3) & 0xF), m = b & 7
            if e == 15 && m == 7 { return Float(bitPattern: sign | 0x7FF0_0000) }
            return value(e, m, mantissaBits: 3, bias: 7)
        case .e5m2:
            let e = Int((b >> 2) & 0x1F), m = b & 3
            if e == 31 { return Float(bitPattern: sign | 0x7F80_0000 | (m == 0 ? 0 : 0x0040_0000 | m << 21)) }
            return value(e, m, mantissaBits: 2, bias: 15)
        case .e4m3fnuz:
            if b == 0x80 { return Float(bitPattern: 0x7F80_0001) }
            return value(Int((b >> 3) & 0xF), b & 7, mantissaBits: 3, bias: 8)
        case .e5m2fnuz:
            if b == 0x80 { return Float(bitPattern: 0x7F80_0001) }
            return value(Int((b >> 2) & 0x1F), b & 3, mantissaBits: 2, bias: 16)
        case .e8m0fnu:
            if b == 0xFF { return Float(bitPattern: 0x7F80_0001) }
            return Float(Double(sign: .plus, exponent: Int(b) - 127, significand: 1))
        }
    }
}

extension Float8Format {
    var index: Int {
        switch self {
        case .e4m3fn: return 0
        case .e5m2: return 1
        case .e4m3fnuz: return 2
        case .e5m2fnuz: return 3
        case .e8m0fnu: return 4
        }
    }
}

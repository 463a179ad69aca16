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

/// The world's only source of randomness: SplitMix64, keyed by (seed, stream, index) so that every sample is a pure
/// function of those three numbers, identical on every machine (integer arithmetic and IEEE doubles only).
public struct WorldRandom: RandomNumberGenerator, Sendable {
    public private(set) var state: UInt64

    /// A generator for one sample: `stream` separates splits and purposes, `index` the sample.
    public init(seed: UInt64, stream: UInt64, index: UInt64) {
        var s = WorldRandom.mix(seed &+ 0x9E37_79B9_7F4A_7C15)
        s = WorldRandom.mix(s ^ (stream &* 0xD1B5_4A32_D192_ED03))
        s = WorldRandom.mix(s ^ (index &* 0x8CB9_2BA7_2F3D_8DD7))
        state = s
    }

    public init(state: UInt64) { self.state = state }

    @inline(__always) static func mix(_ z0: UInt64) -> UInt64 {
        var z = z0
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    @inline(__always) public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        return WorldRandom.mix(state)
    }

    /// A derived, independent generator (for a sub-task such as one hard negative), without disturbing this one's use.
    public func derived(_ salt: UInt64) -> WorldRandom {
        WorldRandom(state: WorldRandom.mix(state ^ WorldRandom.mix(salt &+ 0x5851_F42D_4C95_7F2D)))
    }

    /// Uniform in [0, 1) with 53 random bits.
    @inline(__always) public mutating func unit() -> Double { Double(next() >> 11) * 0x1.0p-53 }

    /// Uniform in [lo, hi).
    @inline(__always) public mutating func uniform(_ lo: Double, _ hi: Double) -> Double { lo + (hi - lo) * unit() }

    /// Uniform integer in [0, n) (Lemire's multiply-shift; n > 0). Platform independent, unlike `Int.random(in:using:)`'s
    /// unspecified algorithm.
    @inline(__always) public mutating func below(_ n: Int) -> Int {
        precondition(n > 0, "WorldRandom.below: n must be positive, got \(n)")
        return Int((UInt64(n).multipliedFullWidth(by: next())).high)
    }

    /// True with probability p.
    @inline(__always) public mutating func chance(_ p: Double) -> Bool { unit() < p }

    /// One element of a non-empty array.
    public mutating func pick<T>(_ items: [T]) -> T { items[below(items.count)] }

    /// Fisher-Yates shuffle with this generator.
    public mutating func shuffle<T>(_ items: inout [T]) {
        if items.count < 2 { return }
        for i in stride(from: items.count - 1, to: 0, by: -1) { items.swapAt(i, below(i + 1)) }
    }

    /// Standard normal (Box-Muller, one value per call).
    public mutating func normal() -> Double {
        let u1 = max(unit(), 0x1.0p-60), u2 = unit()
        return (-2 * _log(u1)).squareRoot() * _cos(2 * Double.pi * u2)
    }
}

#if canImport(Glibc)
import Glibc
@inline(__always) func _log(_ x: Double) -> Double { Glibc.log(x) }
@inline(__always) func _cos(_ x: Double) -> Double { Glibc.cos(x) }
#elseif canImport(Darwin)
import Darwin
@inline(__always) func _log(_ x: Double) -> Double { Darwin.log(x) }
@inline(__always) func _cos(_ x: Double) -> Double { Darwin.cos(x) }
#endif

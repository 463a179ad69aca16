import Foundation

/// PyTorch's CPU default generator, reproduced bit for bit.
///
/// `TorchGenerator(seed: s)` followed by `randn`, `rand`, `randint`, `randperm` and `normal` gives the same numbers
/// as `torch.manual_seed(s)` followed by the same sequence of `torch.randn`, `torch.rand`, `torch.randint`,
/// `torch.randperm` and `torch.normal` calls (float32 tensors, int64 integers) on a CPU build of PyTorch 2.x
/// (checked against 2.13). What it mirrors:
///
/// - the engine: `at::mt19937` seeded with the low 32 bits of the seed (so seeds `s` and `s + 2^32` coincide,
///   as in torch); `random32()` is `CPUGeneratorImpl::random()`, `random64()` joins two draws, the first as
///   the high word;
/// - uniforms: float uniforms keep the low 24 bits of one 32-bit draw (`x * 2^-24`); double uniforms keep the
///   low 53 bits of `random64()`;
/// - normals, tensors of 16 or more elements: all uniforms are drawn first, Box-Muller runs on blocks of 16
///   (8 radii from `1 - u[0..<8]`, 8 angles from `u[8..<16]`), and when the count is not a multiple of 16 the
///   last 16 elements are overwritten with 16 fresh uniforms and transformed again. The transform depends on
///   the CPU torch runs on, so it is a choice (`NormalKernel`): on x86-64 with AVX2 (and AVX-512, whose build
///   compiles the same `__AVX2__` code) torch uses avx_mathfun.h's Cephes `log256_ps`/`sincos256_ps`, ported
///   here with the fused multiply-adds GCC contracts in torch's build (`.avx2`, the default); elsewhere (ARM,
///   Apple Silicon, x86-64 without AVX2, or `ATEN_CPU_CAPABILITY=default`) it uses libm's `logf`/`cosf`/`sinf`
///   (`.scalar`). Both agree with each other to a few ulp, and each matches its torch kernel to the last bit;
/// - normals, tensors of fewer than 16 elements: the scalar double-precision Box-Muller of
///   `at::normal_distribution<double>` with libm's `log1p`, `sin`, `cos`, including the cached second sample,
///   which carries over between calls until it is used or the generator is reseeded;
/// - integers: `(draw % range) + low`, with a 32-bit draw when `range < 2^28` and a 64-bit draw otherwise (the
///   threshold of torch's open-source builds; internal fbcode builds switch at 2^32 instead).
///
/// The generator is a value: copying it forks the stream (both copies continue identically). There is no
/// global generator; every draw goes through an explicit `inout` generator.
public struct TorchGenerator: RandomNumberGenerator, TensorRandomSource, Sendable {
    /// The seed given to `init(seed:)` or `manualSeed(_:)` (torch's `initial_seed()`).
    public private(set) var seed: UInt64
    private var engine: MT19937
    /// The second value of the last scalar Box-Muller pair, standard normal, not yet used
    /// (`CPUGeneratorImpl::next_double_normal_sample_`).
    public private(set) var cachedNormal: Double?
    /// Which of torch's Box-Muller kernels float32 normals of 16+ elements reproduce.
    public var normalKernel: NormalKernel

    /// torch's float32 Box-Muller kernels for tensors of 16 or more elements; torch picks one by CPU.
    public enum NormalKernel: Sendable {
        /// `normal_fill_16_AVX2` (Cephes polynomials): torch on x86-64 CPUs with AVX2 or AVX-512.
        case avx2
        /// The scalar `NormalFill16` with libm's `logf`, `cosf`, `sinf` and `fmaf`: torch on other CPUs. Bit for
        /// bit only where this process and torch use the same libm (checked with glibc on x86-64).
        case scalar
    }

    /// A generator in the state `torch.manual_seed(seed)` leaves the default CPU generator in.
    public init(seed: UInt64, normalKernel: NormalKernel = .avx2) {
        self.seed = seed
        self.engine = MT19937(seed: seed)
        self.cachedNormal = nil
        self.normalKernel = normalKernel
    }

    /// Reseeds in place, like `torch.manual_seed` (also drops the cached normal sample; keeps `normalKernel`).
    public mutating func manualSeed(_ seed: UInt64) {
        self = TorchGenerator(seed: seed, normalKernel: normalKernel)
    }

    // MARK: Raw draws

    /// One 32-bit draw of the Mersenne Twister (`CPUGeneratorImpl::random()`).
    public mutating func random32() -> UInt32 {
        engine.withCursor { $0.draw() }
    }

    /// Two 32-bit draws joined, the first as the high word (`CPUGeneratorImpl::random64()`).
    public mutating func random64() -> UInt64 {
        engine.withCursor { $0.draw64() }
    }

    /// `RandomNumberGenerator` conformance: `random64()`. Swift's own `shuffle`/`random(in:)` built on it are
    /// deterministic but not torch's algorithms; use `randperm`/`randint` for torch-identical results.
    public mutating func next() -> UInt64 { random64() }

    /// A float uniform in [0, 1) from one 32-bit draw (`at::uniform_real_distribution<float>(0, 1)`).
    public mutating func uniformFloat() -> Float {
        engine.withCursor { TorchGenerator.unitFloat($0.draw()) }
    }

    /// A double uniform in [0, 1) from one 64-bit draw (`at::uniform_real_distribution<double>(0, 1)`).
    public mutating func uniformDouble() -> Double {
        engine.withCursor { TorchGenerator.unitDouble($0.draw64()) }
    }

    /// One sample of the scalar normal path (`at::normal_distribution<double>(mean, std)`): uses the cached
    /// second Box-Muller value when there is one, else draws a pair and caches its second value.
    public mutating func normalDouble(mean: Double = 0, std: Double = 1) -> Double {
        tensorCheck(std >= 0, "TorchGenerator.normalDouble", "std must be >= 0, got \(std)")
        var cache = cachedNormal
        let value = engine.withCursor { TorchGenerator.scalarNormal(&$0, cache: &cache, mean: mean, std: std) }
        cachedNormal = cache
        return value
    }

    // MARK: Tensors

    /// `torch.randn(shape)`: standard normal float32 samples.
    public mutating func randn(_ shape: [Int]) -> Tensor {
        normal(mean: 0, std: 1, shape: shape)
    }

    /// `torch.normal(mean, std, size=shape)` (also `torch.empty(shape).normal_(mean, std)`).
    public mutating func normal(mean: Double, std: Double, shape: [Int]) -> Tensor {
        tensorCheck(std >= 0, "TorchGenerator.normal", "std must be >= 0, got \(std) (shape \(shape))")
        var out = Tensor(uninitializedShape: shape)
        let n = out.count
        if n == 0 { return out }
        if n < 16 {
            var cache = cachedNormal
            out.withMutableBuffer { buf in
                engine.withCursor { c in
                    for i in 0..<n {
                        buf[i] = Float(TorchGenerator.scalarNormal(&c, cache: &cache, mean: mean, std: std))
                    }
                }
            }
            cachedNormal = cache
            return out
        }
        let fmean = Float(mean), fstd = Float(std)
        let hasTail = n % 16 != 0
        let fill16 = normalKernel == .avx2 ? TorchBoxMuller.fill16 : TorchBoxMuller.fill16Scalar
        out.withMutableBuffer { buf in
            let p = buf.baseAddress!
            withUnsafeTemporaryAllocation(of: Float.self, capacity: 16) { tail in
                // Draw order as in torch: n uniforms, then (when n % 16 != 0) 16 more for the recomputed tail.
                engine.withCursor { c in
                    for i in 0..<n { p[i] = TorchGenerator.unitFloat(c.draw()) }
                    if hasTail { for i in 0..<16 { tail[i] = TorchGenerator.unitFloat(c.draw()) } }
                }
                Parallel.forEachChunk(n / 16, costPerItem: 128) { blocks in
                    for b in blocks { fill16(p + 16 * b, fmean, fstd) }
                }
                if hasTail {
                    (p + n - 16).update(from: tail.baseAddress!, count: 16)
                    fill16(p + n - 16, fmean, fstd)
                }
            }
        }
        return out
    }

    /// `torch.rand(shape)`: float32 uniforms in [0, 1).
    public mutating func rand(_ shape: [Int]) -> Tensor {
        uniform(low: 0, high: 1, shape: shape)
    }

    /// `torch.empty(shape).uniform_(low, high)`: `u * (high - low) + low` (fused, as in torch's build), with a
    /// result that rounds up to `high` replaced by `low`, as torch does.
    public mutating func uniform(low: Double, high: Double, shape: [Int]) -> Tensor {
        let from = Float(low), to = Float(high)
        tensorCheck(from <= to, "TorchGenerator.uniform", "expects low <= high, got low \(low), high \(high)")
        tensorCheck((to - from).isFinite, "TorchGenerator.uniform",
                    "high - low must be finite in float32, got low \(low), high \(high)")
        var out = Tensor(uninitializedShape: shape)
        let n = out.count
        let range = to - from
        out.withMutableBuffer { buf in
            engine.withCursor { c in
                if from == 0 && to == 1 {
                    // u * 1 + 0 is u exactly and never reaches 1: skip the fused multiply-add (a libm call here).
                    for i in 0..<n { buf[i] = TorchGenerator.unitFloat(c.draw()) }
                    return
                }
                for i in 0..<n {
                    let v = from.addingProduct(TorchGenerator.unitFloat(c.draw()), range)
                    buf[i] = v == to ? from : v
                }
            }
        }
        return out
    }

    /// `torch.randint(low, high, (count,))`: integers in `low..<high`, as `(draw % range) + low` with a 32-bit draw
    /// for ranges below 2^28 and a 64-bit draw from 2^28 on (`uniform_int_from_to_distribution`).
    public mutating func randint(low: Int, high: Int, count: Int) -> [Int] {
        tensorCheck(low < high, "TorchGenerator.randint", "expects low < high, got low \(low), high \(high)")
        tensorCheck(count >= 0, "TorchGenerator.randint", "negative count \(count)")
        let base = UInt64(bitPattern: Int64(low))
        let range = UInt64(bitPattern: Int64(high)) &- base
        var out = [Int](repeating: 0, count: count)
        out.withUnsafeMutableBufferPointer { buf in
            engine.withCursor { c in
                if range >= 1 << 28 {
                    for i in 0..<count { buf[i] = Int(Int64(bitPattern: c.draw64() % range &+ base)) }
                } else {
                    for i in 0..<count { buf[i] = Int(Int64(bitPattern: UInt64(c.draw()) % range &+ base)) }
                }
            }
        }
        return out
    }

    /// `torch.randperm(n)`: a random permutation of `0..<n`. Below 214,748,364 elements this is torch's
    /// swap-with-random-later loop on 32-bit draws; from there on, its inside-out Fisher-Yates on 64-bit draws.
    public mutating func randperm(_ n: Int) -> [Int] {
        tensorCheck(n >= 0, "TorchGenerator.randperm", "n must be non-negative, got \(n)")
        var out = [Int](repeating: 0, count: n)
        out.withUnsafeMutableBufferPointer { r in
            engine.withCursor { c in
                if n < Int(UInt32.max / 20) {
                    for i in 0..<n { r[i] = i }
                    var i = 0
                    while i < n - 1 {
                        let z = Int(UInt64(c.draw()) % UInt64(n - i))
                        r.swapAt(i, z + i)
                        i += 1
                    }
                } else {
                    for i in 0..<n {
                        let z = Int(c.draw64() % UInt64(i + 1))
                        r[i] = r[z]
                        r[z] = i
                    }
                }
            }
        }
        return out
    }

    // MARK: Transformations

    @inline(__always)
    static func unitFloat(_ v: UInt32) -> Float {
        Float(v & 0x00FF_FFFF) * (1.0 / 16_777_216.0)
    }

    @inline(__always)
    static func unitDouble(_ v: UInt64) -> Double {
        Double(v & ((1 << 53) - 1)) * (1.0 / 9_007_199_254_740_992.0)
    }

    /// `at::normal_distribution<double>::operator()`; `val * std + mean` is fused as in torch's build.
    @inline(__always)
    static func scalarNormal(_ c: inout MTCursor, cache: inout Double?, mean: Double, std: Double) -> Double {
        if let cached = cache {
            cache = nil
            return mean.addingProduct(cached, std)
        }
        let u1 = unitDouble(c.draw64())
        let u2 = unitDouble(c.draw64())
        let r = (-2.0 * log1p(-u2)).squareRoot()
        let theta = 2.0 * Double.pi * u1
        cache = r * sin(theta)
        return mean.addingProduct(r * cos(theta), std)
    }
}

/// The state of `at::mt19937`: 624 words, a countdown to the next twist and a read position.
struct MT19937 {
    private var state: ContiguousArray<UInt32>
    private var left: Int
    private var next: Int

    /// `init_with_uint32`: only the low 32 bits of the seed enter the state.
    init(seed: UInt64) {
        var s = ContiguousArray<UInt32>(repeating: 0, count: 624)
        s[0] = UInt32(truncatingIfNeeded: seed)
        for j in 1..<624 {
            let p = s[j - 1]
            s[j] = 1_812_433_253 &* (p ^ (p >> 30)) &+ UInt32(j)
        }
        state = s
        left = 1
        next = 0
    }

    /// Runs `body` with a cursor over the state (one uniqueness check per call, not per draw).
    @inline(__always)
    mutating func withCursor<R>(_ body: (inout MTCursor) -> R) -> R {
        var l = left, nx = next
        let result = state.withUnsafeMutableBufferPointer { buf -> R in
            var c = MTCursor(s: buf.baseAddress!, left: l, next: nx)
            let r = body(&c)
            l = c.left
            nx = c.next
            return r
        }
        left = l
        next = nx
        return result
    }
}

/// Draws from an `MT19937` state borrowed by `MT19937.withCursor`.
struct MTCursor {
    let s: UnsafeMutablePointer<UInt32>
    var left: Int
    var next: Int

    @inline(__always)
    mutating func draw() -> UInt32 {
        left -= 1
        if left == 0 { twist() }
        var y = s[next]
        next += 1
        y ^= y >> 11
        y ^= (y << 7) & 0x9D2C_5680
        y ^= (y << 15) & 0xEFC6_0000
        y ^= y >> 18
        return y
    }

    @inline(__always)
    mutating func draw64() -> UInt64 {
        let hi = UInt64(draw())
        let lo = UInt64(draw())
        return hi << 32 | lo
    }

    @inline(__always)
    private static func mix(_ u: UInt32, _ v: UInt32) -> UInt32 {
        (((u & 0x8000_0000) | (v & 0x7FFF_FFFF)) >> 1) ^ ((v & 1) != 0 ? 0x9908_B0DF : 0)
    }

    /// `next_state()`: regenerates all 624 words.
    private mutating func twist() {
        left = 624
        next = 0
        for i in 0..<227 { s[i] = s[i + 397] ^ MTCursor.mix(s[i], s[i + 1]) }
        for i in 227..<623 { s[i] = s[i - 227] ^ MTCursor.mix(s[i], s[i + 1]) }
        s[623] = s[396] ^ MTCursor.mix(s[623], s[0])
    }
}

/// The Box-Muller blocks of torch's `normal_fill`: the AVX2 kernel one lane at a time, and the scalar kernel.
///
/// Port of `normal_fill_16_AVX2` with `log256_ps` and `sincos256_ps` from ATen's avx_mathfun.h (Cephes
/// polynomials). Every `fused` call stands where GCC contracts a multiply and an add into one FMA in torch's
/// build (read from GCC's optimized tree dump of that code and checked against torch on millions of samples);
/// every other operation rounds separately. Where the contracted product is exact (a small integer times a
/// constant with few significant bits, or a product with 0.5) the FMA is written as a plain multiply and add,
/// which gives the same bits without the cost of a software `fmaf` call (Swift targets x86-64 without FMA).
/// Constants are the float values of the header's literals.
enum TorchBoxMuller {
    @inline(__always)
    static func fused(_ a: Float, _ b: Float, _ c: Float) -> Float { c.addingProduct(a, b) }

    /// Transforms 16 uniforms in [0, 1) in place into 16 normals with the given mean and standard deviation.
    static func fill16(_ d: UnsafeMutablePointer<Float>, mean: Float, std: Float) {
        let twoPi: Float = 6.283185482025146484375  // Float(2 * Double.pi)
        let standard = mean == 0 && std == 1  // fma(n, 1, 0) == n
        for j in 0..<8 {
            let u1 = 1 - d[j]
            let u2 = d[j + 8]
            let radius = (-2 * cephesLog(u1)).squareRoot()
            let (s, c) = cephesSinCos(twoPi * u2)
            if standard {
                d[j] = radius * c
                d[j + 8] = radius * s
            } else {
                d[j] = fused(radius * c, std, mean)
                d[j + 8] = fused(radius * s, std, mean)
            }
        }
    }

    /// The scalar `NormalFill16` of torch's non-AVX2 builds: libm `logf`, `cosf`, `sinf`, the angle computed in
    /// double and rounded to float, and `std::fma` for the scale and shift.
    static func fill16Scalar(_ d: UnsafeMutablePointer<Float>, mean: Float, std: Float) {
        for j in 0..<8 {
            let u1 = 1 - d[j]
            let u2 = d[j + 8]
            let radius = (-2 * Foundation.log(u1)).squareRoot()
            let theta = Float(2 * Double.pi * Double(u2))
            d[j] = fused(radius * Foundation.cos(theta), std, mean)
            d[j + 8] = fused(radius * Foundation.sin(theta), std, mean)
        }
    }

    /// `log256_ps` for one lane.
    @inline(__always)
    static func cephesLog(_ input: Float) -> Float {
        if !(input > 0) { return Float(bitPattern: 0xFFFF_FFFF) }  // the header ORs an all-ones mask: NaN
        let bits = Swift.max(input, Float(bitPattern: 0x0080_0000)).bitPattern
        var e = Float(Int32(bitPattern: bits >> 23) &- 0x7F) + 1
        var x = Float(bitPattern: (bits & ~UInt32(0x7F80_0000)) | Float(0.5).bitPattern)
        let below = x < Float(0.707106769084930419921875)  // Float(0.707106781186547524), sqrt(1/2)
        let tmp: Float = below ? x : 0
        x = x - 1
        e = e - (below ? 1 : 0)
        x = tmp + x
        let z = x * x
        var y = fused(x, 7.0376835763454437255859375e-2, -1.15146100521087646484375e-1)
        y = fused(x, y, 1.1676998436450958251953125e-1)
        y = fused(x, y, -1.24201409518718719482421875e-1)
        y = fused(x, y, 1.4249323308467864990234375e-1)
        y = fused(x, y, -1.666805744171142578125e-1)
        y = fused(x, y, 2.00007140636444091796875e-1)
        y = fused(x, y, -2.49999940395355224609375e-1)
        y = fused(x, y, 3.33333313465118408203125e-1)
        y = x * y
        y = fused(z, y, e * -2.12194441701285541057586669921875e-4)
        y = y - z * 0.5  // FNMA; z * 0.5 is exact
        let r = x + y
        return r + e * 0.693359375  // FMA; e is an integer below 2^8 and the constant has 9 bits: exact product
    }

    /// `sincos256_ps` for one lane: (sin x, cos x), for |x| < 3000 (the Box-Muller angle is in [0, 2 pi)), where
    /// the octant `y` has few enough bits that `y * DP1` and `y * DP2` are exact.
    @inline(__always)
    static func cephesSinCos(_ input: Float) -> (Float, Float) {
        let signIn = input.bitPattern & 0x8000_0000
        var x = Float(bitPattern: input.bitPattern & 0x7FFF_FFFF)
        let scaled = x * 1.27323949337005615234375  // 4 / pi
        // cvttps_epi32: truncation, out-of-range and NaN give INT32_MIN.
        var j: Int32 = scaled < 2_147_483_648 ? Int32(scaled) : Int32.min
        j = (j &+ 1) & ~1
        let y = Float(j)
        let swapSignSin = UInt32(bitPattern: j & 4) << 29
        let polyMask = (j & 2) == 0
        x = x + y * -7.8515625e-1  // FMA with an exact product (DP1 has 8 significant bits)
        x = x + y * -2.4187564849853515625e-4  // FMA with an exact product (DP2 has 12 significant bits)
        x = fused(y, -3.7748950632021660567261278629302978515625e-8, x)
        let signCos = UInt32(bitPattern: ~(j &- 2) & 4) << 29
        let signSin = signIn ^ swapSignSin
        let z = x * x
        var yc = fused(z, 2.443315679556690156459808349609375e-5, -1.38873164542019367218017578125e-3)
        yc = fused(z, yc, 4.16666455566883087158203125e-2)
        yc = z * yc
        yc = fused(z, yc, -(z * 0.5))
        yc = yc + 1
        var ys = fused(z, -1.95152955711819231510162353515625e-4, 8.33216123282909393310546875e-3)
        ys = fused(z, ys, -1.6666655242443084716796875e-1)
        ys = z * ys
        ys = fused(x, ys, x)
        let ysin2: Float = polyMask ? ys : 0
        let ysin1: Float = polyMask ? 0 : yc
        let restSin = ys - ysin2
        let restCos = yc - ysin1
        let s = ysin2 + ysin1
        let c = restSin + restCos
        return (Float(bitPattern: s.bitPattern ^ signSin), Float(bitPattern: c.bitPattern ^ signCos))
    }
}

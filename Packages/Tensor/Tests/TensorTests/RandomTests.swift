import Foundation
import Tensor
import XCTest

/// `TorchGenerator` against PyTorch: every fixture case (Tools/reference/fixtures/torch_rng.py) is replayed on a
/// fresh generator and must match torch's output bit for bit.
final class RandomTests: XCTestCase {
    // MARK: Fixture format

    struct Op: Decodable {
        let op: String
        let shape: [Int]?
        let mean: Double?
        let std: Double?
        let low: Double?
        let high: Double?
        let count: Int?
        let n: Int?
    }

    struct Output: Decodable {
        let f32: [UInt32]?
        let f64: [String]?
        let i64: [Int64]?
        let count: Int?
        let fnv1a64: String?
        let head: [UInt32]?
        let tail: [UInt32]?
    }

    struct Case: Decodable {
        let name: String
        let seed: UInt64
        let ops: [Op]
        let outputs: [Output]
    }

    struct Fixture: Decodable {
        let torch_version: String
        let cpu_capability: String
        let cases: [Case]
    }

    static let fixture: Fixture = {
        let url = Bundle.module.url(forResource: "Fixtures", withExtension: nil)!
            .appendingPathComponent("torch_rng.json")
        do {
            return try JSONDecoder().decode(Fixture.self, from: Data(contentsOf: url))
        } catch {
            fatalError("RandomTests: cannot read fixture \(url.lastPathComponent): \(error)")
        }
    }()

    /// What one replayed op produced.
    enum Result {
        case floats([Float])
        case doubles([Double])
        case ints([Int])
        case none
    }

    static func replay(_ op: Op, on g: inout TorchGenerator) -> Result {
        switch op.op {
        case "randn": return .floats(Tensor.randn(op.shape!, generator: &g).scalars)
        case "rand": return .floats(Tensor.rand(op.shape!, generator: &g).scalars)
        case "normal":
            return .floats(Tensor.normal(mean: op.mean!, std: op.std!, shape: op.shape!, generator: &g).scalars)
        case "uniform": return .floats(g.uniform(low: op.low!, high: op.high!, shape: op.shape!).scalars)
        case "randint": return .ints(g.randint(low: Int(op.low!), high: Int(op.high!), count: op.count!))
        case "randperm": return .ints(g.randperm(op.n!))
        case "randn_f64": return .doubles((0..<op.count!).map { _ in g.normalDouble() })
        case "rand_f64": return .doubles((0..<op.count!).map { _ in g.uniformDouble() })
        case "skip":
            for _ in 0..<op.count! { _ = g.random32() }
            return .none
        default:
            XCTFail("unknown fixture op \(op.op)")
            return .none
        }
    }

    static func fnv1a64(_ bits: [UInt32]) -> String {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for w in bits {
            for k in 0..<4 {
                h ^= UInt64((w >> (8 * UInt32(k))) & 0xFF)
                h = h &* 0x0000_0100_0000_01B3
            }
        }
        let hex = String(h, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }

    /// Replays the fixture cases whose name starts with `prefix`; returns how many ops were checked.
    @discardableResult
    func checkCases(prefix: String, kernel: TorchGenerator.NormalKernel = .avx2,
                    file: StaticString = #filePath, line: UInt = #line) -> Int {
        let cases = Self.fixture.cases.filter { $0.name.hasPrefix(prefix) }
        XCTAssertFalse(cases.isEmpty, "no fixture case named \(prefix)*", file: file, line: line)
        var checked = 0
        for c in cases {
            var g = TorchGenerator(seed: c.seed, normalKernel: kernel)
            XCTAssertEqual(c.ops.count, c.outputs.count, c.name)
            for (k, (op, want)) in zip(c.ops, c.outputs).enumerated() {
                let where_ = "\(c.name) op \(k) (\(op.op))"
                let got = Self.replay(op, on: &g)
                checked += 1
                switch got {
                case .floats(let v):
                    let bits = v.map(\.bitPattern)
                    if let w = want.f32 {
                        compareBits(bits, w, where_, file: file, line: line)
                    } else if let hash = want.fnv1a64 {
                        XCTAssertEqual(bits.count, want.count, where_, file: file, line: line)
                        compareBits(Array(bits.prefix(8)), want.head!, where_ + " head", file: file, line: line)
                        compareBits(Array(bits.suffix(8)), want.tail!, where_ + " tail", file: file, line: line)
                        XCTAssertEqual(Self.fnv1a64(bits), hash, "\(where_): hash of all elements", file: file, line: line)
                    } else {
                        XCTFail("\(where_): fixture has no float output", file: file, line: line)
                    }
                case .doubles(let v):
                    let w = want.f64!.map { UInt64($0, radix: 16)! }
                    XCTAssertEqual(v.map(\.bitPattern), w, where_, file: file, line: line)
                case .ints(let v):
                    XCTAssertEqual(v.map { Int64($0) }, want.i64!, where_, file: file, line: line)
                case .none:
                    break
                }
            }
        }
        return checked
    }

    func compareBits(_ got: [UInt32], _ want: [UInt32], _ where_: String,
                     file: StaticString = #filePath, line: UInt = #line) {
        guard got.count == want.count else {
            XCTFail("\(where_): \(got.count) elements, torch has \(want.count)", file: file, line: line)
            return
        }
        var bad = 0, maxUlp: Int64 = 0, first = -1
        for i in 0..<got.count where got[i] != want[i] {
            bad += 1
            if first < 0 { first = i }
            maxUlp = Swift.max(maxUlp, abs(Int64(Int32(bitPattern: got[i])) - Int64(Int32(bitPattern: want[i]))))
        }
        if bad > 0 {
            XCTFail("\(where_): \(bad) of \(got.count) elements differ from torch (max \(maxUlp) ulp); first at \(first): "
                    + "\(Float(bitPattern: got[first])) vs \(Float(bitPattern: want[first]))", file: file, line: line)
        }
    }

    // MARK: Fixture cases

    func testFixtureIsFromTorch() {
        XCTAssertTrue(Self.fixture.torch_version.hasPrefix("2."), Self.fixture.torch_version)
        XCTAssertGreaterThan(Self.fixture.cases.count, 40)
    }

    /// Shapes 1, 7, 15 (scalar double Box-Muller), 16, 17, 33, [2,4,8,8], 1000 (AVX2 blocks, recomputed tail),
    /// seeds 0, 42, 2^32+5.
    func testRandnMatchesTorch() {
        XCTAssertEqual(checkCases(prefix: "randn["), 24)
    }

    func testRandMatchesTorch() {
        XCTAssertEqual(checkCases(prefix: "rand["), 24)
    }

    /// 70001 elements: the block transform runs on several threads; a second call must continue the stream.
    func testLargeRandnMatchesTorch() {
        checkCases(prefix: "randn_large_parallel")
    }

    /// randn/rand/randint/randperm/normal interleaved on one generator, including the cached Box-Muller sample.
    func testInterleavedSequenceMatchesTorch() {
        checkCases(prefix: "sequence_scalar_cache")
    }

    /// randint around the 2^28 switch to 64-bit draws and far beyond, randperm(100), uniform_(low, high), empty
    /// tensors.
    func testWideRangesMatchTorch() {
        checkCases(prefix: "sequence_wide_ranges")
    }

    /// float64 scalar normals and 53-bit uniforms, unrounded; seed 2^32+5.
    func testDoublePathsMatchTorch() {
        checkCases(prefix: "sequence_double_paths")
    }

    /// A uniform that rounds up to `high` is returned as `low`, as in torch (needs 44 million draws first).
    func testUniformRoundingToHighMatchesTorch() {
        checkCases(prefix: "uniform_rounds_to_high")
    }

    /// torch's scalar kernel (non-AVX2 CPUs), from torch run with ATEN_CPU_CAPABILITY=default. It calls libm's
    /// logf/cosf/sinf, so the bits are only expected where libm is glibc, as for the fixture.
    func testScalarKernelMatchesTorchDefaultCapability() throws {
        #if os(Linux)
        XCTAssertEqual(checkCases(prefix: "scalar_kernel_", kernel: .scalar), 14)
        #else
        throw XCTSkip("the scalar kernel's fixture was made with glibc's logf/cosf/sinf")
        #endif
    }

    /// The two kernels agree closely but not bitwise, and manualSeed keeps the kernel choice.
    func testKernelsDifferOnlyInLastBits() {
        var a = TorchGenerator(seed: 4), b = TorchGenerator(seed: 4, normalKernel: .scalar)
        b.manualSeed(4)
        XCTAssertEqual(b.normalKernel, .scalar)
        let x = a.randn([4096]).scalars, y = b.randn([4096]).scalars
        XCTAssertNotEqual(x, y)
        for (u, v) in zip(x, y) { XCTAssertEqual(u, v, accuracy: 2e-6 * Swift.max(1, abs(u))) }
        XCTAssertEqual(a.randn([15]).scalars, b.randn([15]).scalars)  // the scalar double path is shared
    }

    // MARK: Independent checks

    /// The C++ standard fixes the 10000th output of mt19937 with its default seed 5489 at 4123659995.
    func testMersenneTwisterStandardValue() {
        var g = TorchGenerator(seed: 5489)
        var last: UInt32 = 0
        for _ in 0..<10000 { last = g.random32() }
        XCTAssertEqual(last, 4_123_659_995)
    }

    func testRandom64JoinsTwoDrawsHighFirst() {
        var a = TorchGenerator(seed: 7), b = TorchGenerator(seed: 7)
        for _ in 0..<700 {  // crosses a twist of the 624-word state
            let hi = UInt64(a.random32()), lo = UInt64(a.random32())
            XCTAssertEqual(b.random64(), hi << 32 | lo)
        }
        var c = TorchGenerator(seed: 7)
        let u = c.uniformFloat()
        var d = TorchGenerator(seed: 7)
        XCTAssertEqual(u, Float(d.random32() & 0xFF_FFFF) / 16_777_216)
        XCTAssertTrue((0..<1000).allSatisfy { _ in (0..<1).contains(c.uniformDouble()) })
    }

    /// Only the low 32 bits of the seed reach the engine, as in torch.
    func testSeedUsesLow32Bits() {
        var a = TorchGenerator(seed: 5), b = TorchGenerator(seed: (1 << 32) + 5)
        XCTAssertEqual(a.randn([40]).scalars, b.randn([40]).scalars)
        XCTAssertEqual(b.seed, (1 << 32) + 5)
    }

    func testCopyForksAndReseedResets() {
        var a = TorchGenerator(seed: 3)
        _ = a.randn([3])  // leaves a cached sample
        XCTAssertNotNil(a.cachedNormal)
        var b = a
        XCTAssertEqual(a.randn([5]).scalars, b.randn([5]).scalars)
        XCTAssertEqual(a.randint(low: 0, high: 1000, count: 9), b.randint(low: 0, high: 1000, count: 9))
        b.manualSeed(3)
        XCTAssertNil(b.cachedNormal)
        var fresh = TorchGenerator(seed: 3)
        XCTAssertEqual(b.randn([3]).scalars, fresh.randn([3]).scalars)
    }

    func testRandpermAndRandintRanges() {
        var g = TorchGenerator(seed: 11)
        for n in [0, 1, 2, 17, 1000] {
            XCTAssertEqual(g.randperm(n).sorted(), Array(0..<n))
        }
        let ints = g.randint(low: -3, high: 4, count: 5000)
        XCTAssertEqual(Set(ints), Set(-3..<4))
        let wide = g.randint(low: Int.min / 2, high: Int.max / 2, count: 100)
        XCTAssertTrue(wide.allSatisfy { $0 >= Int.min / 2 && $0 < Int.max / 2 })
    }

    /// Moments of a large sample, with bounds several standard errors wide.
    func testDistributionMoments() {
        var g = TorchGenerator(seed: 123)
        let n = 200_000
        let samples: [(Tensor, Double, Double)] = [(g.randn([n]), 0, 1), (g.normal(mean: 2, std: 0.5, shape: [n]), 2, 0.5)]
        for (t, wantMean, wantStd) in samples {
            let v = t.scalars.map(Double.init)
            let mean = v.reduce(0, +) / Double(n)
            let variance = v.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(n - 1)
            XCTAssertEqual(mean, wantMean, accuracy: 5 * wantStd / Double(n).squareRoot())
            XCTAssertEqual(variance, wantStd * wantStd, accuracy: 0.02 * wantStd * wantStd)
        }
        let u = g.rand([n]).scalars
        XCTAssertTrue(u.allSatisfy { $0 >= 0 && $0 < 1 })
        XCTAssertEqual(Double(u.reduce(0, +)) / Double(n), 0.5, accuracy: 0.005)
        let big = g.randn([n]).scalars
        XCTAssertTrue(big.allSatisfy { $0.isFinite })
    }

    /// The Cephes kernels the normal path is built on stay close to libm (they differ only in the last bits).
    func testBlockTransformCloseToLibm() {
        var g = TorchGenerator(seed: 9)
        var h = g
        let uniforms = (0..<4096).map { _ in h.uniformFloat() }
        let normals = g.randn([4096]).scalars
        for b in 0..<256 {
            for j in 0..<8 {
                let u1 = Double(1 - uniforms[16 * b + j]), u2 = Double(uniforms[16 * b + j + 8])
                let r = (-2 * Foundation.log(u1)).squareRoot()
                let theta = Double(Float(2 * Double.pi)) * u2
                XCTAssertEqual(Double(normals[16 * b + j]), r * Foundation.cos(theta), accuracy: 1e-5 * Swift.max(1, r))
                XCTAssertEqual(Double(normals[16 * b + j + 8]), r * Foundation.sin(theta), accuracy: 1e-5 * Swift.max(1, r))
            }
        }
    }
}

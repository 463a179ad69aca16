import Foundation
import Tensor
import XCTest

/// Test helpers for the elementwise / reduction / indexing / softmax tests: a deterministic generator,
/// tolerant comparison and a brute-force reference for broadcasting and strided reads.
enum OpsA {
    /// SplitMix64-based uniform floats in [-1, 1) (deterministic, independent of the library under test).
    struct Rng {
        var state: UInt64
        init(_ seed: UInt64) { state = seed }
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        mutating func uniform() -> Float { Float(next() >> 40) / Float(1 << 24) * 2 - 1 }
        mutating func tensor(_ shape: [Int], scale: Float = 1) -> Tensor {
            Tensor(shape: shape, scalars: (0..<shape.reduce(1, *)).map { _ in uniform() * scale })
        }
        mutating func int(_ n: Int) -> Int { Int(next() % UInt64(n)) }
    }

    static func assertClose(_ actual: [Float], _ expected: [Float], atol: Float = 1e-6, rtol: Float = 1e-5,
                            _ message: String = "", file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(actual.count, expected.count, "count differs \(message)", file: file, line: line)
        guard actual.count == expected.count else { return }
        var worst = 0, worstErr: Float = 0
        for i in 0..<actual.count {
            let a = actual[i], e = expected[i]
            if a.isNaN && e.isNaN { continue }
            if a == e { continue }  // covers equal infinities
            let err = Swift.abs(a - e) - (atol + rtol * Swift.abs(e))
            if !(err <= 0) && (err > worstErr || err.isNaN) { worst = i; worstErr = err.isNaN ? .infinity : err }
        }
        if worstErr > 0 {
            XCTFail("\(message): element \(worst) is \(actual[worst]), expected \(expected[worst])", file: file, line: line)
        }
    }

    static func assertClose(_ actual: Tensor, _ expected: Tensor, atol: Float = 1e-6, rtol: Float = 1e-5,
                            _ message: String = "", file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(actual.shape, expected.shape, "shape \(message)", file: file, line: line)
        assertClose(actual.scalars, expected.scalars, atol: atol, rtol: rtol, message, file: file, line: line)
    }

    /// Row-major multi-indices of a shape.
    static func indices(_ shape: [Int]) -> [[Int]] {
        let n = shape.reduce(1, *)
        if n == 0 { return [] }
        var out: [[Int]] = []
        out.reserveCapacity(n)
        var idx = [Int](repeating: 0, count: shape.count)
        for _ in 0..<n {
            out.append(idx)
            var d = shape.count - 1
            while d >= 0 {
                idx[d] += 1
                if idx[d] < shape[d] { break }
                idx[d] = 0
                d -= 1
            }
        }
        return out
    }

    /// Element of `t` at `index` read straight from storage through shape/strides/offset (no library ops).
    static func element(_ t: Tensor, _ index: [Int]) -> Float {
        var off = t.offset
        for (i, s) in zip(index, t.strides) { off += i * s }
        return t.storage.pointer[off]
    }

    /// Element of `t` when broadcast to `shape` (trailing alignment, size-1 axes repeat).
    static func broadcastElement(_ t: Tensor, _ index: [Int]) -> Float {
        let lead = index.count - t.rank
        let own = (0..<t.rank).map { t.shape[$0] == 1 ? 0 : index[$0 + lead] }
        return element(t, own)
    }

    /// Brute-force NumPy broadcasting of a binary function.
    static func naiveBinary(_ a: Tensor, _ b: Tensor, _ f: (Float, Float) -> Float) -> Tensor {
        let r = Swift.max(a.rank, b.rank)
        let pa = [Int](repeating: 1, count: r - a.rank) + a.shape
        let pb = [Int](repeating: 1, count: r - b.rank) + b.shape
        let shape = zip(pa, pb).map { $0 == 1 ? $1 : $0 }
        let vals = indices(shape).map { f(broadcastElement(a, $0), broadcastElement(b, $0)) }
        return Tensor(shape: shape, scalars: vals)
    }
}

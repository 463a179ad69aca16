import Foundation
import XCTest
import Tensor

/// Shared helpers of the matmul/conv/pooling/normalisation/attention tests: the PyTorch fixtures written by
/// Tools/reference/fixtures/tensor_ops_b.py, a seeded random source and tolerant comparisons.
enum OpsB {
    struct Fixtures {
        let index: [String: (shape: [Int], offset: Int)]
        let params: [String: [String: Any]]
        let data: [Float]
    }

    static let fixtures: Fixtures = {
        guard let dir = Bundle.module.url(forResource: "Fixtures", withExtension: nil),
              let json = try? Data(contentsOf: dir.appendingPathComponent("tensor_ops_b.json")),
              let bin = try? Data(contentsOf: dir.appendingPathComponent("tensor_ops_b.bin")),
              let root = try? JSONSerialization.jsonObject(with: json) as? [String: Any],
              let tensors = root["tensors"] as? [String: [String: Any]] else {
            fatalError("tensor_ops_b fixtures missing: run Tools/reference/fixtures/tensor_ops_b.py")
        }
        var index: [String: (shape: [Int], offset: Int)] = [:]
        for (name, entry) in tensors {
            index[name] = ((entry["shape"] as! [NSNumber]).map(\.intValue), (entry["offset"] as! NSNumber).intValue)
        }
        var data = [Float](repeating: 0, count: bin.count / 4)
        data.withUnsafeMutableBytes { dst in _ = bin.copyBytes(to: dst) }
        for i in data.indices { data[i] = Float(bitPattern: UInt32(littleEndian: data[i].bitPattern)) }
        return Fixtures(index: index, params: root["params"] as? [String: [String: Any]] ?? [:], data: data)
    }()

    /// The fixture tensor `name` (for example "conv_basic.gx").
    static func t(_ name: String) -> Tensor {
        guard let e = fixtures.index[name] else { fatalError("no fixture tensor \(name)") }
        let n = e.shape.reduce(1, *)
        return Tensor(shape: e.shape, scalars: Array(fixtures.data[e.offset..<(e.offset + n)]))
    }

    static func has(_ name: String) -> Bool { fixtures.index[name] != nil }

    static func intPair(_ c: String, _ key: String) -> (Int, Int) {
        let a = (fixtures.params[c]![key] as! [NSNumber]).map(\.intValue)
        return (a[0], a[1])
    }

    static func int(_ c: String, _ key: String) -> Int { (fixtures.params[c]![key] as! NSNumber).intValue }

    /// Reference product of row-major [m, k] x [k, n] in Double.
    static func naiveMatmul(_ a: [Float], _ b: [Float], m: Int, k: Int, n: Int) -> [Float] {
        var out = [Float](repeating: 0, count: m * n)
        for i in 0..<m {
            for j in 0..<n {
                var s = 0.0
                for p in 0..<k { s += Double(a[i * k + p]) * Double(b[p * n + j]) }
                out[i * n + j] = Float(s)
            }
        }
        return out
    }

    /// Uniform values in [-1, 1) from a 64-bit LCG (independent of the library's generators).
    static func random(_ shape: [Int], seed: UInt64) -> Tensor {
        var s = seed &* 6364136223846793005 &+ 1442695040888963407
        let n = shape.reduce(1, *)
        var v = [Float](repeating: 0, count: n)
        for i in 0..<n {
            s = s &* 6364136223846793005 &+ 1442695040888963407
            v[i] = Float(s >> 40) / Float(1 << 23) - 1
        }
        return Tensor(shape: shape, scalars: v)
    }

    /// Asserts equal shapes and |a - b| <= atol + rtol * |b| everywhere, reporting the worst element.
    static func assertClose(_ a: Tensor, _ b: Tensor, atol: Float = 1e-4, rtol: Float = 1e-4, _ what: String,
                            file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.shape, b.shape, "\(what): shape", file: file, line: line)
        guard a.shape == b.shape else { return }
        let x = a.scalars, y = b.scalars
        var worst = 0, worstExcess: Float = -1
        for i in x.indices {
            let excess = abs(x[i] - y[i]) - (atol + rtol * abs(y[i]))
            if !(excess <= 0) && (excess > worstExcess || excess.isNaN) { worst = i; worstExcess = excess.isNaN ? .infinity : excess }
        }
        if worstExcess > 0 {
            XCTFail("\(what): element \(worst) is \(x[worst]), expected \(y[worst])", file: file, line: line)
        }
    }

    /// A-priori bound on how far two Float32 evaluations of the same sum of `terms` products may differ when they
    /// group or order the terms differently (other tiles, worker splits or BLAS kernels): each is within
    /// gamma_n = n u of the exact value times the sum of |terms| (Higham, 3.1), u = ulpOfOne / 2, so the two are
    /// within n ulpOfOne `magnitude`, where `magnitude` bounds the sum of |terms|.
    static func summationBound(terms: Int, magnitude: Float) -> Float {
        Float(terms) * Float.ulpOfOne * magnitude
    }

    /// Largest |x| of `t` (0 for an empty tensor).
    static func maxAbs(_ t: Tensor) -> Float { t.scalars.reduce(0) { Swift.max($0, abs($1)) } }

    /// Sum of elementwise products in Double (for adjoint identities).
    static func dot(_ a: Tensor, _ b: Tensor) -> Double {
        zip(a.scalars, b.scalars).reduce(0) { $0 + Double($1.0) * Double($1.1) }
    }

    /// Elementwise comparison of Float arrays with an absolute tolerance.
    static func assertArray(_ a: [Float], _ b: [Float], accuracy: Float, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.count, b.count, "count", file: file, line: line)
        for (i, (x, y)) in zip(a, b).enumerated() where !(abs(x - y) <= accuracy) {
            XCTFail("element \(i): \(x) != \(y) (accuracy \(accuracy))", file: file, line: line)
            return
        }
    }
}

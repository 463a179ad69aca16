import Foundation
import Tensor
import XCTest

/// Test fixtures written by Tools/reference/fixtures/nn_*.py (float32 safetensors and JSON).
enum Fixtures {
    static func url(_ name: String) throws -> URL {
        guard let base = Bundle.module.resourceURL else { throw FixtureError("no resource bundle") }
        return base.appendingPathComponent("Fixtures").appendingPathComponent(name)
    }

    /// Reads a float32 safetensors file into tensors by name (enough for the fixtures; not a general loader).
    static func safetensors(_ name: String) throws -> [String: Tensor] {
        let data = try Data(contentsOf: url(name))
        guard data.count >= 8 else { throw FixtureError("\(name): too short") }
        let headerLen = data.prefix(8).withUnsafeBytes { Int(UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self))) }
        guard let header = try JSONSerialization.jsonObject(with: data.subdata(in: 8..<(8 + headerLen))) as? [String: Any] else {
            throw FixtureError("\(name): bad header")
        }
        var out: [String: Tensor] = [:]
        let base = 8 + headerLen
        for (key, value) in header where key != "__metadata__" {
            guard let info = value as? [String: Any], let dtype = info["dtype"] as? String,
                  let shape = info["shape"] as? [Int], let offsets = info["data_offsets"] as? [Int] else {
                throw FixtureError("\(name): bad entry \(key)")
            }
            guard dtype == "F32" else { throw FixtureError("\(name): \(key) has dtype \(dtype), expected F32") }
            let bytes = data.subdata(in: (base + offsets[0])..<(base + offsets[1]))
            let scalars = bytes.withUnsafeBytes { raw in
                (0..<(bytes.count / 4)).map { Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self))) }
            }
            out[key] = Tensor(shape: shape, scalars: scalars)
        }
        return out
    }

    static func json(_ name: String) throws -> [String: Any] {
        guard let obj = try JSONSerialization.jsonObject(with: Data(contentsOf: url(name))) as? [String: Any] else {
            throw FixtureError("\(name): not a JSON object")
        }
        return obj
    }

    /// The entries under `prefix.` with the prefix removed.
    static func subdict(_ d: [String: Tensor], _ prefix: String) -> [String: Tensor] {
        var out: [String: Tensor] = [:]
        for (k, v) in d where k.hasPrefix(prefix + ".") { out[String(k.dropFirst(prefix.count + 1))] = v }
        return out
    }
}

struct FixtureError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}

/// Asserts equal shapes and max |a − b| ≤ atol + rtol·|b|.
func assertClose(_ a: Tensor, _ b: Tensor, atol: Float = 1e-5, rtol: Float = 0, _ what: String = "",
                 file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(a.shape, b.shape, "\(what): shape", file: file, line: line)
    guard a.shape == b.shape else { return }
    let x = a.scalars, y = b.scalars
    var worst: Float = 0, worstIndex = 0
    for i in 0..<x.count {
        let excess = abs(x[i] - y[i]) - (atol + rtol * abs(y[i]))
        if excess > worst || x[i].isNaN { worst = x[i].isNaN ? .infinity : excess; worstIndex = i }
    }
    XCTAssertLessThanOrEqual(worst, 0, "\(what): element \(worstIndex) is \(x[worstIndex]), expected \(y[worstIndex])",
                             file: file, line: line)
}

func maxAbsDiff(_ a: Tensor, _ b: Tensor) -> Float {
    zip(a.scalars, b.scalars).reduce(0) { max($0, abs($1.0 - $1.1)) }
}

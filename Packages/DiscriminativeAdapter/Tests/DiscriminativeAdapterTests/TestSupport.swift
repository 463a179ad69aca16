import DataIO
import Foundation
import Tensor
import XCTest

func fixtureURL(_ name: String, _ ext: String) throws -> URL {
    try XCTUnwrap(Bundle.module.url(forResource: name, withExtension: ext, subdirectory: "Fixtures"),
                  "fixture \(name).\(ext) missing")
}

/// Largest |a - b| over two tensors of equal shape.
func maxAbsDiff(_ a: Tensor, _ b: Tensor, file: StaticString = #filePath, line: UInt = #line) -> Float {
    XCTAssertEqual(a.shape, b.shape, "shapes differ", file: file, line: line)
    guard a.shape == b.shape else { return .infinity }
    return zip(a.scalars, b.scalars).map { abs($0 - $1) }.max() ?? 0
}

/// A small deterministic tensor with values in [-scale, scale].
func pseudoRandom(_ shape: [Int], seed: UInt64, scale: Float = 1) -> Tensor {
    var s = seed &* 0x9E37_79B9_7F4A_7C15 &+ 1
    let n = shape.reduce(1, *)
    var v = [Float](repeating: 0, count: n)
    for i in 0..<n {
        s ^= s << 13; s ^= s >> 7; s ^= s << 17
        v[i] = (Float(s >> 40) / Float(1 << 24) * 2 - 1) * scale
    }
    return Tensor(shape: shape, scalars: v)
}

import Foundation
import XCTest
import Tensor
import Autodiff

/// Random test inputs from fixed seeds and a one-line finite-difference assertion.
func rnd(_ shape: [Int], _ seed: UInt64, _ range: ClosedRange<Float> = -1...1, awayFromZero: Float = 0) -> Tensor {
    GradientCheck.uniform(shape, seed: seed, in: range, awayFromZero: awayFromZero)
}

func assertGradients(_ inputs: [Tensor], differentiable: [Bool]? = nil, eps: Float = 1e-2, tolerance: Float = 3e-3,
                     file: StaticString = #filePath, line: UInt = #line, _ f: @escaping ([Variable]) -> Variable) {
    let report = GradientCheck.check(inputs: inputs, differentiable: differentiable, eps: eps, tolerance: tolerance, f)
    XCTAssertTrue(report.passed, "\(report)", file: file, line: line)
    if ProcessInfo.processInfo.environment["AUTODIFF_GRADCHECK_VERBOSE"] != nil {
        print("gradcheck \(("\(file)" as NSString).lastPathComponent):\(line) max error \(report.maxError)")
    }
}

import Foundation
import Tensor
import XCTest

/// Compares group-A ops against PyTorch values from Tools/reference/fixtures/tensor_ops_a.py.
final class OpsAFixtureTests: XCTestCase {
    struct FixtureArray: Decodable {
        let shape: [Int]
        let data: [Float]
        var tensor: Tensor { Tensor(shape: shape, scalars: data) }
    }
    struct Args: Decodable {
        let axis: Int?, axes: [Int]?, keepDims: Bool?, unbiased: Bool?, approximate: String?
        let p: Float?, min: Float?, max: Float?, indices: [Int]?, indexShape: [Int]?, shape: [Int]?
        let start: Float?, end: Float?, step: Float?, count: Int?
    }
    struct Case: Decodable {
        let name: String, op: String, args: Args, inputs: [FixtureArray], output: FixtureArray
    }
    struct Fixture: Decodable { let torch: String; let cases: [Case] }

    func loadCases() throws -> [Case] {
        let url = try XCTUnwrap(Bundle.module.url(forResource: "tensor_ops_a", withExtension: "json", subdirectory: "Fixtures"))
        return try JSONDecoder().decode(Fixture.self, from: Data(contentsOf: url)).cases
    }

    /// Runs one case through the Swift op of the same name.
    func evaluate(_ c: Case) throws -> Tensor {
        let x = c.inputs.first?.tensor
        let a = c.args
        switch c.op {
        case "relu": return x!.relu()
        case "silu": return x!.silu()
        case "sigmoid": return x!.sigmoid()
        case "tanh": return x!.tanh()
        case "exp": return x!.exp()
        case "sin": return x!.sin()
        case "cos": return x!.cos()
        case "sign": return x!.sign()
        case "neg": return -x!
        case "abs": return x!.abs()
        case "square": return x!.square()
        case "log": return x!.log()
        case "sqrt": return x!.sqrt()
        case "rsqrt": return x!.rsqrt()
        case "reciprocal": return x!.reciprocal()
        case "gelu": return x!.gelu(approximate: try XCTUnwrap(GeluApproximation(rawValue: a.approximate!)))
        case "quickGelu": return x!.quickGelu()
        case "powScalar": return x!.pow(a.p!)
        case "clamp": return x!.clamped(min: a.min, max: a.max)
        case "geluBackward":
            return Tensor.geluBackward(x!, c.inputs[1].tensor, approximate: GeluApproximation(rawValue: a.approximate!)!)
        case "siluBackward": return Tensor.siluBackward(x!, c.inputs[1].tensor)
        case "quickGeluBackward": return Tensor.quickGeluBackward(x!, c.inputs[1].tensor)
        case "reluBackward": return Tensor.reluBackward(x!, c.inputs[1].tensor)
        case "add": return x! + c.inputs[1].tensor
        case "sub": return x! - c.inputs[1].tensor
        case "mul": return x! * c.inputs[1].tensor
        case "div": return x! / c.inputs[1].tensor
        case "maximum": return Tensor.maximum(x!, c.inputs[1].tensor)
        case "minimum": return Tensor.minimum(x!, c.inputs[1].tensor)
        case "pow": return Tensor.pow(x!, c.inputs[1].tensor)
        case "greater": return x!.greater(c.inputs[1].tensor)
        case "greaterEqual": return x!.greaterEqual(c.inputs[1].tensor)
        case "less": return x!.less(c.inputs[1].tensor)
        case "lessEqual": return x!.lessEqual(c.inputs[1].tensor)
        case "equal": return x!.equal(c.inputs[1].tensor)
        case "notEqual": return x!.notEqual(c.inputs[1].tensor)
        case "where": return Tensor.where(x!, c.inputs[1].tensor, c.inputs[2].tensor)
        case "softmax": return x!.softmax(axis: a.axis!)
        case "logSoftmax": return x!.logSoftmax(axis: a.axis!)
        case "logSumExp": return x!.logSumExp(axis: a.axis!)
        case "softmaxBackward": return Tensor.softmaxBackward(x!, c.inputs[1].tensor, axis: a.axis!)
        case "logSoftmaxBackward": return Tensor.logSoftmaxBackward(x!, c.inputs[1].tensor, axis: a.axis!)
        case "sum": return x!.sum(axes: a.axes!, keepDims: a.keepDims!)
        case "mean": return x!.mean(axes: a.axes!, keepDims: a.keepDims!)
        case "variance": return x!.variance(axes: a.axes!, keepDims: a.keepDims!, unbiased: a.unbiased!)
        case "max": return x!.max(axis: a.axis!)
        case "min": return x!.min(axis: a.axis!)
        case "argmax": return x!.argmax(axis: a.axis!, keepDims: false)
        case "argmin": return x!.argmin(axis: a.axis!, keepDims: false)
        case "indexSelect": return x!.indexSelect(axis: a.axis!, indices: a.indices!)
        case "indexAdd": return Tensor.indexAdd(into: a.shape!, axis: a.axis!, indices: a.indices!, source: x!)
        case "gather": return x!.gather(axis: a.axis!, indices: a.indices!, indexShape: a.indexShape!)
        case "scatterAdd":
            return Tensor.scatterAdd(into: a.shape!, axis: a.axis!, indices: a.indices!, indexShape: a.indexShape!, source: x!)
        case "linspace": return Tensor.linspace(a.start!, a.end!, count: a.count!)
        case "arange": return Tensor.arange(a.start!, a.end!, step: a.step!)
        default:
            XCTFail("unknown op \(c.op) in fixture case \(c.name)")
            return Tensor(scalar: .nan)
        }
    }

    func testAgainstPyTorch() throws {
        let cases = try loadCases()
        XCTAssertGreaterThan(cases.count, 100)
        for c in cases {
            let got = try evaluate(c)
            // Transcendentals differ from PyTorch's vectorised versions by a few ulps; sums by rounding order.
            OpsA.assertClose(got, c.output.tensor, atol: 2e-6, rtol: 1e-5, c.name)
        }
    }

    /// The same ops on transposed (non-contiguous) copies of the inputs give the same answers.
    func testNonContiguousInputsMatchFixtures() throws {
        for c in try loadCases() where ["gelu", "silu", "quickGelu", "softmax", "logSoftmax", "sum", "variance", "max",
                                        "argmax", "exp", "geluBackward", "softmaxBackward"].contains(c.op) {
            let inputs = c.inputs.map { arr -> Tensor in
                let t = arr.tensor
                guard t.rank >= 2 else { return t }
                // Same logical tensor, stored transposed.
                return t.transposed(0, t.rank - 1).contiguous().transposed(0, t.rank - 1)
            }
            XCTAssertFalse(inputs[0].isContiguous)
            let rebuilt = Case(name: c.name, op: c.op, args: c.args,
                               inputs: inputs.map { FixtureArray(shape: $0.shape, data: $0.scalars) }, output: c.output)
            let contiguousResult = try evaluate(rebuilt)
            // Now evaluate through the strided views directly.
            let strided: Tensor
            switch c.op {
            case "gelu": strided = inputs[0].gelu(approximate: GeluApproximation(rawValue: c.args.approximate!)!)
            case "silu": strided = inputs[0].silu()
            case "quickGelu": strided = inputs[0].quickGelu()
            case "exp": strided = inputs[0].exp()
            case "softmax": strided = inputs[0].softmax(axis: c.args.axis!)
            case "logSoftmax": strided = inputs[0].logSoftmax(axis: c.args.axis!)
            case "sum": strided = inputs[0].sum(axes: c.args.axes!, keepDims: c.args.keepDims!)
            case "variance": strided = inputs[0].variance(axes: c.args.axes!, keepDims: c.args.keepDims!, unbiased: c.args.unbiased!)
            case "max": strided = inputs[0].max(axis: c.args.axis!)
            case "argmax": strided = inputs[0].argmax(axis: c.args.axis!, keepDims: false)
            case "geluBackward":
                strided = Tensor.geluBackward(inputs[0], inputs[1], approximate: GeluApproximation(rawValue: c.args.approximate!)!)
            case "softmaxBackward": strided = Tensor.softmaxBackward(inputs[0], inputs[1], axis: c.args.axis!)
            default: continue
            }
            OpsA.assertClose(strided, contiguousResult, atol: 1e-6, rtol: 1e-6, "strided \(c.name)")
            OpsA.assertClose(strided, c.output.tensor, atol: 2e-6, rtol: 1e-5, "strided vs torch \(c.name)")
        }
    }
}

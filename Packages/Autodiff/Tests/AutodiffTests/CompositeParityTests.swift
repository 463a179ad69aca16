import Foundation
import XCTest
import Tensor
import Autodiff

/// Gradients of composite blocks against PyTorch autograd (fixtures from
/// Tools/reference/fixtures/autodiff_composite.py, references in float64): each gradient must match within 1e-4
/// of the reference's largest magnitude.
final class CompositeParityTests: XCTestCase {
    struct Case {
        let tensors: [String: Tensor]
        let params: [String: Any]
        func callAsFunction(_ name: String) -> Tensor {
            guard let t = tensors[name] else { fatalError("fixture tensor '\(name)' missing") }
            return t
        }
    }

    static let fixture: [String: Case] = {
        let url = Bundle.module.url(forResource: "autodiff_composite", withExtension: "json", subdirectory: "Fixtures")!
        let root = try! JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: [String: Any]]
        return root.mapValues { c in
            let ts = (c["tensors"] as! [String: [String: Any]]).mapValues { t in
                Tensor(shape: t["shape"] as! [Int], scalars: (t["data"] as! [NSNumber]).map { $0.floatValue })
            }
            return Case(tensors: ts, params: c["params"] as? [String: Any] ?? [:])
        }
    }()

    /// Builds leaves with gradients for every non-gradient tensor named in `inputs`, runs `objective`, and compares
    /// each leaf's gradient with "grad.<name>".
    func check(_ name: String, inputs: [String], file: StaticString = #filePath, line: UInt = #line,
               _ objective: (Case, [String: Variable]) -> Variable) {
        let c = Self.fixture[name]!
        let leaves = Dictionary(uniqueKeysWithValues: inputs.map { ($0, Variable(c($0), requiresGrad: true, name: $0)) })
        let loss = objective(c, leaves)
        XCTAssertEqual(loss.shape, [], file: file, line: line)
        let ref = c("objective").scalars[0]
        XCTAssertEqual(loss.value.item(), ref, accuracy: 1e-4 * max(1, abs(ref)), "\(name) objective", file: file, line: line)
        loss.backward()
        for k in inputs {
            guard let g = leaves[k]!.grad else { XCTFail("\(name): no gradient for \(k)", file: file, line: line); continue }
            let r = c("grad." + k)
            XCTAssertEqual(g.shape, r.shape, file: file, line: line)
            let scale = r.scalars.map(abs).max()!
            let err = zip(g.scalars, r.scalars).map { abs($0 - $1) }.max()! / scale
            if ProcessInfo.processInfo.environment["AUTODIFF_GRADCHECK_VERBOSE"] != nil { print("parity \(name) \(k): \(err)") }
            XCTAssertLessThan(err, 1e-4, "\(name): gradient of \(k) differs from PyTorch (relative \(err))", file: file, line: line)
        }
    }

    func attentionBlock(fused: Bool) {
        let names = ["x", "ln.weight", "ln.bias", "to_q.weight", "to_k.weight", "to_v.weight", "to_out.weight", "to_out.bias"]
        check("attention_block", inputs: names) { c, p in
            let x = p["x"]!
            let (b, l, d) = (x.shape[0], x.shape[1], x.shape[2])
            let h = c.params["heads"] as! Int
            let n = Variable.layerNorm(x, weight: p["ln.weight"], bias: p["ln.bias"], eps: 1e-5)
            func heads(_ w: String) -> Variable {
                Variable.linear(n, weight: p[w]!).reshaped([b, l, h, d / h]).permuted([0, 2, 1, 3])
            }
            let q = heads("to_q.weight"), k = heads("to_k.weight"), v = heads("to_v.weight")
            let a: Variable
            if fused {
                a = Variable.scaledDotProductAttention(q, k, v)
            } else {
                let scores = Variable.matmul(q, k, transposeB: true) / Float(d / h).squareRoot()
                a = Variable.matmul(scores.softmax(axis: -1), v)
            }
            let merged = a.permuted([0, 2, 1, 3]).reshaped([b, l, d])
            let y = x + Variable.linear(merged, weight: p["to_out.weight"]!, bias: p["to_out.bias"])
            return (y * c("upstream")).sum()
        }
    }

    func testAttentionBlockFromMatmulAndSoftmax() { attentionBlock(fused: false) }

    func testAttentionBlockWithFusedAttention() { attentionBlock(fused: true) }

    func testGroupNormSiluConv() {
        check("groupnorm_silu_conv", inputs: ["x", "norm.weight", "norm.bias", "conv.weight", "conv.bias"]) { c, p in
            let h = Variable.groupNorm(p["x"]!, groups: c.params["groups"] as! Int, weight: p["norm.weight"],
                                       bias: p["norm.bias"], eps: 1e-5).silu()
            let y = Variable.conv2d(h, weight: p["conv.weight"]!, bias: p["conv.bias"], stride: 1, padding: 1)
            return (y * c("upstream")).sum()
        }
    }

    func logits(_ p: [String: Variable]) -> Variable {
        Variable.linear(p["x"]!, weight: p["head.weight"]!, bias: p["head.bias"])
    }

    func testCrossEntropyWithIndicesAndClassWeight() {
        check("cross_entropy_indices", inputs: ["x", "head.weight", "head.bias"]) { c, p in
            Variable.crossEntropy(logits: logits(p), targets: c.params["targets"] as! [Int], weight: c("class_weight"))
        }
    }

    func testCrossEntropyWithProbabilities() {
        check("cross_entropy_probabilities", inputs: ["x", "head.weight", "head.bias"]) { c, p in
            Variable.crossEntropy(logits: logits(p), targets: c("soft_targets"), weight: c("class_weight"))
        }
    }

    func testBinaryCrossEntropyWithLogits() {
        check("bce_with_logits", inputs: ["x", "head.weight", "head.bias"]) { c, p in
            Variable.binaryCrossEntropyWithLogits(logits(p), targets: c("bce_targets"), posWeight: c("pos_weight"))
        }
    }
}

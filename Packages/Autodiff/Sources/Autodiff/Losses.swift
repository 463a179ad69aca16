import Foundation
import Tensor

/// How a loss reduces its per-element values (PyTorch's `reduction`).
public enum LossReduction: String, Sendable {
    case none, mean, sum
}

/// Loss functions with PyTorch semantics. Cross-entropy and BCE-with-logits are fused single nodes (stable
/// log-sum-exp / softplus forward, closed-form backward); the regression losses are compositions of recorded ops.
extension Variable {
    /// Applies `reduction` to per-element losses.
    public func reduced(_ reduction: LossReduction) -> Variable {
        switch reduction {
        case .none: return self
        case .mean: return mean()
        case .sum: return sum()
        }
    }

    /// Mean squared error `(input - target)^2` (`F.mse_loss`); the target may require gradients too.
    public static func mseLoss(_ input: Variable, _ target: Variable, reduction: LossReduction = .mean) -> Variable {
        (input - target).square().reduced(reduction)
    }

    /// Mean squared error against a constant target.
    public static func mseLoss(_ input: Variable, _ target: Tensor, reduction: LossReduction = .mean) -> Variable {
        mseLoss(input, Variable(target), reduction: reduction)
    }

    /// Mean absolute error `|input - target|` (`F.l1_loss`; gradient 0 where they are equal).
    public static func l1Loss(_ input: Variable, _ target: Variable, reduction: LossReduction = .mean) -> Variable {
        (input - target).abs().reduced(reduction)
    }

    /// Mean absolute error against a constant target.
    public static func l1Loss(_ input: Variable, _ target: Tensor, reduction: LossReduction = .mean) -> Variable {
        l1Loss(input, Variable(target), reduction: reduction)
    }

    /// Cross-entropy with class indices (`F.cross_entropy`): `logits` [C], [N, C] or [N, C, d1, ...] (classes on
    /// axis 1 like PyTorch), `targets` one class per sample (row-major over N, d1, ...), optional per-class
    /// `weight` [C]. Targets equal to `ignoreIndex` contribute nothing. `.mean` divides by the summed weights of
    /// the counted targets (PyTorch's weighted mean); `.none` returns shape [N, d1, ...].
    public static func crossEntropy(logits: Variable, targets: [Int], weight: Tensor? = nil, ignoreIndex: Int = -100,
                                    reduction: LossReduction = .mean) -> Variable {
        let (rows, outShape) = classRows(logits, op: "crossEntropy")
        tensorCheck(targets.count == rows.shape[0], "crossEntropy",
                    "\(targets.count) targets for logits \(logits.shape) (\(rows.shape[0]) samples)")
        let c = rows.shape[1]
        for (i, t) in targets.enumerated() where t != ignoreIndex {
            tensorCheck(t >= 0 && t < c, "crossEntropy", "target \(t) at position \(i) is outside 0..<\(c) classes")
        }
        let w = checkedClassWeight(weight, classes: c, op: "crossEntropy")
        let loss = CrossEntropyKernel.indices(rows, targets: targets, weight: w, ignoreIndex: ignoreIndex, reduction: reduction)
        return reduction == .none ? loss.reshaped(outShape) : loss
    }

    /// Cross-entropy with class probabilities (soft targets, `F.cross_entropy` with a float target): `targets` has
    /// the shape of `logits` (classes on axis 1); loss per sample `-sum_c weight_c p_c log_softmax_c`; `.mean`
    /// divides by the number of samples (N * d1 * ...), as PyTorch does for probability targets.
    public static func crossEntropy(logits: Variable, targets: Tensor, weight: Tensor? = nil,
                                    reduction: LossReduction = .mean) -> Variable {
        tensorCheck(targets.shape == logits.shape, "crossEntropy",
                    "probability targets \(targets.shape) must have the logits' shape \(logits.shape)")
        let (rows, outShape) = classRows(logits, op: "crossEntropy")
        let p = classRowsTensor(targets)
        let w = checkedClassWeight(weight, classes: rows.shape[1], op: "crossEntropy")
        let loss = CrossEntropyKernel.probabilities(rows, targets: p, weight: w, reduction: reduction)
        return reduction == .none ? loss.reshaped(outShape) : loss
    }

    /// Binary cross-entropy on logits (`F.binary_cross_entropy_with_logits`), stable for large |x|: per element
    /// `weight * [(1 - y) x + (1 + (posWeight - 1) y) softplus(-x)]`. `targets` has the logits' shape; `weight`
    /// broadcasts to it, `posWeight` broadcasts along the last axis (one per class).
    public static func binaryCrossEntropyWithLogits(_ logits: Variable, targets: Tensor, weight: Tensor? = nil,
                                                    posWeight: Tensor? = nil, reduction: LossReduction = .mean) -> Variable {
        let shape = logits.shape
        tensorCheck(targets.shape == shape, "binaryCrossEntropyWithLogits",
                    "targets \(targets.shape) must have the logits' shape \(shape)")
        let w = weight.map { broadcastConstant($0, to: shape, what: "weight") }
        let pw = posWeight.map { broadcastConstant($0, to: shape, what: "posWeight") }
        let x = logits.value
        var out = Tensor(uninitializedShape: shape)
        let n = x.count
        withBuffers(x, targets, w, pw) { px, py, pwt, ppw in
            out.withMutableBuffer { po in
                for i in 0..<n {
                    let xi = px[i], yi = py[i]
                    let c = 1 + ((ppw?[i] ?? 1) - 1) * yi
                    let softplusNeg = Swift.max(-xi, 0) + Foundation.log1p(Foundation.exp(-Swift.abs(xi)))
                    po[i] = (pwt?[i] ?? 1) * ((1 - yi) * xi + c * softplusNeg)
                }
            }
        }
        let perElement = record("binaryCrossEntropyWithLogits", out, inputs: [logits]) { g, _ in
            var dx = Tensor(uninitializedShape: shape)
            withBuffers(x, targets, w, pw) { px, py, pwt, ppw in
                g.withContiguousBuffer { pg in
                    dx.withMutableBuffer { pd in
                        for i in 0..<n {
                            let xi = px[i], yi = py[i]
                            let c = 1 + ((ppw?[i] ?? 1) - 1) * yi
                            let sig = 1 / (1 + Foundation.exp(-xi))
                            pd[i] = pg[i] * (pwt?[i] ?? 1) * ((1 - yi) - c * (1 - sig))
                        }
                    }
                }
            }
            return [dx]
        }
        return perElement.reduced(reduction)
    }

    // MARK: Helpers

    /// Logits as rows [R, C] (classes on axis 1 moved last) and the per-sample output shape.
    private static func classRows(_ logits: Variable, op: String) -> (Variable, [Int]) {
        let s = logits.shape
        switch s.count {
        case 1: return (logits.reshaped([1, s[0]]), [])
        case 2: return (logits, [s[0]])
        case 0: tensorCheck(false, op, "logits must have rank >= 1, got a scalar"); fatalError()
        default:
            var perm = Array(0..<s.count)
            perm.remove(at: 1)
            perm.append(1)
            let outShape = perm.dropLast().map { s[$0] }
            return (logits.permuted(perm).reshaped([-1, s[1]]), outShape)
        }
    }

    private static func classRowsTensor(_ t: Tensor) -> Tensor {
        let s = t.shape
        if s.count == 1 { return t.reshaped([1, s[0]]) }
        if s.count == 2 { return t }
        var perm = Array(0..<s.count)
        perm.remove(at: 1)
        perm.append(1)
        return t.permuted(perm).reshaped([-1, s[1]])
    }

    private static func checkedClassWeight(_ weight: Tensor?, classes: Int, op: String) -> Tensor? {
        guard let weight else { return nil }
        tensorCheck(weight.shape == [classes], op, "class weight shape \(weight.shape) should be [\(classes)]")
        return weight.contiguous()
    }

    private static func broadcastConstant(_ t: Tensor, to shape: [Int], what: String) -> Tensor {
        let ok = (try? Tensor.broadcastShape(t.shape, shape)) == shape
        tensorCheck(ok, "binaryCrossEntropyWithLogits", "\(what) shape \(t.shape) does not broadcast to logits \(shape)")
        return t.expanded(to: shape).contiguous()
    }

    /// Contiguous buffers of two tensors and two optional ones.
    private static func withBuffers(_ a: Tensor, _ b: Tensor, _ c: Tensor?, _ d: Tensor?,
                                    _ body: (UnsafeBufferPointer<Float>, UnsafeBufferPointer<Float>,
                                             UnsafeBufferPointer<Float>?, UnsafeBufferPointer<Float>?) -> Void) {
        a.withContiguousBuffer { pa in
            b.withContiguousBuffer { pb in
                if let c {
                    c.withContiguousBuffer { pc in
                        if let d { d.withContiguousBuffer { pd in body(pa, pb, pc, pd) } } else { body(pa, pb, pc, nil) }
                    }
                } else if let d {
                    d.withContiguousBuffer { pd in body(pa, pb, nil, pd) }
                } else {
                    body(pa, pb, nil, nil)
                }
            }
        }
    }
}

/// Fused cross-entropy over rows [R, C]: one stable log-sum-exp pass forward, `softmax - target` backward.
enum CrossEntropyKernel {
    /// Per-row log-sum-exp of contiguous logits, in Double.
    static func logSumExp(_ z: UnsafePointer<Float>, rows: Int, classes c: Int) -> [Double] {
        var lse = [Double](repeating: 0, count: rows)
        lse.withUnsafeMutableBufferPointer { out in
            let o = out.baseAddress!
            Parallel.forEachChunk(rows, costPerItem: 2 * c) { range in
                for r in range {
                    let row = z + r * c
                    var m = -Float.infinity
                    for j in 0..<c { m = Swift.max(m, row[j]) }
                    var s = 0.0
                    for j in 0..<c { s += Foundation.exp(Double(row[j] - m)) }
                    o[r] = Double(m) + Foundation.log(s)
                }
            }
        }
        return lse
    }

    static func indices(_ logits: Variable, targets: [Int], weight: Tensor?, ignoreIndex: Int,
                        reduction: LossReduction) -> Variable {
        let z = logits.value.contiguous()
        let rows = z.shape[0], c = z.shape[1]
        let wts = weight?.scalars
        let lse = z.withContiguousBuffer { logSumExp($0.baseAddress!, rows: rows, classes: c) }
        var perRow = [Float](repeating: 0, count: rows)
        var rowWeight = [Float](repeating: 0, count: rows)
        z.withContiguousBuffer { pz in
            for r in 0..<rows where targets[r] != ignoreIndex {
                let t = targets[r]
                let w = wts?[t] ?? 1
                rowWeight[r] = w
                perRow[r] = Float(Double(w) * (lse[r] - Double(pz[r * c + t])))
            }
        }
        let out: Tensor
        var scale: Float = 1
        switch reduction {
        case .none: out = Tensor(perRow)
        case .sum: out = Tensor(scalar: Float(perRow.reduce(0.0) { $0 + Double($1) }))
        case .mean:
            let total = rowWeight.reduce(0.0) { $0 + Double($1) }
            scale = Float(1 / total)
            out = Tensor(scalar: Float(perRow.reduce(0.0) { $0 + Double($1) } / total))
        }
        return Variable.record("crossEntropy", out, inputs: [logits]) { g, _ in
            let gs = g.scalars
            var dz = Tensor(uninitializedShape: [rows, c])
            z.withContiguousBuffer { pz in
                dz.withMutableBuffer { pd in
                    for r in 0..<rows {
                        let d = pd.baseAddress! + r * c, row = pz.baseAddress! + r * c
                        let coef = rowWeight[r] * (reduction == .none ? gs[r] : gs[0] * scale)
                        if coef == 0 { d.update(repeating: 0, count: c); continue }
                        for j in 0..<c { d[j] = coef * Float(Foundation.exp(Double(row[j]) - lse[r])) }
                        d[targets[r]] -= coef
                    }
                }
            }
            return [dz]
        }
    }

    static func probabilities(_ logits: Variable, targets: Tensor, weight: Tensor?, reduction: LossReduction) -> Variable {
        let z = logits.value.contiguous()
        let p = targets.contiguous()
        let rows = z.shape[0], c = z.shape[1]
        let wts = weight?.scalars
        let lse = z.withContiguousBuffer { logSumExp($0.baseAddress!, rows: rows, classes: c) }
        var perRow = [Float](repeating: 0, count: rows)
        var weightedMass = [Float](repeating: 0, count: rows)  // sum_c w_c p_rc
        z.withContiguousBuffer { pz in
            p.withContiguousBuffer { pp in
                for r in 0..<rows {
                    var s = 0.0, mass = 0.0
                    for j in 0..<c {
                        let wp = Double(wts?[j] ?? 1) * Double(pp[r * c + j])
                        s -= wp * (Double(pz[r * c + j]) - lse[r])
                        mass += wp
                    }
                    perRow[r] = Float(s)
                    weightedMass[r] = Float(mass)
                }
            }
        }
        let out: Tensor
        var scale: Float = 1
        switch reduction {
        case .none: out = Tensor(perRow)
        case .sum: out = Tensor(scalar: Float(perRow.reduce(0.0) { $0 + Double($1) }))
        case .mean:
            scale = 1 / Float(Swift.max(rows, 1))
            out = Tensor(scalar: Float(perRow.reduce(0.0) { $0 + Double($1) } / Double(rows)))
        }
        return Variable.record("crossEntropy", out, inputs: [logits]) { g, _ in
            let gs = g.scalars
            var dz = Tensor(uninitializedShape: [rows, c])
            z.withContiguousBuffer { pz in
                p.withContiguousBuffer { pp in
                    dz.withMutableBuffer { pd in
                        for r in 0..<rows {
                            let coef = reduction == .none ? gs[r] : gs[0] * scale
                            for j in 0..<c {
                                let s = Float(Foundation.exp(Double(pz[r * c + j]) - lse[r]))
                                pd[r * c + j] = coef * (s * weightedMass[r] - (wts?[j] ?? 1) * pp[r * c + j])
                            }
                        }
                    }
                }
            }
            return [dz]
        }
    }
}

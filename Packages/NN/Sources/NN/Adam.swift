import Foundation
import Autodiff
import Tensor

/// Adam and AdamW with PyTorch's single-tensor CPU update (`torch.optim.Adam` / `AdamW`, `foreach=False`).
///
/// Per step t: (Adam) g += wd·p, or (AdamW) p *= 1 − lr·wd; m = lerp(m, g, 1 − β1); v = β2·v + (1 − β2)·g²;
/// p −= lr/(1 − β1^t) · m / (√v / √(1 − β2^t) + ε). Scalars are formed in Double and applied in Float,
/// like PyTorch's Python-scalar arithmetic. `amsgrad` keeps the running maximum of v.
public class Adam: Optimizer {
    public var learningRate: Double
    public var beta1: Double
    public var beta2: Double
    public var eps: Double
    public var weightDecay: Double
    /// True for AdamW (weight decay applied to the parameter, not added to the gradient).
    public let decoupledWeightDecay: Bool
    public let amsgrad: Bool
    public let parameters: [NamedParameter]
    /// Per-parameter multipliers of `learningRate` by parameter name (PyTorch's parameter groups with their own lr);
    /// a parameter not listed uses 1. The decoupled weight decay uses the scaled rate too, as in a PyTorch group.
    public var learningRateScales: [String: Double] = [:]

    struct State {
        var step: Int
        var expAvg: Tensor
        var expAvgSq: Tensor
        var maxExpAvgSq: Tensor?
    }
    private var states: [String: State] = [:]

    /// `torch.optim.Adam` (defaults as PyTorch: lr 1e-3, betas (0.9, 0.999), eps 1e-8, weight decay 0).
    public init(parameters: [NamedParameter], learningRate: Double = 1e-3, betas: (Double, Double) = (0.9, 0.999),
                eps: Double = 1e-8, weightDecay: Double = 0, amsgrad: Bool = false, decoupledWeightDecay: Bool = false) {
        OptimizerSupport.checkUnique(parameters, op: "Adam")
        tensorCheck(learningRate >= 0 && eps >= 0 && weightDecay >= 0, "Adam",
                    "invalid hyperparameters lr \(learningRate), eps \(eps), weight decay \(weightDecay)")
        tensorCheck((0..<1).contains(betas.0) && (0..<1).contains(betas.1), "Adam", "betas \(betas) must lie in [0, 1)")
        self.parameters = parameters
        self.learningRate = learningRate
        self.beta1 = betas.0
        self.beta2 = betas.1
        self.eps = eps
        self.weightDecay = weightDecay
        self.amsgrad = amsgrad
        self.decoupledWeightDecay = decoupledWeightDecay
    }

    /// The number of steps taken for parameter `name` (0 before its first update).
    public func stepCount(of name: String) -> Int { states[name]?.step ?? 0 }

    public func step() {
        let op = decoupledWeightDecay ? "AdamW.step" : "Adam.step"
        for p in parameters {
            guard let grad = OptimizerSupport.gradient(p, op: op) else { continue }
            let n = grad.count
            var st = states.removeValue(forKey: p.name) ?? State(step: 0, expAvg: Tensor(shape: grad.shape, repeating: 0),
                                             expAvgSq: Tensor(shape: grad.shape, repeating: 0),
                                             maxExpAvgSq: amsgrad ? Tensor(shape: grad.shape, repeating: 0) : nil)
            st.step += 1
            let t = Double(st.step)
            let bc1 = 1 - Foundation.pow(beta1, t)
            let bc2 = 1 - Foundation.pow(beta2, t)
            let lr = learningRate * (learningRateScales[p.name] ?? 1)
            let stepSizeNeg = Float(-(lr / bc1))
            let bc2Sqrt = Float(bc2.squareRoot())
            let coupled = !decoupledWeightDecay && weightDecay != 0
            let decoupled = decoupledWeightDecay && weightDecay != 0
            let k = Kernel(w1: Float(1 - beta1), b2: Float(beta2), w2: Float(1 - beta2), eps: Float(eps),
                           wd: coupled ? Float(weightDecay) : 0, decay: decoupled ? Float(1 - lr * weightDecay) : 1,
                           stepSizeNeg: stepSizeNeg, bc2Sqrt: bc2Sqrt)
            var mx = st.maxExpAvgSq ?? Tensor(shape: [0], repeating: 0)
            st.maxExpAvgSq = nil  // keep the buffer uniquely referenced while mutating it
            grad.withContiguousBuffer { g in
                st.expAvg.withMutableBuffer { m in
                    st.expAvgSq.withMutableBuffer { v in
                        mx.withMutableBuffer { mxb in
                            p.variable.value.withMutableBuffer { w in
                                let gp = g.baseAddress!, mp = m.baseAddress!, vp = v.baseAddress!, wp = w.baseAddress!
                                let mxp = amsgrad ? mxb.baseAddress! : nil
                                Parallel.forEachChunk(n, costPerItem: 16) { r in
                                    k.run(r, g: gp, m: mp, v: vp, max: mxp, w: wp)
                                }
                            }
                        }
                    }
                }
            }
            if amsgrad { st.maxExpAvgSq = mx }
            states[p.name] = st
        }
    }

    /// The fused per-element update over a range (one pass over g, m, v, w).
    struct Kernel {
        let w1, b2, w2, eps, wd, decay, stepSizeNeg, bc2Sqrt: Float

        func run(_ r: Range<Int>, g: UnsafePointer<Float>, m: UnsafeMutablePointer<Float>, v: UnsafeMutablePointer<Float>,
                 max: UnsafeMutablePointer<Float>?, w: UnsafeMutablePointer<Float>) {
            // torch.lerp(m, g, w1): m + w1·(g − m) when w1 < 0.5, else g − (g − m)·(1 − w1).
            let low = w1 < 0.5, omw1 = 1 - w1
            if let max {
                for i in r {
                    let gi = g[i] + wd * w[i]          // Adam's L2 term (wd = 0 for AdamW)
                    let wi = w[i] * decay              // AdamW's decoupled decay (decay = 1 for Adam)
                    let mi = m[i]
                    let mNew = low ? mi + w1 * (gi - mi) : gi - (gi - mi) * omw1
                    let vNew = v[i] * b2 + w2 * gi * gi
                    m[i] = mNew
                    v[i] = vNew
                    let second = Swift.max(max[i], vNew)
                    max[i] = second
                    w[i] = wi + stepSizeNeg * mNew / (second.squareRoot() / bc2Sqrt + eps)
                }
            } else {
                for i in r {
                    let gi = g[i] + wd * w[i]
                    let wi = w[i] * decay
                    let mi = m[i]
                    let mNew = low ? mi + w1 * (gi - mi) : gi - (gi - mi) * omw1
                    let vNew = v[i] * b2 + w2 * gi * gi
                    m[i] = mNew
                    v[i] = vNew
                    w[i] = wi + stepSizeNeg * mNew / (vNew.squareRoot() / bc2Sqrt + eps)
                }
            }
        }
    }

    public func stateDict() -> [String: Tensor] {
        var d: [String: Tensor] = [:]
        for (name, st) in states {
            d[name + ".step"] = Tensor(scalar: Float(st.step))
            d[name + ".exp_avg"] = st.expAvg
            d[name + ".exp_avg_sq"] = st.expAvgSq
            if let mx = st.maxExpAvgSq { d[name + ".max_exp_avg_sq"] = mx }
        }
        return d
    }

    public func loadStateDict(_ state: [String: Tensor]) throws {
        var slots = ["step": false, "exp_avg": true, "exp_avg_sq": true]
        if amsgrad { slots["max_exp_avg_sq"] = true }
        let parsed = try OptimizerSupport.parse(state, parameters: parameters, slots: slots,
                                                context: decoupledWeightDecay ? "AdamW.loadStateDict" : "Adam.loadStateDict")
        var fresh: [String: State] = [:]
        for (name, s) in parsed {
            fresh[name] = State(step: Int(s["step"]!.scalars[0].rounded()), expAvg: Tensor(copying: s["exp_avg"]!),
                                expAvgSq: Tensor(copying: s["exp_avg_sq"]!),
                                maxExpAvgSq: s["max_exp_avg_sq"].map { Tensor(copying: $0) })
        }
        states = fresh
    }
}

/// `torch.optim.AdamW`: Adam with decoupled weight decay (defaults as PyTorch: weight decay 0.01).
public final class AdamW: Adam {
    public init(parameters: [NamedParameter], learningRate: Double = 1e-3, betas: (Double, Double) = (0.9, 0.999),
                eps: Double = 1e-8, weightDecay: Double = 0.01, amsgrad: Bool = false) {
        super.init(parameters: parameters, learningRate: learningRate, betas: betas, eps: eps, weightDecay: weightDecay,
                   amsgrad: amsgrad, decoupledWeightDecay: true)
    }
}

import Autodiff
import Tensor

/// `torch.optim.SGD` (single-tensor CPU path): g += wd·p; with momentum μ the buffer starts as g and then
/// b = μ·b + (1 − dampening)·g; the step uses g + μ·b (Nesterov) or b; p −= lr·step.
public final class SGD: Optimizer {
    public var learningRate: Double
    public var momentum: Double
    public var dampening: Double
    public var weightDecay: Double
    public let nesterov: Bool
    public let parameters: [NamedParameter]
    private var buffers: [String: Tensor] = [:]

    public init(parameters: [NamedParameter], learningRate: Double, momentum: Double = 0, dampening: Double = 0,
                weightDecay: Double = 0, nesterov: Bool = false) {
        OptimizerSupport.checkUnique(parameters, op: "SGD")
        tensorCheck(learningRate >= 0 && momentum >= 0 && weightDecay >= 0, "SGD",
                    "invalid hyperparameters lr \(learningRate), momentum \(momentum), weight decay \(weightDecay)")
        tensorCheck(!nesterov || (momentum > 0 && dampening == 0), "SGD",
                    "Nesterov momentum requires a momentum and zero dampening")
        self.parameters = parameters
        self.learningRate = learningRate
        self.momentum = momentum
        self.dampening = dampening
        self.weightDecay = weightDecay
        self.nesterov = nesterov
    }

    public func step() {
        let lrNeg = Float(-learningRate), wd = Float(weightDecay), mu = Float(momentum), damp = Float(1 - dampening)
        let useMomentum = momentum != 0, nesterov = nesterov
        for p in parameters {
            guard let grad = OptimizerSupport.gradient(p, op: "SGD.step") else { continue }
            let n = grad.count
            // The momentum buffer: a fresh one starts as the (decayed) gradient itself, as in PyTorch.
            let fresh = useMomentum && buffers[p.name] == nil
            var buf = buffers[p.name] ?? Tensor(shape: useMomentum ? grad.shape : [0], repeating: 0)
            buffers[p.name] = nil   // keep the buffer uniquely referenced while mutating it
            grad.withContiguousBuffer { g in
                buf.withMutableBuffer { b in
                    p.variable.value.withMutableBuffer { w in
                        let gp = g.baseAddress!, bp = b.baseAddress!, wp = w.baseAddress!
                        Parallel.forEachChunk(n, costPerItem: 8) { r in
                            for i in r {
                                var gi = gp[i] + wd * wp[i]
                                if useMomentum {
                                    let bi = fresh ? gi : bp[i] * mu + damp * gi
                                    bp[i] = bi
                                    gi = nesterov ? gi + mu * bi : bi
                                }
                                wp[i] = wp[i] + lrNeg * gi
                            }
                        }
                    }
                }
            }
            if useMomentum { buffers[p.name] = buf }
        }
    }

    public func stateDict() -> [String: Tensor] {
        var d: [String: Tensor] = [:]
        for (name, b) in buffers { d[name + ".momentum_buffer"] = b }
        return d
    }

    public func loadStateDict(_ state: [String: Tensor]) throws {
        let parsed = try OptimizerSupport.parse(state, parameters: parameters, slots: ["momentum_buffer": true],
                                                context: "SGD.loadStateDict")
        buffers = parsed.mapValues { Tensor(copying: $0["momentum_buffer"]!) }
    }
}

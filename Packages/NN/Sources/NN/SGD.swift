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
        for p in parameters {
            guard let grad = OptimizerSupport.gradient(p, op: "SGD.step") else { continue }
            let n = grad.count
            var g = Tensor(copying: grad)
            g.withMutableBuffer { g in
                p.variable.value.withMutableBuffer { w in
                    if weightDecay != 0 { for i in 0..<n { g[i] = g[i] + wd * w[i] } }
                    if momentum != 0 {
                        if var buf = buffers[p.name] {
                            buffers[p.name] = nil
                            buf.withMutableBuffer { b in
                                for i in 0..<n { b[i] = b[i] * mu + damp * g[i] }
                                if nesterov { for i in 0..<n { g[i] = g[i] + mu * b[i] } } else { for i in 0..<n { g[i] = b[i] } }
                            }
                            buffers[p.name] = buf
                        } else {
                            let buf = Tensor(shape: grad.shape, scalars: Array(g))
                            buffers[p.name] = buf
                            if nesterov {
                                buf.withContiguousBuffer { b in for i in 0..<n { g[i] = g[i] + mu * b[i] } }
                            }
                        }
                    }
                    for i in 0..<n { w[i] = w[i] + lrNeg * g[i] }
                }
            }
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

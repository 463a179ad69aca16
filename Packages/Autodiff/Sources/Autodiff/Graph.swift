import Foundation
import Tensor

/// One recorded operation: its inputs and the rule that turns the gradient of its output into gradients of
/// its inputs.
///
/// The rule receives the output gradient and, per input, whether that input needs a gradient (so that, for
/// example, a convolution with a frozen weight skips the weight gradient). It returns one entry per input, nil
/// where no gradient is needed or the gradient is zero. Rules capture tensors, never variables, so the graph has
/// no cycles; `backward()` drops the node (and with it the saved tensors) as soon as it has run.
internal final class GraphNode {
    let op: String
    var inputs: [Variable]
    var rule: ((Tensor, [Bool]) -> [Tensor?])?

    init(op: String, inputs: [Variable], rule: @escaping (Tensor, [Bool]) -> [Tensor?]) {
        self.op = op
        self.inputs = inputs
        self.rule = rule
        GraphStatistics.nodeCreated()
    }

    deinit { GraphStatistics.nodeDestroyed() }
}

/// Counts recorded operations that are still alive (for tests and leak hunting).
public enum GraphStatistics {
    private static let lock = NSLock()
    nonisolated(unsafe) private static var live = 0

    /// Number of recorded graph nodes currently alive in the process.
    public static var liveNodes: Int { lock.lock(); defer { lock.unlock() }; return live }

    static func nodeCreated() { lock.lock(); live += 1; lock.unlock() }
    static func nodeDestroyed() { lock.lock(); live -= 1; lock.unlock() }
}

extension Variable {
    /// Records an operation producing `value` from `inputs` with backward `rule`, or returns a constant when no
    /// input needs a gradient or recording is off. `rule` gets the output gradient and a per-input "needs
    /// gradient" mask and returns per-input gradients with the inputs' shapes (nil = none / zero).
    public static func record(_ op: String, _ value: Tensor, inputs: [Variable],
                              rule: @escaping (_ grad: Tensor, _ needs: [Bool]) -> [Tensor?]) -> Variable {
        guard GradMode.isEnabled, inputs.contains(where: { $0.needsGrad }) else { return Variable(value) }
        return Variable(result: value, node: GraphNode(op: op, inputs: inputs, rule: rule))
    }

    /// Computes gradients of this variable with respect to every leaf that requires them and adds them into
    /// their `grad`. With no seed, the variable must hold one element (seed 1); otherwise `seed` has its shape.
    /// The graph (rules and saved tensors) is freed afterwards unless `retainGraph` is true.
    public func backward(_ seed: Tensor? = nil, retainGraph: Bool = false) {
        _ = runBackward(seed: seed, capture: nil, accumulateLeaves: true, retainGraph: retainGraph, op: "backward")
    }

    /// Runs the reverse pass. With `capture`, returns the total gradient of each captured variable.
    internal func runBackward(seed: Tensor?, capture: Set<ObjectIdentifier>?, accumulateLeaves: Bool,
                              retainGraph: Bool, op: String) -> [ObjectIdentifier: Tensor] {
        let g0: Tensor
        if let seed {
            tensorCheck(seed.shape == shape, op, "seed shape \(seed.shape) differs from the output shape \(shape) of \(label)")
            g0 = seed
        } else {
            tensorCheck(count == 1, op, "called without a seed on \(label) with \(count) elements; pass a seed of shape \(shape)")
            g0 = Tensor(shape: shape, repeating: 1)
        }
        tensorCheck(!graphFreed, op, "the graph behind \(label) was already freed by an earlier backward(); " +
                    "pass retainGraph: true to the first call to run backward twice")
        tensorCheck(needsGrad, op, "\(label) does not require a gradient: it is a constant or was computed " +
                    "under GradMode.noGrad, or none of its inputs requires a gradient")

        let order = topologicalOrder()
        var pending: [ObjectIdentifier: Tensor] = [ObjectIdentifier(self): g0]
        var captured: [ObjectIdentifier: Tensor] = [:]
        for v in order.reversed() {
            let id = ObjectIdentifier(v)
            guard let g = pending.removeValue(forKey: id) else { continue }
            if let capture, capture.contains(id) { captured[id] = g }
            if let node = v.node {
                guard let rule = node.rule else { continue }
                let needs = node.inputs.map { $0.needsGrad }
                let grads = rule(g, needs)
                tensorCheck(grads.count == node.inputs.count, node.op,
                            "backward rule returned \(grads.count) gradients for \(node.inputs.count) inputs")
                for (i, input) in node.inputs.enumerated() where needs[i] {
                    guard let gi = grads[i] else { continue }
                    tensorCheck(gi.shape == input.shape, node.op,
                                "backward rule returned gradient of shape \(gi.shape) for input \(i) of shape \(input.shape)")
                    let iid = ObjectIdentifier(input)
                    var slot = pending.removeValue(forKey: iid)
                    GradientAccumulation.add(gi, into: &slot)
                    pending[iid] = slot
                }
                if !retainGraph { v.freeGraph() }
            } else if v.graphFreed {
                tensorCheck(false, op, "\(label) depends on \(v.label), whose graph was freed by an earlier backward(); " +
                            "pass retainGraph: true to the first call")
            } else if accumulateLeaves && v.requiresGrad {
                GradientAccumulation.add(g, into: &v.grad, contiguous: true)
            }
        }
        if !retainGraph { for v in order where v.node != nil { v.freeGraph() } }
        return captured
    }

    /// Drops the recorded operation (its rule, saved tensors and references to inputs).
    internal func freeGraph() {
        guard node != nil else { return }
        node?.rule = nil
        node?.inputs = []
        node = nil
        graphFreed = true
    }

    /// The variables reachable from `self` through recorded operations (only those that need gradients), inputs
    /// before the operations that use them. Iterative, so deep graphs do not overflow the stack.
    internal func topologicalOrder() -> [Variable] {
        var order: [Variable] = []
        var visited = Set<ObjectIdentifier>()
        var stack: [(Variable, Int)] = [(self, 0)]
        visited.insert(ObjectIdentifier(self))
        while let (v, next) = stack.popLast() {
            let inputs = v.node?.inputs ?? []
            var i = next
            var pushed = false
            while i < inputs.count {
                let u = inputs[i]
                i += 1
                if u.needsGrad && visited.insert(ObjectIdentifier(u)).inserted {
                    stack.append((v, i))
                    stack.append((u, 0))
                    pushed = true
                    break
                }
            }
            if !pushed { order.append(v) }
        }
        return order
    }
}

/// Gradients of `output` with respect to `inputs` (leaves or intermediate results), like `torch.autograd.grad`:
/// returned rather than accumulated (no `grad` is changed); zeros for inputs that `output` does not depend on.
/// The graph is freed afterwards unless `retainGraph` is true.
public func gradients(of output: Variable, withRespectTo inputs: [Variable], seed: Tensor? = nil,
                      retainGraph: Bool = false) -> [Tensor] {
    for (i, v) in inputs.enumerated() {
        tensorCheck(v.needsGrad, "gradients(of:withRespectTo:)",
                    "input \(i) (\(v.label)) does not require a gradient; create it with requiresGrad: true")
    }
    let ids = Set(inputs.map(ObjectIdentifier.init))
    let got = output.runBackward(seed: seed, capture: ids, accumulateLeaves: false, retainGraph: retainGraph,
                                 op: "gradients(of:withRespectTo:)")
    return inputs.map { got[ObjectIdentifier($0)] ?? Tensor(shape: $0.shape, repeating: 0) }
}

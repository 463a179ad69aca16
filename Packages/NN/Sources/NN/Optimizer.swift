import Autodiff
import Tensor

/// A first-order optimiser over named parameters, with PyTorch's update rules.
///
/// `step()` updates every parameter that has a gradient (parameters whose `grad` is nil are skipped, as in
/// PyTorch); state is kept per parameter name, so `stateDict()` / `loadStateDict(_:)` resume training exactly.
public protocol Optimizer: AnyObject {
    /// The learning rate of the next `step()` (set it from an `LRSchedule` each step).
    var learningRate: Double { get set }
    var parameters: [NamedParameter] { get }
    func step()
    /// The optimiser state as tensors by name (`<param>.exp_avg`, `<param>.step`, ...).
    func stateDict() -> [String: Tensor]
    /// Restores state saved by `stateDict()`; throws `StateDictError` on unknown names or shape mismatches.
    func loadStateDict(_ state: [String: Tensor]) throws
}

extension Optimizer {
    /// Drops every parameter's gradient (PyTorch's `zero_grad(set_to_none=True)`).
    public func zeroGrad() {
        for p in parameters { p.variable.grad = nil }
    }
}

/// Shared bookkeeping: parameter validation and per-parameter state tensors saved under `<name>.<slot>`.
enum OptimizerSupport {
    static func checkUnique(_ params: [NamedParameter], op: String) {
        var seen = Set<String>()
        for p in params {
            tensorCheck(seen.insert(p.name).inserted, op, "parameter '\(p.name)' is listed twice")
        }
    }

    /// The gradient of `p` as a contiguous tensor matching the parameter's shape, or nil when it has none.
    static func gradient(_ p: NamedParameter, op: String) -> Tensor? {
        guard let g = p.variable.grad else { return nil }
        tensorCheck(g.shape == p.variable.value.shape, op,
                    "gradient of '\(p.name)' has shape \(g.shape) but the parameter has shape \(p.variable.value.shape)")
        return g.contiguous()
    }

    /// Parses `<param>.<slot>` keys against the known parameters and slots. Returns the tensors per parameter;
    /// throws listing unexpected keys, mismatched shapes and parameters with only part of their state.
    static func parse(_ state: [String: Tensor], parameters: [NamedParameter], slots: [String: Bool],
                      context: String) throws -> [String: [String: Tensor]] {
        // slots: slot name -> true when the slot has the parameter's shape (false: a scalar).
        var report = StateDictReport()
        var byParam: [String: [String: Tensor]] = [:]
        var seen = Set<String>()
        let shapes = Dictionary(uniqueKeysWithValues: parameters.map { ($0.name, $0.variable.value.shape) })
        for key in state.keys.sorted() {
            guard let dot = key.lastIndex(of: "."),
                  let shape = shapes[String(key[..<dot])],
                  let full = slots[String(key[key.index(after: dot)...])] else {
                report.unexpected.append(key)
                continue
            }
            let name = String(key[..<dot]), slot = String(key[key.index(after: dot)...])
            let t = state[key]!
            seen.insert(name)
            let want = full ? shape : []
            if t.shape != want && !(want.isEmpty && t.count == 1) {
                report.mismatched.append(.init(name: key, expected: want, found: t.shape))
                continue
            }
            byParam[name, default: [:]][slot] = t
        }
        // A parameter with any state must have all of it (a parameter with none starts fresh, as one that
        // never had a gradient).
        for name in seen.sorted() {
            for slot in slots.keys.sorted() where byParam[name]?[slot] == nil && state["\(name).\(slot)"] == nil {
                report.missing.append("\(name).\(slot)")
            }
        }
        if !report.isClean { throw StateDictError(context: context, report: report) }
        return byParam
    }
}

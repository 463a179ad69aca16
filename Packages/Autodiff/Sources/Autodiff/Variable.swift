import Foundation
import Tensor

/// A tensor in a computation graph: a leaf (parameter, input, constant) or the result of an operation.
///
/// Operations on variables record, for their result, the input variables and a backward rule (a closure over the
/// tensors it saved). `backward()` walks the recorded graph in reverse topological order, accumulates gradients
/// into `grad` of every reachable leaf with `requiresGrad`, and then frees the graph.
///
/// A variable with `requiresGrad == false` and no recorded parents is a constant: operations whose inputs are all
/// constants record nothing (and nothing is recorded inside `GradMode.noGrad`).
public final class Variable {
    /// The tensor. Assigning a leaf's value (an optimiser step, loading weights) never affects a pending
    /// backward pass: recorded rules hold their own copies (tensors are copy-on-write).
    public var value: Tensor
    /// Gradient accumulated by `backward()` (leaves with `requiresGrad` only); nil until the first backward.
    public var grad: Tensor?
    /// For a leaf: whether gradients are kept (false = frozen / constant). Results of recorded operations have
    /// `true`; setting it to false on a result cuts the graph there, like `detached()`.
    public var requiresGrad: Bool
    /// Optional label, shown in error messages and descriptions.
    public var name: String?

    /// The recorded operation that produced this variable (nil for leaves and after the graph was freed).
    internal var node: GraphNode?
    /// True once `backward()` freed the operation that produced this variable.
    internal var graphFreed = false

    /// A leaf variable.
    public init(_ value: Tensor, requiresGrad: Bool = false, name: String? = nil) {
        self.value = value
        self.requiresGrad = requiresGrad
        self.name = name
    }

    /// The result of a recorded operation.
    internal init(result value: Tensor, node: GraphNode) {
        self.value = value
        self.requiresGrad = true
        self.node = node
    }

    /// The shape of `value`.
    public var shape: [Int] { value.shape }
    /// The rank of `value`.
    public var rank: Int { value.rank }
    /// The element count of `value`.
    public var count: Int { value.count }

    /// True for variables not produced by a recorded operation (parameters, inputs, constants, detached values).
    public var isLeaf: Bool { node == nil && !graphFreed }

    /// The name of the operation that produced this variable, if it is still recorded.
    public var operation: String? { node?.op }

    /// A new leaf sharing this variable's value, outside any graph and without gradient.
    public func detached() -> Variable { Variable(value, requiresGrad: false, name: name) }

    /// Clears the accumulated gradient (sets it to nil, like PyTorch's `zero_grad(set_to_none=True)`).
    public func zeroGrad() { grad = nil }

    /// True when gradients flow into this variable: a leaf with `requiresGrad`, or a recorded result.
    internal var needsGrad: Bool { requiresGrad }

    /// A readable label for messages.
    internal var label: String {
        if let name { return "'\(name)' \(shape)" }
        if let op = node?.op { return "result of \(op) \(shape)" }
        return "variable \(shape)"
    }
}

extension Variable: CustomStringConvertible {
    public var description: String {
        var parts = ["Variable(\(value)"]
        if let name { parts.append("name: \(name)") }
        if let op = node?.op { parts.append("op: \(op)") } else if requiresGrad { parts.append("requiresGrad") }
        return parts.joined(separator: ", ") + ")"
    }
}

extension Variable {
    /// A constant (leaf without gradient) for `value`.
    public static func constant(_ value: Tensor) -> Variable { Variable(value, requiresGrad: false) }

    /// A scalar constant.
    public convenience init(scalar: Float) { self.init(Tensor(scalar: scalar)) }
}

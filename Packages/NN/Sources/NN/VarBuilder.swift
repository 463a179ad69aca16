import Autodiff
import Tensor

/// A path-scoped view of a `ParameterStore` (candle's VarBuilder): `vb.pp("down_blocks").pp(0)` descends one
/// name component at a time, and `parameter("weight", ...)` creates `down_blocks.0.weight`. Building a model
/// through builders makes its construction the state-dict key map, with names verbatim from PyTorch.
public struct VarBuilder {
    public let store: ParameterStore
    /// The dotted path of this builder ("" at the root).
    public let path: String

    public init(store: ParameterStore, path: String = "") {
        self.store = store
        self.path = path
    }

    /// A builder one component deeper (`pp` = "push prefix"). Components may themselves contain dots.
    public func pp(_ component: String) -> VarBuilder {
        tensorCheck(!component.isEmpty, "VarBuilder.pp", "empty path component under '\(path)'")
        return VarBuilder(store: store, path: path.isEmpty ? component : path + "." + component)
    }

    /// A builder one numeric component deeper (`ModuleList` index).
    public func pp(_ index: Int) -> VarBuilder { pp(String(index)) }

    /// The full name of a leaf under this builder.
    public func fullName(_ leaf: String) -> String { path.isEmpty ? leaf : path + "." + leaf }

    /// Creates (and registers) the trainable parameter `<path>.<name>`.
    public func parameter(_ name: String, shape: [Int], initializer: Initializer) -> Variable {
        store.addParameter(fullName(name), shape: shape, initializer: initializer, kind: .parameter)
    }

    /// Creates (and registers) a non-trainable tensor `<path>.<name>` (PyTorch's `register_buffer`); persistent
    /// buffers are part of the state dict.
    public func buffer(_ name: String, value: Tensor, persistent: Bool = true) -> Variable {
        store.addParameter(fullName(name), shape: value.shape, initializer: .value(value),
                           kind: persistent ? .buffer : .nonPersistentBuffer)
    }

    /// Registers `module` under this builder's path, so that it can be found later by path or type.
    public func register(_ module: Module) {
        tensorCheck(module.path == path, "VarBuilder.register",
                    "module path '\(module.path)' differs from the builder path '\(path)'")
        store.addModule(module)
    }
}

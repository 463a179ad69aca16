import Autodiff

/// A layer or block registered in a `ParameterStore` under its dotted path (PyTorch's module name,
/// e.g. `down_blocks.0.attentions.1.transformer_blocks.0.attn1.to_q`).
public protocol Module: AnyObject {
    /// The dotted path of this module in its store ("" for a root module).
    var path: String { get }
}

/// A module whose behaviour differs between training and evaluation (PyTorch's `module.train()` / `.eval()`).
public protocol TrainingModeSwitchable: Module {
    var isTraining: Bool { get set }
}

/// A parameter together with its full state-dict name.
public struct NamedParameter {
    public let name: String
    public let variable: Variable
    public init(name: String, variable: Variable) {
        self.name = name
        self.variable = variable
    }
}

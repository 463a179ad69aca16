import Autodiff
import Tensor

/// Every parameter of a model by its full dotted name, and every module by its path.
///
/// Parameters are `Variable`s shared with the modules that use them: an optimiser updating a parameter's value,
/// a state-dict load, or a LoRA merge is seen by the module at once. Names keep their registration order
/// (PyTorch's `named_parameters()` order), which is the order of `namedParameters()` and of optimiser state.
public final class ParameterStore {
    /// What a registered tensor is.
    public enum Kind: Equatable {
        /// A trainable model parameter (part of the state dict).
        case parameter
        /// A LoRA (or other adapter) parameter: trainable, saved apart from the base state dict.
        case adapter
        /// A non-trainable tensor saved in the state dict (`register_buffer(persistent=True)`).
        case buffer
        /// A non-trainable tensor not saved (`register_buffer(persistent=False)`).
        case nonPersistentBuffer
    }

    /// How random initializers are served.
    public enum Initialization {
        /// Draw from the store's generator.
        case random
        /// Allocate without filling (fast model construction before a full state-dict load). Values stay
        /// undefined until loaded; `uninitializedNames` lists them, and a strict load reports them as missing.
        case uninitialized
    }

    struct Entry {
        let variable: Variable
        let kind: Kind
    }

    private var generator: any RandomNumberGenerator
    public let initialization: Initialization
    private var entries: [String: Entry] = [:]
    /// Every registered name (parameters, adapters, buffers) in registration order.
    public private(set) var allNames: [String] = []
    private var modulesByPath: [String: Module] = [:]
    /// Every registered module path in registration order.
    public private(set) var modulePaths: [String] = []
    /// Names created under `.uninitialized` (or with a non-constant initializer) that no load has filled yet.
    public private(set) var uninitializedNames: Set<String> = []

    /// A store whose random initializers draw from `generator` (e.g. a `TorchGenerator` seeded like PyTorch).
    public init<G: RandomNumberGenerator>(generator: G) {
        self.generator = generator
        self.initialization = .random
        self.elementBudget = nil
    }

    /// A store for models that will be filled by a state-dict load (no random numbers are drawn). `elementBudget`
    /// (uninitialized stores only): the most parameter elements to allocate, e.g. the element count of the weights
    /// file a strict load will fill them from. Past it, parameters get an unallocated placeholder of their shape and
    /// `budgetExceeded` names the first one, so a loader refuses a hostile config before it allocates for it.
    public init(initialization: Initialization, elementBudget: Int? = nil) {
        self.generator = SystemRandomNumberGenerator()
        self.initialization = initialization
        self.elementBudget = elementBudget
    }

    /// The parameter-element cap of an uninitialized store (nil: none); see `init(initialization:elementBudget:)`.
    public let elementBudget: Int?
    /// Parameter elements registered so far (saturating).
    public private(set) var registeredElements = 0
    /// The first parameter that went past `elementBudget`, with the elements asked for by then (nil: within budget).
    public private(set) var budgetExceeded: (name: String, shape: [Int], elements: Int)?

    /// Why a loader must refuse this store's config, for its error (nil: within budget): names `config`, the first
    /// parameter past the budget and the element counts against `weights`' (`weightsElements`).
    public func budgetMessage(config: String, weights: String, weightsElements: Int) -> String? {
        guard let (name, shape, elements) = budgetExceeded else { return nil }
        return "\(config): the config asks for at least \(elements) parameter elements (\(name) \(shape)), far more than "
            + "the \(weightsElements) in \(weights)"
    }

    /// The root builder (empty path).
    public var root: VarBuilder { VarBuilder(store: self) }

    /// A builder at `path`.
    public func builder(_ path: String = "") -> VarBuilder { VarBuilder(store: self, path: path) }

    // MARK: Registration

    func addParameter(_ name: String, shape: [Int], initializer: Initializer, kind: Kind) -> Variable {
        tensorCheck(entries[name] == nil, "ParameterStore", "parameter '\(name)' is registered twice")
        let value: Tensor
        var isGiven = false
        if case .value = initializer { isGiven = true }
        if initialization == .uninitialized && kind == .parameter && !isGiven {
            // Model parameters wait for a state-dict load; adapters and buffers are always filled.
            var n = 1, overflow = false
            for d in shape where !overflow { (n, overflow) = n.multipliedReportingOverflow(by: Swift.max(d, 0)) }
            let (total, over) = registeredElements.addingReportingOverflow(n)
            registeredElements = overflow || over ? Int.max : total
            if let budget = elementBudget, registeredElements > budget {
                if budgetExceeded == nil { budgetExceeded = (name, shape, registeredElements) }
                value = Tensor(scalar: 0).expanded(to: shape)   // a view of one element: nothing allocated
            } else {
                value = Tensor(uninitializedShape: shape)
            }
            uninitializedNames.insert(name)
        } else {
            value = initializer.makeTensor(shape: shape, generator: &generator)
        }
        let trainable = kind == .parameter || kind == .adapter
        let v = Variable(value, requiresGrad: trainable, name: name)
        entries[name] = Entry(variable: v, kind: kind)
        allNames.append(name)
        return v
    }

    func addModule(_ module: Module) {
        tensorCheck(modulesByPath[module.path] == nil, "ParameterStore",
                    "a module is already registered at path '\(module.path)' (\(type(of: modulesByPath[module.path]!)))")
        modulesByPath[module.path] = module
        modulePaths.append(module.path)
    }

    func removeParameter(_ name: String) {
        guard entries.removeValue(forKey: name) != nil else { return }
        allNames.removeAll { $0 == name }
        uninitializedNames.remove(name)
    }

    // MARK: Lookup

    /// The tensor registered under `name` (parameter, adapter or buffer).
    public subscript(name: String) -> Variable? { entries[name]?.variable }

    /// The kind of the tensor registered under `name`.
    public func kind(of name: String) -> Kind? { entries[name]?.kind }

    /// Names of the given kinds, in registration order.
    public func names(kinds: Set<Kind> = [.parameter, .adapter, .buffer, .nonPersistentBuffer]) -> [String] {
        allNames.filter { kinds.contains(entries[$0]!.kind) }
    }

    /// Parameters (and adapters) in registration order, optionally only those under `prefix`.
    public func namedParameters(prefix: String = "", includeAdapters: Bool = true) -> [NamedParameter] {
        allNames.compactMap { name in
            let e = entries[name]!
            guard e.kind == .parameter || (includeAdapters && e.kind == .adapter) else { return nil }
            guard ParameterStore.name(name, isUnder: prefix) else { return nil }
            return NamedParameter(name: name, variable: e.variable)
        }
    }

    /// Parameters with `requiresGrad` set (what an optimiser should update), in registration order.
    public func trainableParameters() -> [NamedParameter] {
        namedParameters().filter { $0.variable.requiresGrad }
    }

    /// Adapter (LoRA) parameters in registration order.
    public func adapterParameters() -> [NamedParameter] {
        allNames.compactMap { entries[$0]!.kind == .adapter ? NamedParameter(name: $0, variable: entries[$0]!.variable) : nil }
    }

    /// Total number of scalars in parameters (and adapters when asked).
    public func parameterCount(includeAdapters: Bool = false) -> Int {
        namedParameters(includeAdapters: includeAdapters).reduce(0) { $0 + $1.variable.value.count }
    }

    /// The module registered at `path`.
    public func module(at path: String) -> Module? { modulesByPath[path] }

    /// All modules of type `T` in registration order, optionally only those under `prefix`.
    public func modules<T>(ofType type: T.Type, under prefix: String = "") -> [T] {
        modulePaths.compactMap { p in
            ParameterStore.name(p, isUnder: prefix) ? modulesByPath[p] as? T : nil
        }
    }

    /// Modules whose path satisfies `predicate`, in registration order (e.g. every path ending in `.to_q`).
    public func modules(where predicate: (String) -> Bool) -> [Module] {
        modulePaths.compactMap { predicate($0) ? modulesByPath[$0] : nil }
    }

    /// True when `name` equals `prefix` or lies below it component-wise (`a.1` is under `a`, `a.10` is not under
    /// `a.1`); a prefix ending in "." matches by plain string prefix; the empty prefix matches everything.
    public static func name(_ name: String, isUnder prefix: String) -> Bool {
        if prefix.isEmpty || name == prefix { return true }
        if prefix.hasSuffix(".") { return name.hasPrefix(prefix) }
        return name.hasPrefix(prefix + ".")
    }

    // MARK: Training state

    /// Sets `requiresGrad = false` on every parameter (and adapter) under `prefix`; returns how many were touched.
    @discardableResult
    public func freeze(prefix: String = "") -> Int { setRequiresGrad(false, prefix: prefix) }

    /// Sets `requiresGrad = true` on every parameter (and adapter) under `prefix`; returns how many were touched.
    @discardableResult
    public func unfreeze(prefix: String = "") -> Int { setRequiresGrad(true, prefix: prefix) }

    private func setRequiresGrad(_ on: Bool, prefix: String) -> Int {
        let ps = namedParameters(prefix: prefix)
        for p in ps {
            p.variable.requiresGrad = on
            if !on { p.variable.grad = nil }
        }
        return ps.count
    }

    /// Switches every `TrainingModeSwitchable` module (dropout) to training or evaluation mode.
    public func setTraining(_ training: Bool) {
        for m in modules(ofType: TrainingModeSwitchable.self) { m.isTraining = training }
    }

    /// Drops every parameter's gradient (PyTorch's `zero_grad(set_to_none=True)`).
    public func zeroGrad() {
        for name in allNames { entries[name]!.variable.grad = nil }
    }

    // MARK: Value replacement (state-dict loads, LoRA merges)

    /// Replaces the value of `name`, checking its shape.
    func assign(_ name: String, _ value: Tensor) {
        guard let e = entries[name] else { preconditionFailure("ParameterStore.assign: no parameter named '\(name)'") }
        tensorCheck(e.variable.value.shape == value.shape, "ParameterStore.assign",
                    "'\(name)' has shape \(e.variable.value.shape) but the new value has shape \(value.shape)")
        e.variable.value = value
        uninitializedNames.remove(name)
    }
}

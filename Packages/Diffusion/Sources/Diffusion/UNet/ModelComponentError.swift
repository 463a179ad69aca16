import DataIO
import Foundation
import NN
import Tensor

/// A model component (`unet`, `vae`) could not be built or loaded: an unsupported or inconsistent config value, a
/// weight file whose keys or shapes do not match, or an input of the wrong shape. The message names the
/// component, the file or config key, and what was expected.
public struct ModelComponentError: Error, CustomStringConvertible, Equatable {
    public enum Kind: Equatable, Sendable {
        /// A config value this implementation does not support or that contradicts another.
        case config
        /// The weights do not match the model built from the config (missing, unexpected or mis-shaped keys).
        case weights
        /// A required file is absent.
        case missingFile
    }

    public let kind: Kind
    /// "unet", "vae", ...
    public let component: String
    /// The file at fault, when there is one.
    public let file: String?
    public let message: String
    /// For `.weights`: the full load report.
    public let report: StateDictReport?

    public init(_ kind: Kind, component: String, file: String? = nil, _ message: String, report: StateDictReport? = nil) {
        self.kind = kind
        self.component = component
        self.file = file
        self.message = message
        self.report = report
    }

    public var description: String {
        "\(component)\(file.map { " (\($0))" } ?? ""): \(message)"
    }
}

/// Loading a component's weights into the store that holds exactly that component.
enum ComponentWeights {
    /// Reads every tensor of `file` and loads it into `store` by diffusers name (strict: any missing, unexpected
    /// or mis-shaped key throws, naming the component, the file and every offending key, and nothing is loaded).
    @discardableResult
    static func load(_ file: SafetensorsFile, into store: ParameterStore, component: String,
                     strict: Bool) throws -> StateDictReport {
        var dict: [String: Tensor] = [:]
        for name in file.tensorNames { dict[name] = try file.tensor(name) }
        do {
            return try store.loadStateDict(dict, scope: .model, strict: strict)
        } catch let e as StateDictError {
            throw ModelComponentError(.weights, component: component, file: file.name,
                                      "weights do not match the config: \(e.report)", report: e.report)
        }
    }
}

/// Refuses a model whose config asked for more parameter elements than its weights file holds (checked before the
/// placeholders past the budget are ever allocated): a strict load could not fill them anyway.
func checkBudget(_ store: ParameterStore, config: String, weights: SafetensorsFile) throws {
    guard let name = store.budgetExceeded?.name,
          let message = store.budgetMessage(config: config, weights: weights.name, weightsElements: weights.totalElements) else { return }
    throw ModelComponentError(.config, component: name, file: config, message)
}

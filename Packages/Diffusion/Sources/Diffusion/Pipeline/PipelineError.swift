/// Invalid input to a sampling pipeline: the message names the argument, the shapes and what was expected.
public struct PipelineError: Error, CustomStringConvertible, Equatable {
    /// The argument or component at fault ("conditioning", "height", "steps", "unet", ...).
    public let item: String
    public let message: String

    public init(_ item: String, _ message: String) {
        self.item = item
        self.message = message
    }

    public var description: String { "pipeline: \(item): \(message)" }
}

/// Errors of the training tool: bad configuration values, unusable run folders, mismatched checkpoints.
public struct T2ITrainingError: Error, CustomStringConvertible, Equatable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { "train-t2i: \(message)" }
}

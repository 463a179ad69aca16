/// Errors of adapter training and evaluation: bad settings, unusable run folders, mismatched checkpoints.
public struct AdapterTrainingError: Error, CustomStringConvertible, Equatable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { "adapter training: \(message)" }
}

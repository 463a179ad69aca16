/// A bad evaluation setting, input file or result, with a message naming it.
public struct EvaluationError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Errors for invalid arguments to tensor operations.
///
/// Operations on tensors treat a wrong shape, rank or index as a programming error: they stop with a message
/// naming the operation, the shapes involved and what was expected (`tensorCheck`). Functions that validate
/// input coming from outside (files, user arguments) throw `TensorError` instead, so that callers can report it.
public enum TensorError: Error, Equatable, CustomStringConvertible {
    /// `op` received shapes it cannot work with; `expected` says what would have been valid.
    case shapeMismatch(op: String, shapes: [[Int]], expected: String)
    /// An axis outside `-rank..<rank`.
    case invalidAxis(op: String, axis: Int, rank: Int)
    /// An index outside its dimension.
    case indexOutOfRange(op: String, index: Int, size: Int)
    /// Any other invalid argument.
    case invalidArgument(op: String, message: String)

    public var description: String {
        switch self {
        case let .shapeMismatch(op, shapes, expected):
            return "\(op): shapes \(shapes.map { "\($0)" }.joined(separator: ", ")) are invalid; expected \(expected)"
        case let .invalidAxis(op, axis, rank):
            return "\(op): axis \(axis) is out of range for a tensor of rank \(rank)"
        case let .indexOutOfRange(op, index, size):
            return "\(op): index \(index) is out of range for a dimension of size \(size)"
        case let .invalidArgument(op, message):
            return "\(op): \(message)"
        }
    }
}

/// Stops with a clear message when a precondition of a tensor operation does not hold.
@inlinable
public func tensorCheck(_ condition: @autoclosure () -> Bool, _ op: @autoclosure () -> String,
                        _ message: @autoclosure () -> String, file: StaticString = #file, line: UInt = #line) {
    if !condition() { preconditionFailure("\(op()): \(message())", file: file, line: line) }
}

/// Runs a throwing shape computation from inside a non-throwing operation, stopping with its message on error.
@inlinable
public func tensorRequire<T>(_ body: () throws -> T, file: StaticString = #file, line: UInt = #line) -> T {
    do { return try body() } catch { preconditionFailure("\(error)", file: file, line: line) }
}

/// Normalises a possibly negative axis; throws `invalidAxis` when out of range.
@inlinable
public func normalizeAxis(_ axis: Int, rank: Int, op: String) throws -> Int {
    let a = axis < 0 ? axis + rank : axis
    guard a >= 0 && a < max(rank, 1) else { throw TensorError.invalidAxis(op: op, axis: axis, rank: rank) }
    return a
}

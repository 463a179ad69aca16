/// An error reading or writing outside data: names the file and, where there is one, the tensor, key or line at fault.
public struct DataIOError: Error, CustomStringConvertible, Equatable {
    public enum Kind: String, Sendable {
        /// The file ended before a length it declared.
        case truncated
        /// The safetensors header declares more bytes than the file holds, or more than the 100 MB limit.
        case headerTooLarge
        /// The header or a config is not valid JSON.
        case invalidJSON
        /// Valid JSON, but not the expected structure (a missing field, a wrong type, a negative dimension).
        case invalidHeader
        /// Tensor byte ranges that overlap, leave gaps, or reach outside the data section.
        case invalidOffsets
        /// A shape whose byte size does not match the tensor's byte range.
        case sizeMismatch
        /// A dtype this reader does not know.
        case unknownDType
        /// A known dtype that has no Float32 form (C64, F6): its bytes are readable, its values are not converted.
        case unsupportedDType
        /// A length, count, size or nesting depth read from a file that exceeds what the reader accepts (a config's
        /// `hidden_size: 1e15`, a 1 GB config file, JSON nested 10,000 deep): refused before anything is sized by it.
        case limitExceeded
        /// A tensor, key, file or component that does not exist.
        case notFound
        /// A tensor of a dtype that cannot be read the way asked (e.g. integers from a float tensor).
        case wrongDType
        /// Corrupt or unsupported image data.
        case image
        /// An argument that cannot be written (a bad name, a rank, a value).
        case invalidArgument
        /// An operating-system call failed.
        case io
    }

    public let kind: Kind
    /// The file (or "<memory>") the error is about.
    public let file: String
    /// The tensor, key or component at fault, when there is one.
    public let item: String?
    public let message: String

    public init(_ kind: Kind, file: String, item: String? = nil, _ message: String) {
        self.kind = kind
        self.file = file
        self.item = item
        self.message = message
    }

    public var description: String {
        if let item { return "\(file): '\(item)': \(message)" }
        return "\(file): \(message)"
    }
}

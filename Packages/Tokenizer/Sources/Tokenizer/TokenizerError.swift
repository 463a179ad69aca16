/// Errors thrown while loading vocabularies, reading tokenizer folders, encoding or training.
public enum TokenizerError: Error, CustomStringConvertible {
    /// A file could not be read or decompressed.
    case unreadableFile(path: String, reason: String)
    /// A vocabulary, merges or config file has unexpected content.
    case malformed(path: String, reason: String)
    /// A token string needed by the tokenizer (a merge part, a merge result, a special token) is not in the vocabulary.
    case missingToken(String, context: String)
    /// Text contains a byte that has no base token and the vocabulary has no unknown token.
    case unencodableByte(UInt8, word: String)
    /// A token id outside the vocabulary.
    case invalidTokenID(Int, vocabularySize: Int)
    /// An argument outside its valid range.
    case invalidArgument(String)

    public var description: String {
        switch self {
        case let .unreadableFile(path, reason): return "Tokenizer: cannot read \(path): \(reason)"
        case let .malformed(path, reason): return "Tokenizer: malformed \(path): \(reason)"
        case let .missingToken(token, context): return "Tokenizer: token \"\(token)\" is not in the vocabulary (\(context))"
        case let .unencodableByte(byte, word):
            return "Tokenizer: byte 0x\(String(byte, radix: 16)) of word \"\(word)\" has no base token and the vocabulary has no unknown token"
        case let .invalidTokenID(id, size): return "Tokenizer: token id \(id) is outside the vocabulary (size \(size))"
        case let .invalidArgument(message): return "Tokenizer: \(message)"
        }
    }
}

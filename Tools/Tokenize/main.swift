// tokenize: show CLIP token ids and tokens of texts.
//   swift run tokenize [--vocab <bpe_simple_vocab_16e6.txt.gz | vocab.json | tokenizer folder>] [--context N]
//                      [--normalization openCLIP|huggingFace] "a red circle" ...
// Without --vocab it uses the bundled open_clip vocabulary (Packages/Tokenizer/Tests/TokenizerTests/Fixtures).
import Foundation
import ToolSupport
import Tokenizer

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("tokenize: \(message)\n".utf8))
    exit(2)
}

let usage = """
    usage: tokenize [--vocab PATH] [--context N] [--normalization openCLIP|huggingFace] TEXT...
      PATH: bpe_simple_vocab_16e6.txt.gz (open_clip), vocab.json (merges.txt beside it) or a tokenizer folder
    """

var vocabPath: String? = nil
var context: Int? = nil
var normalization: TextNormalization? = nil
var texts = [String]()
var arguments = CommandLine.arguments.dropFirst()
while let argument = arguments.popFirst() {
    switch argument {
    case "--vocab":
        guard let v = arguments.popFirst() else { fail("--vocab needs a path") }
        vocabPath = v
    case "--context":
        // At least a start and an end token; 65536 is far beyond any CLIP context (77).
        guard let v = arguments.popFirst() else { fail("--context needs an integer in 2...65536") }
        do { context = try OptionCheck.parseInteger("--context", v, .within(2...65536)) } catch { fail("\(error)") }
    case "--normalization":
        guard let v = arguments.popFirst().flatMap(TextNormalization.init(rawValue:)) else {
            fail("--normalization must be openCLIP or huggingFace")
        }
        normalization = v
    case "-h", "--help": print(usage); exit(0)
    default:
        if argument.hasPrefix("--") { fail("unknown option \(argument)\n\(usage)") }
        texts.append(argument)
    }
}
if texts.isEmpty { fail("no text given\n\(usage)") }

/// The bundled vocabulary, looked up from the working directory and from the executable's folder upwards.
func bundledVocabulary() -> String? {
    let relative = "Packages/Tokenizer/Tests/TokenizerTests/Fixtures/bpe_simple_vocab_16e6.txt.gz"
    var candidates = [URL(fileURLWithPath: FileManager.default.currentDirectoryPath)]
    var dir = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
    for _ in 0..<6 { candidates.append(dir); dir = dir.deletingLastPathComponent() }
    return candidates.map { $0.appendingPathComponent(relative).path }.first { FileManager.default.fileExists(atPath: $0) }
}

do {
    guard let path = vocabPath ?? bundledVocabulary() else { fail("bundled vocabulary not found; pass --vocab\n\(usage)") }
    var isDirectory: ObjCBool = false
    FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory)
    let tokenizer: CLIPTokenizer
    if isDirectory.boolValue {
        tokenizer = try CLIPTokenizer(folder: path, normalization: normalization ?? .huggingFace)
    } else if path.hasSuffix(".json") {
        let merges = URL(fileURLWithPath: path).deletingLastPathComponent().appendingPathComponent("merges.txt").path
        tokenizer = try CLIPTokenizer(vocabJSON: path, mergesFile: merges, normalization: normalization ?? .huggingFace)
    } else {
        tokenizer = try CLIPTokenizer(bpeFile: path, normalization: normalization ?? .openCLIP)
    }
    print("vocabulary: \(path) (\(tokenizer.vocabularySize) tokens, \(tokenizer.normalization.rawValue), pad \(tokenizer.padTokenID))")
    for text in texts {
        let ids = try tokenizer.encode(text)
        print("text:   \(text)")
        print("ids:    \(ids)")
        print("tokens: \(try tokenizer.tokens(ids))")
        let encoded = try tokenizer.encode(text, contextLength: context ?? tokenizer.contextLength)
        print("context \(encoded.ids.count): end token at \(encoded.endTokenIndex)\(encoded.wasTruncated ? " (truncated)" : "")")
        if context != nil { print("        \(encoded.ids)") }
    }
} catch {
    fail("\(error)")
}

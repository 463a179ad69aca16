// Tokenizer throughput on one core: encode synthetic captions to 77-token contexts with CLIP's vocabulary.
// Usage: swift run -c release --package-path Packages/Tokenizer bench-tokenizer [path/to/bpe_simple_vocab_16e6.txt.gz] [captions]
import Foundation
import Tokenizer

let arguments = CommandLine.arguments
let defaultVocab = "Packages/Tokenizer/Tests/TokenizerTests/Fixtures/bpe_simple_vocab_16e6.txt.gz"
let vocabPath = arguments.count > 1 ? arguments[1] : defaultVocab
let count = arguments.count > 2 ? Int(arguments[2]) ?? 200_000 : 200_000

/// Deterministic caption generator (an LCG over word lists), so runs are comparable.
struct Captions {
    var state: UInt64 = 0x9E37_79B9_7F4A_7C15
    mutating func next(_ n: Int) -> Int {
        state = state &* 6364136223846793005 &+ 1442695040888963407
        return Int((state >> 33) % UInt64(n))
    }
    static let counts = ["a", "one", "two", "three", "four", "several", "many", "a pair of", "a group of"]
    static let adjectives = ["red", "blue", "green", "yellow", "small", "large", "striped", "wooden", "shiny", "old", "fluffy",
                             "purple", "transparent", "metallic", "tiny", "giant", "dark", "bright"]
    static let nouns = ["circle", "square", "triangle", "dog", "cat", "car", "bicycle", "apple", "chair", "table", "horse",
                        "teapot", "umbrella", "giraffe", "skateboard", "sandwich", "laptop", "mountain", "boat", "clock"]
    static let relations = ["on top of", "next to", "behind", "in front of", "to the left of", "to the right of", "under",
                            "inside", "near", "above"]
    static let scenes = ["", ", photorealistic", " in the snow", ", oil painting", " at sunset", ", 4k, highly detailed",
                         " on a beach", ". It's raining!", " (studio lighting)", " #art"]
    mutating func caption() -> String {
        var s = "\(Self.counts[next(Self.counts.count)]) \(Self.adjectives[next(Self.adjectives.count)]) \(Self.nouns[next(Self.nouns.count)])"
        if next(3) > 0 {
            s += " \(Self.relations[next(Self.relations.count)]) a \(Self.adjectives[next(Self.adjectives.count)]) \(Self.nouns[next(Self.nouns.count)])"
        }
        s += Self.scenes[next(Self.scenes.count)]
        if next(4) == 0 { s = s.prefix(1).uppercased() + s.dropFirst() }
        if next(8) == 0 { s += " \(next(2000))" }
        return s
    }
}

do {
    let loadStart = Date()
    let tokenizer = try CLIPTokenizer(bpeFile: vocabPath)
    let loadSeconds = Date().timeIntervalSince(loadStart)
    var generator = Captions()
    let captions = (0..<count).map { _ in generator.caption() }
    let averageLength = Double(captions.reduce(0) { $0 + $1.count }) / Double(count)

    var checksum = 0
    let start = Date()
    for caption in captions {
        let encoded = try tokenizer.encode(caption, contextLength: 77)
        checksum &+= encoded.endTokenIndex &+ encoded.ids[1]
    }
    let seconds = Date().timeIntervalSince(start)
    print(String(format: "vocab load: %.3f s (%d tokens)", loadSeconds, tokenizer.vocabularySize))
    print(String(format: "encoded %d captions (avg %.1f chars, %d distinct words cached) in %.3f s on one thread: %.0f captions/s (checksum %d)",
                 count, averageLength, tokenizer.cachedWordCount, seconds, Double(count) / seconds, checksum))
} catch {
    print("bench-tokenizer: \(error)")
    exit(1)
}

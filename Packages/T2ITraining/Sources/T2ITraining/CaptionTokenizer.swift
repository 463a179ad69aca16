import ShapesWorld
import Tokenizer

/// The tokenizer of a run: CLIP's byte-level BPE with merges learned from train-split captions.
public enum CaptionTokenizer {
    /// Every lower-case letter and digit once, appended to the corpus so that no caption of another split (a
    /// held-out template word) can hold a byte the vocabulary lacks. Single occurrences never become merges.
    static let alphabetLine = "a b c d e f g h i j k l m n o p q r s t u v w x y z 0 1 2 3 4 5 6 7 8 9 , . ' -"

    /// The first `config.tokenizerCorpusSize` captions of the train split (plus the alphabet line).
    public static func corpus(_ config: T2IConfig) -> [String] {
        let gen = SampleGenerator(seed: config.seed, config: .square(config.imageSize))
        return (0..<config.tokenizerCorpusSize).map { gen.positive(split: .train, index: $0).caption } + [alphabetLine]
    }

    /// Fits the BPE tokenizer (transformers-style normalisation, pads with the end token, context
    /// `config.contextLength`) and checks that every corpus caption fits the context.
    public static func fit(_ config: T2IConfig) throws -> CLIPTokenizer {
        let captions = corpus(config)
        let tok = try BPETrainer(vocabularySize: config.vocabSize, normalization: .huggingFace,
                                 contextLength: config.contextLength).train(corpus: captions)
        var longest = 0, longestCaption = ""
        for c in captions.dropLast() {   // the alphabet line is not a caption
            let n = try tok.encode(c).count + 2
            if n > longest { longest = n; longestCaption = c }
        }
        guard longest <= config.contextLength else {
            throw T2ITrainingError("context_length \(config.contextLength) is too short: the caption \"\(longestCaption)\" needs \(longest) tokens with start and end")
        }
        return tok
    }
}

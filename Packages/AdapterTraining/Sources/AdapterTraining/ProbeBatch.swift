import DiscriminativeAdapter
import Foundation
import ShapesWorld
import Tensor

/// One training/evaluation batch for DPT's discriminative tasks, built from ShapesWorld samples.
///
/// Per sample b: three images (slot 0 the positive, 1 the hard-negative image — the scene of a hard-negative
/// caption, i.e. a similar image that does not match the caption, 2 the random negative's image), three captions
/// (0 the positive, 1 a hard negative, 2 the random negative's caption) and one referring expression of the
/// positive image with its REC target (box and token span).
public struct ProbeBatch {
    public var samples: [Sample]
    /// [B * 3, 3, H, W] in [-1, 1]; row b * 3 + k is image slot k of sample b.
    public var images: Tensor
    /// [B][3] captions: positive, hard negative, random.
    public var captions: [[String]]
    /// The hard negative chosen for each sample (its kind names the ITM category of the pair).
    public var hardNegatives: [HardNegative]
    /// One referring expression per sample (of the positive image).
    public var expressions: [ReferringExpression]
    /// REC targets of the expressions (token positions in the encoded expression, start token at 0).
    public var recTargets: [RECTarget]

    public var count: Int { samples.count }

    /// Builds a batch. `generator` picks the hard negative (with probability proportional to its kind's weight in
    /// `negativeWeights`, unlisted kinds 1; uniformly when it is empty) and the expression (uniformly) of each sample;
    /// `wordTokens` encodes one word into the text encoder's token ids without start/end tokens (e.g.
    /// `CLIPTokenizer.encode(_:)`); `contextLength` is the encoder's sequence length (77). Samples without hard
    /// negatives or expressions, and expressions longer than the context, throw.
    public init<G: RandomNumberGenerator>(samples: [Sample], generator: SampleGenerator, wordTokens: (String) throws -> [Int],
                                          contextLength: Int = 77, negativeWeights: [NegativeKind: Double] = [:],
                                          choices rng: inout G) throws {
        guard !samples.isEmpty else { throw AdapterError.input("ProbeBatch: no samples") }
        var images: [Tensor] = []
        var captions: [[String]] = [], negatives: [HardNegative] = [], expressions: [ReferringExpression] = []
        var targets: [RECTarget] = []
        for s in samples {
            guard !s.negatives.isEmpty else {
                throw AdapterError.input("ProbeBatch: sample \(s.split.rawValue)/\(s.index) (\(s.caption)) has no hard negative")
            }
            guard !s.expressions.isEmpty else {
                throw AdapterError.input("ProbeBatch: sample \(s.split.rawValue)/\(s.index) (\(s.caption)) has no referring expression")
            }
            let neg = s.negatives[Self.pick(s.negatives.map { negativeWeights[$0.kind] ?? 1 }, weighted: !negativeWeights.isEmpty, using: &rng)]
            let expr = s.expressions[Int.random(in: 0..<s.expressions.count, using: &rng)]
            let random = generator.positive(split: s.split, index: s.randomNegativeIndex)
            images.append(Renderer.render(s.scene).tensor())
            images.append(Renderer.render(neg.scene).tensor())
            images.append(Renderer.render(random.scene).tensor())
            captions.append([s.caption, neg.caption, random.caption])
            negatives.append(neg)
            expressions.append(expr)
            targets.append(try Self.recTarget(expr, wordTokens: wordTokens, contextLength: contextLength))
        }
        self.samples = samples
        self.images = Tensor.stack(images, axis: 0)
        self.captions = captions
        self.hardNegatives = negatives
        self.expressions = expressions
        self.recTargets = targets
    }

    /// An index into `weights`: uniform (the draw of unweighted batches) unless `weighted`, else proportional to the
    /// weights (all positive).
    public static func pick<G: RandomNumberGenerator>(_ weights: [Double], weighted: Bool, using rng: inout G) -> Int {
        guard weighted else { return Int.random(in: 0..<weights.count, using: &rng) }
        let total = weights.reduce(0, +)
        var u = Double.random(in: 0..<total, using: &rng)
        for (k, w) in weights.enumerated() {
            if u < w { return k }
            u -= w
        }
        return weights.count - 1
    }

    /// The REC target of an expression: its box and the token positions of its naming words, counting the start
    /// token at 0 and each whitespace-separated word's tokens in order (CLIP's BPE works within words, so this
    /// equals the positions in the encoded expression).
    public static func recTarget(_ e: ReferringExpression, wordTokens: (String) throws -> [Int],
                                 contextLength: Int = 77) throws -> RECTarget {
        let words = e.text.split(separator: " ").map(String.init)
        var position = 1
        var span: [Int] = []
        for (k, w) in words.enumerated() {
            let n = try wordTokens(w).count
            guard n > 0 else { throw AdapterError.input("ProbeBatch: word '\(w)' of '\(e.text)' encodes to no tokens") }
            if e.wordIndices.contains(k) { span.append(contentsOf: position..<(position + n)) }
            position += n
        }
        let count = position + 1                                          // + end token
        guard count <= contextLength else {
            throw AdapterError.input("ProbeBatch: expression '\(e.text)' needs \(count) tokens, more than the context length \(contextLength)")
        }
        guard !span.isEmpty else { throw AdapterError.input("ProbeBatch: expression '\(e.text)' names no word") }
        let b = e.box
        return try RECTarget(boxes: [[Float(b.cx), Float(b.cy), Float(b.w), Float(b.h)]], tokenSpans: [span], tokenCount: count)
    }

    /// Texts to encode, in the order `ProbePlan` expects: the 3B captions (b * 3 + k), then the B expressions.
    public var textsToEncode: [String] { captions.flatMap { $0 } + expressions.map(\.text) }
}

import Diffusion
import DiscriminativeAdapter
import ShapesWorld
import Tensor

/// The sample stream of probing runs: ShapesWorld samples of one split in index order, skipping samples that
/// cannot form a DPT batch (no hard negative, no referring expression, or an expression longer than the token
/// context). The position in the stream (the data cursor) is the next index to look at.
///
/// Two optional reweightings aim the ITM task at the base model's failures: `categoryWeights` keeps a sample of
/// category c with probability w_c / max w (a hash of the selection seed and the index decides, so a resumed run
/// skips exactly what an uninterrupted one does; unlisted categories weigh 1), and `negativeWeights` draws each
/// sample's hard negative with probability proportional to its kind's weight (unlisted kinds weigh 1). Both empty:
/// the stream as generated, negatives uniform.
public struct ProbeData {
    public let world: SampleGenerator
    public let split: Split
    public let wordTokens: (String) throws -> [Int]
    public let contextLength: Int
    public let categoryWeights: [Category: Double]
    public let negativeWeights: [NegativeKind: Double]
    public let selectionSeed: UInt64

    public init(world: SampleGenerator, split: Split, wordTokens: @escaping (String) throws -> [Int], contextLength: Int,
                categoryWeights: [Category: Double] = [:], negativeWeights: [NegativeKind: Double] = [:], selectionSeed: UInt64 = 0) {
        self.world = world
        self.split = split
        self.wordTokens = wordTokens
        self.contextLength = contextLength
        self.categoryWeights = categoryWeights
        self.negativeWeights = negativeWeights
        self.selectionSeed = selectionSeed
    }

    /// Whether the category reweighting keeps sample `index` of category `c`.
    public func keeps(_ c: Category, index: Int) -> Bool {
        guard !categoryWeights.isEmpty else { return true }
        let top = Category.allCases.map { categoryWeights[$0] ?? 1 }.max()!
        let p = (categoryWeights[c] ?? 1) / top
        guard p < 1 else { return true }
        let u = Double(Self.stepSeed(selectionSeed ^ 0x5E1E_C7ED_CA7E_6041, step: index) >> 11) / Double(1 << 53)
        return u < p
    }

    /// Whether a sample has what a DPT batch needs (every expression must fit, since any may be drawn).
    public func isUsable(_ s: Sample) -> Bool {
        guard !s.negatives.isEmpty, !s.expressions.isEmpty else { return false }
        for e in s.expressions {
            guard (try? ProbeBatch.recTarget(e, wordTokens: wordTokens, contextLength: contextLength)) != nil else { return false }
        }
        return true
    }

    /// The next `count` usable samples from index `cursor` on, and the cursor after them.
    public func samples(from cursor: Int, count: Int) -> (samples: [Sample], next: Int) {
        var out: [Sample] = []
        var i = cursor
        var skippedInARow = 0
        while out.count < count {
            let s = world.sample(split: split, index: i)
            i += 1
            if isUsable(s), keeps(s.category, index: s.index) { out.append(s); skippedInARow = 0 } else {
                skippedInARow += 1
                tensorCheck(skippedInARow < 10_000, "ProbeData.samples",
                            "10000 consecutive \(split.rawValue) samples from index \(i - 10_000) lack a hard negative or a fitting expression, or the category weights skip them")
            }
        }
        return (out, i)
    }

    /// The seed of step `step`'s random draws: SplitMix64 of the run seed and the step, so that a resumed run draws
    /// exactly what an uninterrupted one would.
    public static func stepSeed(_ seed: UInt64, step: Int) -> UInt64 {
        var z = seed &+ 0x9E37_79B9_7F4A_7C15 &* UInt64(step + 1)
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Everything one stage-1 step consumes, prepared outside the graph: the batch, clean latents of its 3B images,
/// shared noise and timesteps per sample, and the text features of its captions and expressions.
public struct ProbeInputs {
    public var batch: ProbeBatch
    /// [3B, C, h, w], row b * 3 + slot.
    public var latents: Tensor
    /// [B, C, h, w].
    public var noise: Tensor
    public var timesteps: [Int]
    /// Features of the 3B captions (row b * 3 + k) and of the B expressions.
    public var captions: TextFeatures
    public var expressions: TextFeatures

    public var count: Int { batch.count }

    public init(batch: ProbeBatch, latents: Tensor, noise: Tensor, timesteps: [Int], captions: TextFeatures, expressions: TextFeatures) {
        self.batch = batch
        self.latents = latents
        self.noise = noise
        self.timesteps = timesteps
        self.captions = captions
        self.expressions = expressions
    }

    /// Builds the inputs of `samples`, drawing (in this order) the hard negative and expression of each sample, the
    /// VAE latents (latent models only), the timesteps uniform in `timesteps` and the noise from `generator`.
    public static func make(samples: [Sample], model: ProbeModel, data: ProbeData, timesteps range: Range<Int>,
                            tokens: Bool, generator g: inout TorchGenerator) throws -> ProbeInputs {
        let batch = try ProbeBatch(samples: samples, generator: data.world, wordTokens: data.wordTokens,
                                   contextLength: data.contextLength, negativeWeights: data.negativeWeights, choices: &g)
        let latents = model.latents(of: batch.images, generator: &g)
        let b = batch.count
        let ts = DiffusionTraining.sampleTimesteps(count: b, numTrainTimesteps: range.count, generator: &g).map { $0 + range.lowerBound }
        let noise = g.randn([b] + Array(latents.shape.dropFirst()))
        let texts = try model.encode(batch.textsToEncode, tokens: tokens)
        let captions = texts.rows(Array(0..<(3 * b))), expressions = texts.rows(Array((3 * b)..<(4 * b)))
        return ProbeInputs(batch: batch, latents: latents, noise: noise, timesteps: ts, captions: captions, expressions: expressions)
    }
}

extension ProbeInputs {
    /// Samples `range` of these inputs (their images, latents, noise, timesteps and text features): how a step's
    /// inputs, drawn once for the effective batch, are cut into micro-batches for gradient accumulation.
    public func rows(_ range: Range<Int>) -> ProbeInputs {
        tensorCheck(range.lowerBound >= 0 && range.upperBound <= count && !range.isEmpty, "ProbeInputs.rows",
                    "rows \(range) of a batch of \(count)")
        var b = batch
        b.samples = Array(batch.samples[range])
        b.images = batch.images.sliced(axis: 0, start: 3 * range.lowerBound, end: 3 * range.upperBound)
        b.captions = Array(batch.captions[range])
        b.hardNegatives = Array(batch.hardNegatives[range])
        b.expressions = Array(batch.expressions[range])
        b.recTargets = Array(batch.recTargets[range])
        let three = Array((3 * range.lowerBound)..<(3 * range.upperBound))
        return ProbeInputs(batch: b, latents: latents.sliced(axis: 0, start: 3 * range.lowerBound, end: 3 * range.upperBound),
                           noise: noise.sliced(axis: 0, start: range.lowerBound, end: range.upperBound),
                           timesteps: Array(timesteps[range]), captions: captions.rows(three),
                           expressions: expressions.rows(Array(range)))
    }
}

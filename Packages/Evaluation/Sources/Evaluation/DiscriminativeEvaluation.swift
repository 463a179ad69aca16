import AdapterTraining
import Autodiff
import DataIO
import Diffusion
import DiscriminativeAdapter
import Foundation
import ShapesWorld
import Tensor

/// The discriminative accuracies of a set of samples, each with its count (95% Wilson intervals), and REC's
/// baselines on the same referents.
public struct DiscriminativeScores: Equatable, Sendable {
    /// ITM text accuracy: one image, {positive, hard-negative caption}, 2-way.
    public var text = Proportion(successes: 0, total: 0)
    /// ITM image accuracy: one caption, {positive, hard-negative image}, 2-way.
    public var image = Proportion(successes: 0, total: 0)
    /// REC precision@1 at IoU >= 0.5.
    public var rec = Proportion(successes: 0, total: 0)
    /// REC precision@1 at IoU >= 0.3.
    public var recLoose = Proportion(successes: 0, total: 0)
    /// Precision@1 (IoU >= 0.5) of the constant boxes of `RECBaselines` on the same referents (0 of 0 without them).
    public var meanBox = Proportion(successes: 0, total: 0)
    public var bestConstantBox = Proportion(successes: 0, total: 0)
    /// The top query's centres and the referents' centres, [predicted cx, cy, target cx, cy] per sample.
    public var centres: [[Double]] = []

    public init() {}

    /// Pearson's correlation of the top query's centre with the referent's, per axis (nan: fewer than two
    /// samples, or a constant prediction).
    public var centreCorrelation: (x: Double, y: Double) {
        (pearson(centres.map { $0[0] }, centres.map { $0[2] }), pearson(centres.map { $0[1] }, centres.map { $0[3] }))
    }

    /// The standard deviation of the top query's predicted centres across samples, per axis: near 0 when the head
    /// predicts one box for every image (collapsed queries).
    public var predictedCentreSpread: (x: Double, y: Double) {
        func sd(_ v: [Double]) -> Double {
            guard v.count >= 2 else { return .nan }
            let m = v.reduce(0, +) / Double(v.count)
            return (v.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(v.count - 1)).squareRoot()
        }
        return (sd(centres.map { $0[0] }), sd(centres.map { $0[1] }))
    }

    mutating func add(text t: Bool, image i: Bool, rec r: RECOutcome) {
        text.total += 1; image.total += 1; rec.total += 1; recLoose.total += 1
        if t { text.successes += 1 }
        if i { image.successes += 1 }
        if r.hit { rec.successes += 1 }
        if r.looseHit { recLoose.successes += 1 }
        if let m = r.meanBoxHit { meanBox.total += 1; if m { meanBox.successes += 1 } }
        if let b = r.bestBoxHit { bestConstantBox.total += 1; if b { bestConstantBox.successes += 1 } }
        centres.append(r.centres)
    }

    /// JSON: each metric as {successes, total, accuracy, ci95: [low, high]}, and the centre statistics.
    public var json: JSONValue {
        func p(_ x: Proportion) -> JSONValue {
            let ci = x.interval95
            return .object(["successes": .int(x.successes), "total": .int(x.total), "accuracy": x.total > 0 ? .double(x.value) : .null,
                            "ci95": .array([.double(ci.low), .double(ci.high)])])
        }
        func num(_ v: Double) -> JSONValue { v.isFinite ? .double(v) : .null }
        let corr = centreCorrelation, spread = predictedCentreSpread
        return .object(["itm_text": p(text), "itm_image": p(image), "rec_p_at_1": p(rec), "rec_p_at_1_iou03": p(recLoose),
                        "rec_mean_box_p_at_1": p(meanBox), "rec_best_constant_box_p_at_1": p(bestConstantBox),
                        "rec_centre_correlation": .object(["x": num(corr.x), "y": num(corr.y)]),
                        "rec_predicted_centre_spread": .object(["x": num(spread.x), "y": num(spread.y)])])
    }
}

/// One sample's REC outcome: the top query's hits at IoU 0.5 and 0.3, the constant baselines' hits (nil without
/// baselines) and the centres.
struct RECOutcome {
    var hit: Bool
    var looseHit: Bool
    var meanBoxHit: Bool?
    var bestBoxHit: Bool?
    var centres: [Double]
}

/// The evaluation of one split at one timestep: overall, per ShapesWorld category and per hard-negative kind.
public struct SplitEvaluation: Sendable {
    public var split: Split
    public var timestep: Int
    public var overall = DiscriminativeScores()
    public var byCategory: [String: DiscriminativeScores] = [:]
    /// Per kind of the hard negative used by the sample (REC there counts the same samples).
    public var byNegativeKind: [String: DiscriminativeScores] = [:]
    /// The uniform referent pick: the expected precision@1 of picking one of the scene's objects uniformly at
    /// random, i.e. a perfect detector that ignores the expression (not chance: it knows where every object is),
    /// summed over samples; divide by `overall.rec.total`.
    public var recUniformReferentPickSum = 0.0
    /// The constant-box baselines the REC numbers were compared with (nil: none).
    public var recBaselines: RECBaselines?

    /// The uniform referent pick as a fraction.
    public var recUniformReferentPick: Double { overall.rec.total > 0 ? recUniformReferentPickSum / Double(overall.rec.total) : .nan }

    public init(split: Split, timestep: Int) {
        self.split = split
        self.timestep = timestep
    }

    public var json: JSONValue {
        .object(["split": .string(split.rawValue), "timestep": .int(timestep), "overall": overall.json,
                 "rec_uniform_referent_pick": recUniformReferentPick.isFinite ? .double(recUniformReferentPick) : .null,
                 "rec_baselines": recBaselines.map { b in .object([
                     "mean_box": .array(b.meanBox.map { .double($0) }), "best_constant_box": .array(b.bestConstantBox.map { .double($0) }),
                     "train_samples": .int(b.trainSamples), "train_referents": .int(b.trainReferents)]) } ?? .null,
                 "by_category": .object(byCategory.mapValues(\.json)), "by_negative_kind": .object(byNegativeKind.mapValues(\.json))])
    }
}

/// A fixed evaluation set: the first `count` usable samples of a split, each with its own hard negative, expression,
/// noise (and VAE draw) from `TorchGenerator(stepSeed(seed ^ split stream, sample index))`, so results do not
/// depend on the batch size. Prepared once (images, latents, text features) and reused across timesteps, taps and
/// adapters.
public struct EvaluationSet {
    public let split: Split
    public let seed: UInt64
    /// Batches of prepared inputs (their `timesteps` are unused).
    public var chunks: [ProbeInputs]

    public var count: Int { chunks.reduce(0) { $0 + $1.count } }

    public static func make(model: ProbeModel, world: SampleGenerator, split: Split, count: Int, seed: UInt64 = 0,
                            batchSize: Int = 16, tokens: Bool = false) throws -> EvaluationSet {
        guard count >= 1, batchSize >= 1 else { throw EvaluationError("evaluation: count \(count) and batch size \(batchSize) must be positive") }
        let data = ProbeData(world: world, split: split, wordTokens: model.wordTokens, contextLength: model.contextLength)
        var cursor = 0
        var chunks: [ProbeInputs] = []
        var done = 0
        while done < count {
            let n = Swift.min(batchSize, count - done)
            let (samples, next) = data.samples(from: cursor, count: n)
            cursor = next
            var batches: [ProbeBatch] = [], latents: [Tensor] = [], noise: [Tensor] = []
            for s in samples {
                var g = TorchGenerator(seed: ProbeData.stepSeed(seed ^ split.stream, step: s.index))
                let b = try ProbeBatch(samples: [s], generator: world, wordTokens: data.wordTokens, contextLength: data.contextLength, choices: &g)
                let z = model.latents(of: b.images, generator: &g)
                batches.append(b)
                latents.append(z)
                noise.append(g.randn([1] + Array(z.shape.dropFirst())))
            }
            var merged = batches[0]
            merged.samples = batches.flatMap(\.samples)
            merged.images = Tensor.concat(batches.map(\.images), axis: 0)
            merged.captions = batches.flatMap(\.captions)
            merged.hardNegatives = batches.flatMap(\.hardNegatives)
            merged.expressions = batches.flatMap(\.expressions)
            merged.recTargets = batches.flatMap(\.recTargets)
            let texts = try model.encode(merged.textsToEncode, tokens: tokens)
            chunks.append(ProbeInputs(batch: merged, latents: Tensor.concat(latents, axis: 0), noise: Tensor.concat(noise, axis: 0),
                                      timesteps: [], captions: texts.rows(Array(0..<(3 * n))),
                                      expressions: texts.rows(Array((3 * n)..<(4 * n)))))
            done += n
        }
        return EvaluationSet(split: split, seed: seed, chunks: chunks)
    }
}

/// DPT's discriminative evaluation: ITM text and image accuracy (2-way, positive vs hard negative) and REC
/// precision@1 at IoU 0.5, all at one timestep (T/2 by default), with shared noise per sample.
public enum DiscriminativeEvaluator {
    /// Evaluates `model` (switched to evaluation mode: no dropout) on `set` at timestep `t`, scoring REC's constant
    /// `baselines` on the same referents when given. `progress(done, total)` after each chunk.
    public static func evaluate(model: DiscriminativeModel, set: EvaluationSet, timestep t: Int, schedule: NoiseSchedule,
                                baselines: RECBaselines? = nil, progress: ((Int, Int) -> Void)? = nil) throws -> SplitEvaluation {
        guard t >= 0, t < schedule.numTrainTimesteps else {
            throw EvaluationError("evaluation timestep \(t) is outside 0..<\(schedule.numTrainTimesteps)")
        }
        model.adapter.setTraining(false)   // left in evaluation mode; ProbeTrainer switches back before each step
        var result = SplitEvaluation(split: set.split, timestep: t)
        result.recBaselines = baselines
        var done = 0
        for chunk in set.chunks {
            let b = chunk.count
            let passes = EvaluationPlan.passes
            var imageRows: [Int] = [], sampleRows: [Int] = [], contextRows: [Int] = []
            for s in 0..<b {
                for p in passes {
                    imageRows.append(s * 3 + p.image)
                    sampleRows.append(s)
                    contextRows.append(p.text == 3 ? 3 * b + s : s * 3 + p.text)   // rows of [captions; expressions]
                }
            }
            let clean = chunk.latents.indexSelect(axis: 0, indices: imageRows)
            let noise = chunk.noise.indexSelect(axis: 0, indices: sampleRows)
            let noisy = schedule.addNoise(original: clean, noise: noise, timesteps: Array(repeating: t, count: imageRows.count))
            let context = Tensor.concat([chunk.captions.context, chunk.expressions.context], axis: 0).indexSelect(axis: 0, indices: contextRows)
            let np = passes.count
            let recRows = (0..<b).map { $0 * np + 3 }     // REC reads the expression pass only
            let out = GradMode.noGrad {
                model.forward(latents: Variable(noisy), timesteps: [Float(t)], context: Variable(context),
                              pooled: Variable(chunk.expressions.pooled), recRows: recRows)
            }
            // ITM: passes 0, 1 against their own caption, pass 2 (hard-negative image) against the positive caption.
            let itmRows = (0..<b).flatMap { s in (0..<3).map { s * np + $0 } }
            let itmText = (0..<b).flatMap { s in [s * 3, s * 3 + 1, s * 3] }
            let scores = GradMode.noGrad {
                MatchingLoss.scores(out.matchingEmbeddings.indexSelect(axis: 0, indices: itmRows),
                                    text: Variable(chunk.captions.pooled.indexSelect(axis: 0, indices: itmText))).value.scalars
            }
            let (text, image) = EvaluationPlan.itmOutcomes(scores: scores, count: b)
            let top = GradMode.noGrad { out.rec.topBoxes() }
            let targets = chunk.batch.expressions.map { [$0.box.cx, $0.box.cy, $0.box.w, $0.box.h] }
            let hits = DiscriminativeMetrics.recHits(predicted: top, targets: targets)
            let looseHits = DiscriminativeMetrics.recHits(predicted: top, targets: targets, threshold: 0.3)
            for s in 0..<b {
                let scene = chunk.batch.samples[s].scene, target = chunk.batch.expressions[s].box
                let n = scene.objects.count
                result.recUniformReferentPickSum += Double((0..<n).filter { scene.box($0).iou(target) >= 0.5 }.count) / Double(max(1, n))
                let rec = RECOutcome(hit: hits[s], looseHit: looseHits[s],
                                     meanBoxHit: baselines.map { $0.meanBoxValue.iou(target) >= 0.5 },
                                     bestBoxHit: baselines.map { $0.bestBoxValue.iou(target) >= 0.5 },
                                     centres: [top[s][0], top[s][1], target.cx, target.cy])
                result.overall.add(text: text[s], image: image[s], rec: rec)
                result.byCategory[chunk.batch.samples[s].category.rawValue, default: DiscriminativeScores()]
                    .add(text: text[s], image: image[s], rec: rec)
                result.byNegativeKind[chunk.batch.hardNegatives[s].kind.rawValue, default: DiscriminativeScores()]
                    .add(text: text[s], image: image[s], rec: rec)
            }
            done += b
            progress?(done, set.count)
        }
        return result
    }
}

import Autodiff
import NN
import Tensor
import XCTest
import Foundation
import DiscriminativeAdapter

/// Can a REC head learn at all? A trivial task: one bright blob of 1-3 x 1-3 cells on a flat, slightly noisy
/// 8 x 8 feature map; the referent is the blob's box. Trained with stage 1's optimiser settings (AdamW, weight decay
/// 1e-2, clip 1.0) on fresh samples each step, then scored on held-out samples.
final class RECLearnabilityTests: XCTestCase {
    struct Outcome: CustomStringConvertible {
        var precision: Double
        var centreCorrelation: (x: Double, y: Double)
        var centreSpread: (x: Double, y: Double)
        var description: String {
            "P@1 \(precision), centre r x \(centreCorrelation.x) y \(centreCorrelation.y), spread x \(centreSpread.x) y \(centreSpread.y)"
        }
    }

    static let side = 8, channels = 4

    /// B blob maps [B, 4, 8, 8] and their targets (token span [1]).
    static func blobs(_ b: Int, generator g: inout TorchGenerator) throws -> (Tensor, [RECTarget]) {
        let s = side, c = channels
        var x = [Float](repeating: 0, count: b * c * s * s)
        var targets: [RECTarget] = []
        for n in 0..<b {
            let w = 1 + Int(g.uniformFloat() * 3) % 3, h = 1 + Int(g.uniformFloat() * 3) % 3
            let j0 = Int(g.uniformFloat() * Float(s - w + 1)) % (s - w + 1), i0 = Int(g.uniformFloat() * Float(s - h + 1)) % (s - h + 1)
            for ch in 0..<c {
                for i in 0..<s {
                    for j in 0..<s {
                        let inside = i >= i0 && i < i0 + h && j >= j0 && j < j0 + w
                        let noise = Float(g.normalDouble(std: 0.1))
                        x[((n * c + ch) * s + i) * s + j] = (ch == 0 && inside ? 1 : 0) + (ch == 1 ? 0.5 : 0) + noise
                    }
                }
            }
            let box: [Float] = [(Float(j0) + Float(w) / 2) / Float(s), (Float(i0) + Float(h) / 2) / Float(s),
                                Float(w) / Float(s), Float(h) / Float(s)]
            targets.append(try RECTarget(boxes: [box], tokenSpans: [[1]], tokenCount: 3))
        }
        return (Tensor(shape: [b, c, s, s], scalars: x), targets)
    }

    static func pearson(_ a: [Double], _ b: [Double]) -> Double {
        let n = Double(a.count), ma = a.reduce(0, +) / n, mb = b.reduce(0, +) / n
        var sab = 0.0, saa = 0.0, sbb = 0.0
        for (x, y) in zip(a, b) { sab += (x - ma) * (y - mb); saa += (x - ma) * (x - ma); sbb += (y - mb) * (y - mb) }
        return saa > 0 && sbb > 0 ? sab / (saa * sbb).squareRoot() : 0
    }

    static func std(_ a: [Double]) -> Double {
        let m = a.reduce(0, +) / Double(a.count)
        return (a.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(a.count)).squareRoot()
    }

    /// Trains a fresh adapter of `config` for `steps` steps of `batch` and scores it on 128 held-out maps.
    static func train(_ config: AdapterConfig, steps: Int, batch: Int = 8, learningRate: Double) throws -> Outcome {
        let adapter = try DiscriminativeAdapter(config: config, seed: 1)
        let params = adapter.store.namedParameters()
        let opt = AdamW(parameters: params, learningRate: learningRate, weightDecay: 1e-2)
        var g = TorchGenerator(seed: 7)
        let criterion = RECCriterion()
        for _ in 0..<steps {
            let (x, targets) = try blobs(batch, generator: &g)
            let out = adapter(Variable(x), timesteps: [100])
            let loss = try criterion.loss(out.rec, targets: targets).total
            opt.zeroGrad()
            loss.backward()
            _ = GradientClipping.clipGradNorm(params, maxNorm: 1)
            opt.step()
        }
        var test = TorchGenerator(seed: 99)
        let (x, targets) = try blobs(128, generator: &test)
        let top = GradMode.noGrad { adapter(Variable(x), timesteps: [100]).rec.topBoxes() }
        let truth = targets.map { $0.boxes[0].map(Double.init) }
        let hits = DiscriminativeMetrics.recHits(predicted: top, targets: truth)
        return Outcome(precision: Double(hits.filter { $0 }.count) / Double(hits.count),
                       centreCorrelation: (pearson(top.map { $0[0] }, truth.map { $0[0] }), pearson(top.map { $0[1] }, truth.map { $0[1] })),
                       centreSpread: (std(top.map { $0[0] }), std(top.map { $0[1] })))
    }

    static func config(_ head: RECHeadKind) -> AdapterConfig {
        AdapterConfig(hiddenDim: 32, heads: 4, feedForwardDim: 64, dropout: 0, matchingQueries: 1,
                      referringQueries: head == .detr ? 4 : 0, featureChannels: channels, textEmbeddingDim: 8,
                      maxTextTokens: 4, recHead: head)
    }

    /// The pass mark of the issue: P@1 >= 0.9, centre correlation > 0.8 on both axes, and predicted centres that
    /// spread across images (true centres spread about 0.2 here; a collapsed head about 0).
    static func passes(_ o: Outcome) -> Bool {
        o.precision >= 0.9 && o.centreCorrelation.x > 0.8 && o.centreCorrelation.y > 0.8 && o.centreSpread.x > 0.1 && o.centreSpread.y > 0.1
    }

    /// Stage 1's learning rate and a budget of 700 steps of 8 maps.
    static let learningRate = 1e-4, steps = 700

    func testHeatmapHeadLearnsTheBlob() throws {
        let o = try Self.train(Self.config(.heatmap), steps: Self.steps, learningRate: Self.learningRate)
        XCTAssertTrue(Self.passes(o), "\(o)")
    }

    /// The control that makes the test a test of the problem: the release's DETR head, same task and budget, does
    /// not pass (measured 2026-12-07: P@1 0.05 at 600 steps, its queries' centres barely following the blob).
    func testReleaseDETRHeadDoesNotPassAtTheSameBudget() throws {
        let o = try Self.train(Self.config(.detr), steps: Self.steps, learningRate: Self.learningRate)
        XCTAssertFalse(Self.passes(o), "the DETR head now learns the blob (\(o)): make it a passing test of its own")
    }

    /// Every head variant on the task, printed (opt-in: `DPT_LEARNABILITY_REPORT=1`; about 80 s on 2 cores).
    func testReportEveryHeadVariant() throws {
        guard ProcessInfo.processInfo.environment["DPT_LEARNABILITY_REPORT"] != nil else {
            throw XCTSkip("set DPT_LEARNABILITY_REPORT=1 to print the learnability of every REC head variant")
        }
        var refs = Self.config(.detr); refs.recReferencePoints = true
        var vpos = Self.config(.detr); vpos.decoderValuePosition = true
        var both = refs; both.decoderValuePosition = true
        for (name, cfg, lr) in [("heatmap", Self.config(.heatmap), 1e-4), ("detr (release)", Self.config(.detr), 1e-4),
                                ("detr + rec_reference_points", refs, 1e-4), ("detr + dec_value_pos", vpos, 1e-4),
                                ("detr + both", both, 1e-4), ("detr + both, lr 1e-3", both, 1e-3),
                                ("detr (release), lr 1e-3", Self.config(.detr), 1e-3)] {
            for steps in [Self.steps, 3 * Self.steps] {
                let o = try Self.train(cfg, steps: steps, learningRate: lr)
                print("learnability | \(name) | \(steps) steps | \(o) | passes: \(Self.passes(o))")
            }
        }
    }

    /// Two identical blobs, one in the left half and one in the right half of the map, and a "text" (a one-hot
    /// pooled embedding: slot 0 "left", slot 1 "right") naming one of them: only a head that reads the text can
    /// beat picking one blob blindly (P@1 about 0.5).
    static func namedBlobs(_ b: Int, generator g: inout TorchGenerator) throws -> (Tensor, Tensor, [RECTarget]) {
        let s = side, c = channels
        var x = [Float](repeating: 0, count: b * c * s * s), text = [Float](repeating: 0, count: b * 8)
        var targets: [RECTarget] = []
        for n in 0..<b {
            var boxes: [[Float]] = []
            var cells = Set<Int>()
            for half in 0..<2 {
                let w = 1 + Int(g.uniformFloat() * 2) % 2, h = 1 + Int(g.uniformFloat() * 3) % 3
                let j0 = half * 4 + Int(g.uniformFloat() * Float(4 - w + 1)) % (4 - w + 1)
                let i0 = Int(g.uniformFloat() * Float(s - h + 1)) % (s - h + 1)
                for i in i0..<(i0 + h) { for j in j0..<(j0 + w) { cells.insert(i * s + j) } }
                boxes.append([(Float(j0) + Float(w) / 2) / Float(s), (Float(i0) + Float(h) / 2) / Float(s), Float(w) / Float(s), Float(h) / Float(s)])
            }
            for ch in 0..<c {
                for k in 0..<(s * s) {
                    x[(n * c + ch) * s * s + k] = (ch == 0 && cells.contains(k) ? 1 : 0) + (ch == 1 ? 0.5 : 0) + Float(g.normalDouble(std: 0.1))
                }
            }
            let named = g.uniformFloat() < 0.5 ? 0 : 1
            text[n * 8 + named] = 1
            targets.append(try RECTarget(boxes: [boxes[named]], tokenSpans: [[1]], tokenCount: 3))
        }
        return (Tensor(shape: [b, c, s, s], scalars: x), Tensor(shape: [b, 8], scalars: text), targets)
    }

    /// P@1 on 128 held-out named-blob maps after `steps` steps of 8 at stage 1's learning rate.
    static func trainNamed(_ config: AdapterConfig, steps: Int) throws -> Double {
        let adapter = try DiscriminativeAdapter(config: config, seed: 1)
        let params = adapter.store.namedParameters()
        let opt = AdamW(parameters: params, learningRate: learningRate, weightDecay: 1e-2)
        var g = TorchGenerator(seed: 7)
        for _ in 0..<steps {
            let (x, text, targets) = try namedBlobs(8, generator: &g)
            let loss = try RECCriterion().loss(adapter(Variable(x), timesteps: [100], text: Variable(text)).rec, targets: targets).total
            opt.zeroGrad()
            loss.backward()
            _ = GradientClipping.clipGradNorm(params, maxNorm: 1)
            opt.step()
        }
        var test = TorchGenerator(seed: 99)
        let (x, text, targets) = try namedBlobs(128, generator: &test)
        let top = GradMode.noGrad { adapter(Variable(x), timesteps: [100], text: Variable(text)).rec.topBoxes() }
        let hits = DiscriminativeMetrics.recHits(predicted: top, targets: targets.map { $0.boxes[0].map(Double.init) })
        return Double(hits.filter { $0 }.count) / Double(hits.count)
    }

    /// `heatmap_text` picks the named blob; the plain heatmap head, which sees no text, cannot (its control). The
    /// choice takes three times the single-blob budget (measured 2026-12-07: P@1 0.69 after 700 steps, 0.98 after
    /// 2,100).
    func testTextConditionedHeatmapPicksTheNamedBlob() throws {
        var cfg = Self.config(.heatmap)
        cfg.heatmapText = true
        let withText = try Self.trainNamed(cfg, steps: 3 * Self.steps)
        let plain = try Self.trainNamed(Self.config(.heatmap), steps: 3 * Self.steps)
        XCTAssertGreaterThanOrEqual(withText, 0.9, "heatmap_text P@1 \(withText) (plain head \(plain))")
        XCTAssertLessThan(plain, 0.75, "the plain head picks the named blob without the text (\(plain)): the task does not test the text path")
    }
}

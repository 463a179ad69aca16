import AdapterTraining
import Autodiff
import DataIO
import Evaluation
import Diffusion
import DiscriminativeAdapter
import Foundation
import Pipeline
import SelfCorrection
import ShapesWorld
import Tensor
import TinyModels
import XCTest

/// The adapter as self-correction's scorer, the generation evaluation end to end on a tiny random model, and the
/// merged report's intervals and paired differences on hand-made verdicts.
final class GenerationEvaluationTests: XCTestCase {
    override class func tearDown() {
        if let s = TinyModel.shared { try? FileManager.default.removeItem(at: s) }
        TinyModel.shared = nil
    }

    func bitEqual(_ a: Tensor, _ b: Tensor) -> Bool {
        a.shape == b.shape && zip(a.scalars, b.scalars).allSatisfy { $0.bitPattern == $1.bitPattern }
    }

    func maxAbs(_ t: Tensor) -> Float { t.scalars.reduce(0) { max($0, abs($1)) } }

    /// A run of `pipeline` with `corrector`'s self-correction hook; returns the result and the hook's records.
    func corrected(_ pipeline: StableDiffusionPipeline, _ prompts: [String], negativePrompt: String? = nil,
                   options: GenerationOptions, corrector: SelfCorrector) throws -> (GenerationResult, [CorrectionRecord]) {
        let hook = SelfCorrectionHook(corrector: corrector, scheduler: pipeline.scheduler)
        let r = try pipeline.generate(prompts: prompts, negativePrompt: negativePrompt, options: options, hooks: [hook], decode: false)
        return (r, hook.records)
    }

    /// A random (untrained) adapter on the tiny model's `up1` tap, saved as a trained one would be.
    func writeAdapter(model: URL, seed: UInt64 = 3) throws -> URL {
        let pm = try ProbeModel(folder: model)
        let adapter = try DiscriminativeAdapter(config: try pm.adapterConfig(preset: "bundled", taps: ["up1"]), seed: seed)
        let url = try TinyModel.temporaryFolder(self, "adapter")
        try adapter.save(to: ComponentFolder(url))
        return url
    }

    /// The scorer's latent gradient (through the adapter and the U-Net up to `up1`) against central differences:
    /// the coordinates with the largest gradient and directional derivatives along the gradient and random
    /// directions. Everything is frozen and the score is the adapter's own `matchingScores`.
    func testAdapterScorerGradientMatchesFiniteDifferences() throws {
        let model = try TinyModel.sharedFolder()
        let pipeline = try StableDiffusionPipeline(folder: model)
        let scorer = try AdapterScorer.load(adapter: try writeAdapter(model: model), unet: pipeline.unet, textWidth: pipeline.textEncoder.config.hiddenSize)
        XCTAssertTrue(scorer.model.adapter.store.trainableParameters().isEmpty)
        XCTAssertTrue(pipeline.unet.store.trainableParameters().isEmpty)
        XCTAssertTrue(scorer.model.denoiser === pipeline.unet, "the scorer must read the sampling pipeline's U-Net")
        XCTAssertNil(scorer.randomUNetSeed)

        let e = try pipeline.prompts.encode(["a red circle", "two blue squares"])
        let text = AlignmentText(context: e.states, pooled: e.pooled)
        var gen = TorchGenerator(seed: 12)
        let z = gen.randn([2, 3, 16, 16])
        let t: Float = 500
        let (scores, g) = SelfCorrector(scorer: scorer).scoreGradient(modelInput: z, timestep: t, text: text)
        let direct = GradMode.noGrad {
            scorer.model.matchingScores(latents: Variable(z), timesteps: [t], context: Variable(e.states), pooled: Variable(e.pooled)).value
        }
        XCTAssertTrue(bitEqual(scores, direct))   // grad on vs off: one attention tile at these sizes, the same sums
        func total(_ x: Tensor) -> Double {
            GradMode.noGrad { scorer.score(latents: Variable(x), timestep: t, text: text).value.scalars.reduce(0.0) { $0 + Double($1) } }
        }
        let scale = maxAbs(g)
        XCTAssertGreaterThan(scale, 1e-5, "the score barely depends on the latent; the check would be vacuous")
        let eps: Float = 1e-2
        let largest = g.scalars.enumerated().sorted { abs($0.element) > abs($1.element) }.prefix(12).map(\.offset)
        for j in largest {
            var plus = Tensor(copying: z), minus = Tensor(copying: z)
            plus.withMutableBuffer { $0[j] += eps }
            minus.withMutableBuffer { $0[j] -= eps }
            let numeric = (total(plus) - total(minus)) / (2 * Double(eps))
            XCTAssertEqual(numeric, Double(g.scalars[j]), accuracy: 3e-2 * Double(scale), "coordinate \(j)")
        }
        let norm = g.scalars.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
        for (name, u) in [("gradient", g * Float(1 / norm)), ("random 1", gen.randn(z.shape) * Float(1 / Double(z.count).squareRoot())),
                          ("random 2", gen.randn(z.shape) * Float(1 / Double(z.count).squareRoot()))] {
            let h: Float = 2e-2
            let fd = (total(z + u * h) - total(z - u * h)) / (2 * Double(h))
            let analytic = zip(g.scalars, u.scalars).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
            XCTAssertEqual(fd, analytic, accuracy: 3e-2 * norm, "directional derivative along \(name)")
        }
    }

    /// Self-correction with the adapter through the pipeline: eta = 0 is the plain run bit for bit, eta > 0 moves
    /// the samples; the first step's scores are the adapter's on the initial latents under the prompts' own token
    /// states and e_y, and changing the negative prompt (the unconditional half) leaves them untouched while it
    /// does change the images.
    func testSelfCorrectedSamplingWithTheAdapter() throws {
        let model = try TinyModel.sharedFolder()
        let adapter = try writeAdapter(model: model)
        let pipeline = try StableDiffusionPipeline(folder: model, scheduler: "ddim")
        let scorer = try AdapterScorer.load(adapter: adapter, unet: pipeline.unet, textWidth: pipeline.textEncoder.config.hiddenSize)
        let prompts = ["a red circle", "two blue squares"]
        let options = GenerationOptions(steps: 3, guidanceScale: 3, imagesPerPrompt: 1, seeding: .perImage([0, 1]))
        let plain = try pipeline.generate(prompts: prompts, options: options, decode: false)
        let zero = SelfCorrector(scorer: scorer, settings: SelfCorrectionSettings(eta: .constant(0)))
        let (r0, rec0) = try corrected(pipeline, prompts, options: options, corrector: zero)
        XCTAssertTrue(bitEqual(r0.latents, plain.latents))   // eta 0 skips the scorer: the plain path, the same bits
        XCTAssertTrue(rec0.allSatisfy { $0.scores.isEmpty })

        let corrector = SelfCorrector(scorer: scorer, settings: SelfCorrectionSettings(eta: .constant(0.5)))
        let (r1, rec1) = try corrected(pipeline, prompts, options: options, corrector: corrector)
        XCTAssertEqual(rec1.count, 3)
        XCTAssertTrue(rec1.allSatisfy { $0.scores.count == 2 && $0.gradientNorms.allSatisfy { $0 > 0 } })
        XCTAssertGreaterThan(maxAbs(r1.latents - plain.latents), 1e-4)

        let (initial, _) = try pipeline.sampler.initialLatents(count: 2, options: options)
        let e = try pipeline.prompts.encode(prompts)
        let expected = GradMode.noGrad {
            scorer.score(latents: Variable(pipeline.scheduler.scaleModelInput(initial, timestep: rec1[0].timestep)),
                         timestep: rec1[0].timestep, text: AlignmentText(context: e.states, pooled: e.pooled)).value
        }
        // Bitwise by construction at these sizes: the corrector's grad-on pass keeps attention's probabilities and
        // this no-grad pass does not, but both run one query tile (Lq x Lk <= 2^20 scores per head), so the same
        // sums in the same order. (Longer sequences tile differently: see AttentionTests.)
        XCTAssertEqual(rec1[0].scores, expected.scalars)

        let (r2, rec2) = try corrected(pipeline, prompts, negativePrompt: "small green triangle", options: options, corrector: corrector)
        XCTAssertEqual(rec2[0].scores, rec1[0].scores)
        XCTAssertEqual(rec2[0].gradientNorms, rec1[0].gradientNorms)
        XCTAssertGreaterThan(maxAbs(r2.latents - r1.latents), 1e-5, "the negative prompt should still steer the unconditional branch")
    }

    /// One tiny generation evaluation end to end, base and self-corrected: the suite's first prompt per category,
    /// seeds 0 and 1, verdicts in (prompt, seed) order equal to judging a regenerated chunk, the JSON and grids
    /// written, and the merged report pairing the two variants.
    func testTinyGenerationEvaluationEndToEnd() throws {
        let model = try TinyModel.sharedFolder()
        let adapter = try writeAdapter(model: model)
        let out = try TinyModel.temporaryFolder(self, "generation")
        let suite = try PromptSuite.load(.id)
        let settings = GenerationEvaluation.Settings(promptsPerCategory: 1, imagesPerPrompt: 2, steps: 2, guidanceScale: 3,
                                                     batch: 5, gridPrompts: 1)
        let base = GenerationSubject(name: "base", pipeline: try StableDiffusionPipeline(folder: model, scheduler: "ddim"))
        var ticks: [Int] = []
        let output = try GenerationEvaluation.run(base, model: model, suite: suite, settings: settings) { done, _ in
            ticks.append(done)
        }
        XCTAssertEqual(ticks, [5, 10, 14])
        let r = output.result
        let firsts = Category.allCases.map { c in suite.prompts.first { $0.category == c }! }
        XCTAssertEqual(r.images.map(\.promptID), firsts.flatMap { [$0.id, $0.id] })
        XCTAssertEqual(r.images.map(\.seed), Array(repeating: [UInt64(0), 1], count: 7).flatMap { $0 })
        XCTAssertEqual(r.summary("all")?.count, 14)
        XCTAssertEqual(r.summaries.count, 8)
        XCTAssertTrue(r.images.allSatisfy { $0.seconds > 0 })
        XCTAssertEqual(r.secondsPerImage, r.images.reduce(0) { $0 + $1.seconds } / 14, accuracy: 1e-12)
        XCTAssertNil(r.selfCorrection)
        XCTAssertNil(r.lora)
        XCTAssertEqual(r.scheduler, "DDIMScheduler")

        // The first chunk regenerated as one batch and judged by hand.
        let chunk = Array(r.images.prefix(5))
        let again = try base.pipeline.generate(prompts: chunk.map(\.prompt), options: GenerationOptions(
            steps: 2, guidanceScale: 3, imagesPerPrompt: 1, seeding: .perImage(chunk.map(\.seed)))).images!
        let judge = Judge(config: .square(16))
        for (i, image) in chunk.enumerated() {
            let meaning = suite.prompts.first { $0.id == image.promptID }!.meaning
            XCTAssertEqual(judge.judge(try RGBImage(tensor: again.selecting(axis: 0, index: i).contiguous()), meaning), image.verdict)
        }

        let json = try GenerationEvaluation.write(output, to: out)
        XCTAssertEqual(json.lastPathComponent, "base-id.json")
        XCTAssertEqual(try GenerationEvaluation.read(json), r)
        for c in Category.allCases {
            let grid = try PNG.read(out.appendingPathComponent("base-id-\(c.rawValue).png"))
            XCTAssertEqual(grid.width, 2 * 32 + 3 * 2)     // 2 seeds, 16 px upscaled 2x, 2 px margins
            XCTAssertEqual(grid.height, 32 + 2 * 2)
        }

        let scPipeline = try StableDiffusionPipeline(folder: model, scheduler: "ddim")
        let scorer = try AdapterScorer.load(adapter: adapter, unet: scPipeline.unet, textWidth: scPipeline.textEncoder.config.hiddenSize)
        let sc = GenerationSubject(name: "sc", pipeline: scPipeline,
                                   corrector: SelfCorrector(scorer: scorer, settings: SelfCorrectionSettings(eta: .firstSteps(0.5, count: 1))),
                                   adapterFolder: adapter)
        let corrected = try GenerationEvaluation.run(sc, model: model, suite: suite, settings: settings)
        let c = try XCTUnwrap(corrected.result.selfCorrection)
        XCTAssertEqual(c.etaByStep, [0.5, 0])
        XCTAssertEqual(c.schedule, "first 1 steps at 0.5")
        XCTAssertEqual(c.meanScoreByStep.count, 2)
        XCTAssertNotNil(c.meanScoreByStep[0])
        XCTAssertNil(c.meanScoreByStep[1])
        XCTAssertEqual(corrected.result.images.map(\.promptID), r.images.map(\.promptID))
        try GenerationEvaluation.write(corrected, to: out)

        let merged = try GenerationReport.loadResults(in: out)
        XCTAssertEqual(merged.map(\.variant), ["base", "sc"])
        let md = GenerationReport.markdown(merged)
        XCTAssertTrue(md.contains("| sc | 7 | 14 |"), md)
        XCTAssertTrue(md.contains("Paired difference vs `base`"), md)
        let d = try XCTUnwrap(GenerationReport.pairedDifference(merged[1], minus: merged[0]))
        let expected = zip(corrected.result.images, r.images).reduce(0.0) { $0 + ($1.0.verdict.allPassed ? 1 : 0) - ($1.1.verdict.allPassed ? 1 : 0) } / 14
        XCTAssertEqual(d.mean, expected, accuracy: 1e-12)
    }

    // MARK: Report on hand-made verdicts

    func verdict(_ pass: Bool) -> Verdict {
        Verdict(parseable: true, problems: [], constraints: [], allPassed: pass, fractionPassed: pass ? 1 : 0)
    }

    /// A result with `prompts` prompts per listed category and `seeds`; `pass(category index, prompt, seed)`.
    func result(_ variant: String, categories: [Category] = [.single, .spatial], prompts: Int, seeds: [UInt64],
                seconds: Double = 0.5, pass: (Int, Int, UInt64) -> Bool) -> GenerationEvaluationResult {
        var images: [GeneratedImageVerdict] = []
        for (ci, c) in categories.enumerated() {
            for p in 0..<prompts {
                for s in seeds {
                    images.append(GeneratedImageVerdict(promptID: "id-\(c.rawValue)-\(p)", category: c.rawValue, prompt: "prompt \(p)",
                                                        seed: s, verdict: verdict(pass(ci, p, s)), seconds: seconds))
                }
            }
        }
        return GenerationEvaluationResult(variant: variant, suite: "id", model: "tiny", lora: nil, selfCorrection: nil,
                                          promptsPerCategory: prompts, imagesPerPrompt: seeds.count, steps: 20, guidanceScale: 3,
                                          scheduler: "DDIMScheduler", batch: 8, images: images,
                                          summaries: JudgeSummary.aggregate(images.map { (group: $0.category, verdict: $0.verdict) }),
                                          secondsPerImage: seconds)
    }

    func testPairedDifferenceOnHandMadeVerdicts() throws {
        // Everything fails at base, everything passes in the variant: +100 points, a degenerate interval.
        let base = result("base", prompts: 20, seeds: [0, 1]) { _, _, _ in false }
        let all = result("all", prompts: 20, seeds: [0, 1]) { _, _, _ in true }
        let d = try XCTUnwrap(GenerationReport.pairedDifference(all, minus: base))
        XCTAssertEqual(d.prompts, 40)
        XCTAssertEqual(d.images, 80)
        XCTAssertEqual(d.mean, 1)
        XCTAssertEqual(d.low, 1)
        XCTAssertEqual(d.high, 1)

        // Mixed: base passes prompts p % 4 == 0 on both seeds; the variant passes p % 2 == 0 on seed 0 only and
        // p % 4 == 1 on both. Per prompt (mod 4): 0 -> (1 - 2) / 2, 1 -> +1, 2 -> +1/2, 3 -> 0: mean 1/4.
        let mixedBase = result("base", prompts: 40, seeds: [0, 1]) { _, p, _ in p % 4 == 0 }
        let mixed = result("v", prompts: 40, seeds: [0, 1]) { _, p, s in (p % 2 == 0 && s == 0) || p % 4 == 1 }
        let m = try XCTUnwrap(GenerationReport.pairedDifference(mixed, minus: mixedBase, resamples: 4000, seed: 5))
        XCTAssertEqual(m.mean, 0.25, accuracy: 1e-12)
        XCTAssertLessThan(m.low, m.mean)
        XCTAssertGreaterThan(m.high, m.mean)
        // The percentile interval against the normal approximation mean +- 1.96 sd / sqrt(n) over the 80 prompts.
        let per: [Double] = (0..<80).map { [-0.5, 1, 0.5, 0][($0 % 40) % 4] }
        let sd = (per.reduce(0) { $0 + ($1 - 0.25) * ($1 - 0.25) } / Double(per.count)).squareRoot()
        XCTAssertEqual(m.low, 0.25 - 1.96 * sd / sqrt(80), accuracy: 0.03)
        XCTAssertEqual(m.high, 0.25 + 1.96 * sd / sqrt(80), accuracy: 0.03)
        // Seeded: the same call gives the same interval; per category it pairs only that category's prompts.
        XCTAssertEqual(GenerationReport.pairedDifference(mixed, minus: mixedBase, resamples: 4000, seed: 5), m)
        let single = try XCTUnwrap(GenerationReport.pairedDifference(mixed, minus: mixedBase, group: "single"))
        XCTAssertEqual(single.prompts, 40)
        XCTAssertEqual(single.mean, 0.25, accuracy: 1e-12)

        // Different seeds share nothing: no difference; a partial overlap pairs only the shared images.
        let otherSeeds = result("o", prompts: 40, seeds: [10, 11]) { _, _, _ in true }
        XCTAssertNil(GenerationReport.pairedDifference(otherSeeds, minus: mixedBase))
        let fewer = result("f", prompts: 10, seeds: [1, 2]) { _, _, _ in true }
        let f = try XCTUnwrap(GenerationReport.pairedDifference(fewer, minus: mixedBase))
        XCTAssertEqual(f.prompts, 20)
        XCTAssertEqual(f.images, 20)   // only seed 1 is shared
        // Prompts 0..9 seed 1: base passes p % 4 == 0 (0, 4, 8), so 7 of 10 gain per category.
        XCTAssertEqual(f.mean, 0.7, accuracy: 1e-12)

        let md = GenerationReport.markdown([mixed, otherSeeds, mixedBase, all])
        let lines = md.split(separator: "\n").map(String.init)
        let rows = lines.filter { $0.hasPrefix("| base |") || $0.hasPrefix("| v |") || $0.hasPrefix("| all |") }
        XCTAssertEqual(rows.first?.hasPrefix("| base |"), true, md)
        XCTAssertTrue(md.contains("| single | spatial | all |"), md)
        XCTAssertTrue(md.contains("| all | 20 steps, cfg 3 | 80 | 100.0 [100.0, 100.0]"), md)
        XCTAssertTrue(lines.contains { $0.hasPrefix("| v | 80 | 160 | ") && $0.contains("+25.0 [") }, md)
        XCTAssertFalse(lines.contains { $0.hasPrefix("| o | 80") }, "unpaired variants get no difference row\n\(md)")
        XCTAssertTrue(md.contains("| base | 0.500 (batch 8) |"), md)
    }

    func testReportFolderLoading() throws {
        let out = try TinyModel.temporaryFolder(self, "report")
        let a = result("sc", prompts: 2, seeds: [0]) { _, p, _ in p == 0 }
        let b = result("base", prompts: 2, seeds: [0]) { _, _, _ in false }
        try GenerationEvaluation.write(GenerationEvaluation.Output(result: a, grids: []), to: out)
        try GenerationEvaluation.write(GenerationEvaluation.Output(result: b, grids: []), to: out)
        XCTAssertEqual(try GenerationReport.loadResults(in: out).map(\.variant), ["base", "sc"])
        XCTAssertEqual(try GenerationReport.loadResults(in: out)[1], a)
        try Data("{}".utf8).write(to: out.appendingPathComponent("notes.json"))
        XCTAssertThrowsError(try GenerationReport.loadResults(in: out)) { XCTAssertTrue("\($0)".contains("notes.json"), "\($0)") }
        try FileManager.default.removeItem(at: out.appendingPathComponent("notes.json"))
        try FileManager.default.copyItem(at: out.appendingPathComponent("sc-id.json"), to: out.appendingPathComponent("copy.json"))
        XCTAssertThrowsError(try GenerationReport.loadResults(in: out)) { XCTAssertTrue("\($0)".contains("both hold variant sc"), "\($0)") }
    }
}

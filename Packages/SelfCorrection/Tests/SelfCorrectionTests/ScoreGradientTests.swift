import Autodiff
import Diffusion
import SelfCorrection
import Tensor
import XCTest

/// The correction's gradient is the gradient of sum_b s(z_b, y_b): checked against central differences, and it
/// comes from the conditional branch only.
final class ScoreGradientTests: XCTestCase {
    /// Every coordinate of g against central differences of the score (tap up1: the whole down, mid and up path
    /// up to the last cross-attention up block), plus directional derivatives along g and a random direction.
    func testGradientMatchesFiniteDifferences() throws {
        for tap in ["up1", "mid"] {
            let m = try TinySetup(prompts: 2, tap: tap)
            var gen = TorchGenerator(seed: 11)
            let z = gen.randn([2, 4, TinySetup.size, TinySetup.size])
            let t: Float = 601
            let text = AlignmentText(context: m.cond, pooled: m.pooled)
            let (scores, g) = m.corrector().scoreGradient(modelInput: z, timestep: t, text: text)
            XCTAssertEqual(scores.shape, [2])
            let direct = GradMode.noGrad { m.scorer.score(latents: Variable(z), timestep: t, text: text).value }
            // Grad on vs off: attention keeps its probabilities only with grad on, but both run one query tile at these
            // sizes (Lq x Lk <= 2^20 scores per head), so the same sums in the same order: bitwise by construction.
            XCTAssertTrue(bitEqual(scores, direct), "scores returned with the gradient differ from a plain forward")

            // Central differences, every coordinate.
            let eps: Float = 1e-2
            var numeric = [Float](repeating: 0, count: z.count)
            var probe = Tensor(copying: z)
            for j in 0..<z.count {
                let v = probe.withMutableBuffer { $0[j] }
                probe.withMutableBuffer { $0[j] = v + eps }
                let plus = m.totalScore(Tensor(copying: probe), timestep: t, text: text)
                probe.withMutableBuffer { $0[j] = v - eps }
                let minus = m.totalScore(Tensor(copying: probe), timestep: t, text: text)
                probe.withMutableBuffer { $0[j] = v }
                numeric[j] = Float((plus - minus) / (2 * Double(eps)))
            }
            let numericT = Tensor(shape: z.shape, scalars: numeric)
            let scale = maxAbs(numericT)
            XCTAssertGreaterThan(scale, 1e-4, "\(tap): the score barely depends on the latent; the check would be vacuous")
            let err = maxAbsDiff(g, numericT)
            XCTAssertLessThan(err, 2e-2 * scale, "\(tap): autodiff gradient vs central differences: max error \(err), scale \(scale)")

            // Directional derivatives: d/dh f(z + h u) = <g, u>.
            let unitG = g * (1 / SelfCorrector.sampleNorms(g.reshaped([1, -1]))[0])
            let random = gen.randn(z.shape)
            let unitR = random * (1 / SelfCorrector.sampleNorms(random.reshaped([1, -1]))[0])
            for (name, u) in [("g", unitG), ("random", unitR)] {
                let h: Float = 5e-2
                let fd = (m.totalScore(z + u * h, timestep: t, text: text) - m.totalScore(z - u * h, timestep: t, text: text)) / (2 * Double(h))
                let analytic = zip(g.scalars, u.scalars).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
                XCTAssertEqual(fd, analytic, accuracy: 1e-2 * abs(analytic) + 1e-5, "\(tap): directional derivative along \(name)")
            }
        }
    }

    /// Chunking the gradient pass (gradientBatch) gives the same per-sample gradients: samples are independent.
    func testGradientBatchChunksAgree() throws {
        let m = try TinySetup(prompts: 3, tap: "up1")
        var gen = TorchGenerator(seed: 5)
        let z = gen.randn([3, 4, TinySetup.size, TinySetup.size])
        let text = AlignmentText(context: m.cond, pooled: m.pooled)
        let whole = m.corrector().scoreGradient(modelInput: z, timestep: 301, text: text)
        let chunked = SelfCorrector(scorer: m.scorer, settings: SelfCorrectionSettings(gradientBatch: 2))
            .scoreGradient(modelInput: z, timestep: 301, text: text)
        XCTAssertLessThan(maxAbsDiff(whole.gradient, chunked.gradient), 1e-5 * maxAbs(whole.gradient) + 1e-9)
        XCTAssertLessThan(maxAbsDiff(whole.scores, chunked.scores), 1e-5)
        // Sample 1's gradient alone equals row 1 of the batched gradient.
        let one = m.corrector().scoreGradient(modelInput: z.sliced(axis: 0, start: 1, end: 2).contiguous(), timestep: 301,
                                              text: AlignmentText(context: m.cond.sliced(axis: 0, start: 1, end: 2),
                                                                  pooled: m.pooled.sliced(axis: 0, start: 1, end: 2)))
        XCTAssertLessThan(maxAbsDiff(one.gradient, whole.gradient.sliced(axis: 0, start: 1, end: 2).contiguous()),
                          1e-5 * maxAbs(whole.gradient) + 1e-9)
    }

    /// "Zero on the unconditional half": in the CFG batch [x_u; x_c] with contexts [uncond; cond], the objective
    /// sum_b s(x_c,b, y_b) has exactly zero gradient on the x_u half and g on the x_c half; the hook's gradient pass
    /// sees only the conditional rows; and changing the unconditional embeddings leaves g bit-identical.
    func testCorrectionIgnoresTheUnconditionalHalf() throws {
        let m = try TinySetup(prompts: 2, tap: "up1")
        var gen = TorchGenerator(seed: 9)
        let z = gen.randn([2, 4, TinySetup.size, TinySetup.size])
        let t: Float = 451
        let g = m.corrector().scoreGradient(modelInput: z, timestep: t, text: AlignmentText(context: m.cond, pooled: m.pooled)).gradient

        // The batched view: one forward on [x_u; x_c] through the tap, score the cond half only.
        let both = Variable(Tensor.concat([z, z], axis: 0), requiresGrad: true)
        let features = GradMode.enableGrad {
            m.unet.features(both, timesteps: [t], context: Variable(Tensor.concat([m.uncond, m.cond], axis: 0)), taps: ["up1"])["up1"]!
        }
        let condFeatures = features.sliced(axis: 0, start: 2, end: 4)
        let mapped = Variable.linear(condFeatures.mean(axes: [2, 3]), weight: m.scorer.weight)
        let e = Variable(m.pooled)
        let cos = (mapped * e).sum(axes: [1]) / (((mapped * mapped).sum(axes: [1]) + 1e-12).sqrt() * ((e * e).sum(axes: [1]) + 1e-12).sqrt())
        let gBoth = gradients(of: cos.sum(), withRespectTo: [both])[0]
        let uncondHalf = gBoth.sliced(axis: 0, start: 0, end: 2).contiguous()
        XCTAssertTrue(uncondHalf.scalars.allSatisfy { $0 == 0 }, "gradient on the unconditional half is not exactly zero")
        XCTAssertLessThan(maxAbsDiff(gBoth.sliced(axis: 0, start: 2, end: 4).contiguous(), g), 1e-5 * maxAbs(g))

        // Through the pipeline: the gradient passes get the conditional rows only, and a different negative
        // prompt leaves the first step's gradient bit-identical.
        var first: Tensor?
        for seed in [UInt64(1), 2] {
            var ug = TorchGenerator(seed: seed)
            let conditioning = TextConditioning(cond: m.cond, uncond: ug.randn(m.uncond.shape))
            let scheduler = try DDIMScheduler()
            let pipeline = try m.pipeline(scheduler)
            let hook = SelfCorrectionHook(corrector: m.corrector(), scheduler: scheduler, pooled: m.pooled)
            hook.keepsGradients = true
            m.recorder.calls = []
            _ = try pipeline.generate(conditioning, options: GenerationOptions(steps: 2, guidanceScale: 5),
                                      hooks: [hook], decode: false)
            let passes = m.recorder.gradientPasses
            XCTAssertEqual(passes.count, 2)
            for p in passes { XCTAssertTrue(bitEqual(p.context, m.cond), "a gradient pass saw rows other than the conditional ones") }
            let g0 = hook.records[0].gradient!
            if let first { XCTAssertTrue(bitEqual(first, g0), "the gradient depends on the unconditional embeddings") }
            first = g0
        }
    }

    /// The unit-norm option rescales each sample's gradient to norm 1 without changing its direction.
    func testUnitNormNormalisation() throws {
        let m = try TinySetup(prompts: 2, tap: "mid")
        var gen = TorchGenerator(seed: 4)
        let z = gen.randn([2, 4, TinySetup.size, TinySetup.size])
        let c = m.corrector(normalization: .unitNorm)
        let g = c.scoreGradient(modelInput: z, timestep: 700, text: AlignmentText(context: m.cond, pooled: m.pooled)).gradient
        let d = c.direction(g)
        let norms = SelfCorrector.sampleNorms(g)
        for (k, n) in SelfCorrector.sampleNorms(d).enumerated() {
            XCTAssertEqual(n, 1, accuracy: 1e-5)
            let gk = g.sliced(axis: 0, start: k, end: k + 1).contiguous(), dk = d.sliced(axis: 0, start: k, end: k + 1).contiguous()
            XCTAssertLessThan(maxAbsDiff(dk * norms[k], gk), 1e-6 * norms[k])
        }
        XCTAssertTrue(bitEqual(m.corrector().direction(g), g), "the default (raw) direction is not g itself")
        XCTAssertEqual(SelfCorrector.sampleNorms(c.direction(Tensor.zeros([2, 3]))), [0, 0])
    }
}

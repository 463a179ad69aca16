import AdapterTraining
import Autodiff
import DataIO
import Diffusion
import DiscriminativeAdapter
import Foundation
import NN
import Tensor
import TinyModels
import XCTest

final class TuneTrainerTests: XCTestCase {
    override class func tearDown() {
        if let s = TinyModel.shared { try? FileManager.default.removeItem(at: s) }
        TinyModel.shared = nil
        if let v = vModel { try? FileManager.default.removeItem(at: v) }
        vModel = nil
    }

    /// The shared tiny model with a v-prediction scheduler (the bundled model's kind), copied once per run.
    nonisolated(unsafe) static var vModel: URL?
    func vFolder() throws -> URL {
        if let v = Self.vModel { return v }
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("adapter-training-tiny-v-\(UUID().uuidString)")
        try FileManager.default.copyItem(at: try TinyModel.sharedFolder(), to: url)
        try Data("""
        {"_class_name": "DDPMScheduler", "num_train_timesteps": 1000, "beta_schedule": "squaredcos_cap_v2",
         "beta_start": 0.0001, "beta_end": 0.02, "prediction_type": "v_prediction", "clip_sample": false}
        """.utf8).write(to: url.appendingPathComponent("scheduler/scheduler_config.json"))
        Self.vModel = url
        return url
    }

    /// A stage-1 adapter folder (random weights from `seed`, on up1) in a fresh temporary folder.
    func stage1Adapter(_ model: ProbeModel, dropout: Float = 0, seed: UInt64 = 3, metadata: [String: String] = ["dpt.stage": "probe"]) throws -> URL {
        let ac = try model.adapterConfig(preset: "bundled", taps: ["up1"], dropout: dropout)
        let dir = try TinyModel.temporaryFolder(self, "stage1").appendingPathComponent("adapter")
        try DiscriminativeAdapter(config: ac, seed: seed).save(to: ComponentFolder(dir), metadata: metadata)
        return dir
    }

    func smallConfig(steps: Int = 4) -> TuneConfig {
        var c = TuneConfig()
        c.batchSize = 2
        c.steps = steps
        c.checkpointEvery = 2
        c.logEvery = 1
        return c
    }

    func trainer(_ c: TuneConfig, adapter: URL, run name: String = "run") throws -> TuneTrainer {
        let t = try TuneTrainer(config: c, model: try ProbeModel(folder: try vFolder()), adapterFolder: adapter,
                                runDirectory: try TinyModel.temporaryFolder(self, name), resume: false)
        t.output = { _ in }
        return t
    }

    func snapshot(_ store: ParameterStore, _ scope: ParameterStore.StateDictScope = .model) -> [String: [Float]] {
        store.stateDict(scope).mapValues(\.scalars)
    }

    func maxAbsDifference(_ a: [Float], _ b: [Float]) -> Float {
        zip(a, b).reduce(0) { max($0, abs($1.0 - $1.1)) }
    }

    // (1) LoRA just attached: the U-Net computes exactly what the base model computes.
    func testFreshLoRALeavesTheUNetOutputAndTapsBitwiseUnchanged() throws {
        let base = try ProbeModel(folder: try vFolder())
        let t = try trainer(smallConfig(), adapter: try stage1Adapter(base))
        XCTAssertEqual(t.loraLayers.count, t.model.unet.attentionProjections().count, "every q, k, v, out of attn1 and attn2")
        XCTAssertGreaterThan(t.loraLayers.count, 0)
        for l in t.loraLayers {
            XCTAssertTrue(l.lora!.up.value.scalars.allSatisfy { $0 == 0 }, "\(l.path): up projection starts at zero")
            XCTAssertTrue(l.lora!.down.value.scalars.contains { $0 != 0 }, "\(l.path): down projection is random")
        }
        var g = TorchGenerator(seed: 5)
        let x = Variable(g.randn([2, 3, 16, 16]))
        let ctx = Variable(try base.encode(["a red circle", "two blue squares above a green triangle"]).context)
        let ts: [Float] = [10, 700]
        let (p0, p1) = GradMode.noGrad { (base.unet.predict(x, timesteps: ts, context: ctx), t.model.unet.predict(x, timesteps: ts, context: ctx)) }
        // Bitwise by construction: B = 0 adds exactly 0 to each base projection, which runs the same GEMM as before.
        XCTAssertEqual(p0.value.scalars, p1.value.scalars, "predict")
        let taps: Set<String> = Set(base.unet.tapNames)
        let (f0, f1) = GradMode.noGrad { (base.unet.features(x, timesteps: ts, context: ctx, taps: taps),
                                          t.model.unet.features(x, timesteps: ts, context: ctx, taps: taps)) }
        XCTAssertEqual(Set(f0.keys), taps)
        for k in taps { XCTAssertEqual(f0[k]!.value.scalars, f1[k]!.value.scalars, "tap \(k)") }
    }

    // (2) Loss finite and falling on a repeated batch; the MSE uses the scheduler's prediction type (velocity here).
    func testLossIsFiniteAndFallsOnARepeatedBatchWithTheVelocityTarget() throws {
        let probe = try ProbeModel(folder: try vFolder())
        XCTAssertEqual(probe.predictionType, .vPrediction)
        var c = smallConfig()
        c.learningRate = 1e-3
        let t = try trainer(c, adapter: try stage1Adapter(probe))
        let (inputs, _, g0) = try t.currentInputs()
        XCTAssertEqual(inputs.count, 2)

        // The denoising loss by hand before any update: full pass on (positive image, positive caption).
        let pos = [0, 3]
        let clean = inputs.latents.indexSelect(axis: 0, indices: pos)
        let noisy = t.model.schedule.addNoise(original: clean, noise: inputs.noise, timesteps: inputs.timesteps)
        let pred = GradMode.noGrad {
            t.model.unet.predict(Variable(noisy), timesteps: inputs.timesteps.map(Float.init),
                                 context: Variable(inputs.captions.context.indexSelect(axis: 0, indices: pos)))
        }.value
        func mse(_ a: Tensor, _ b: Tensor) -> Float {
            zip(a.scalars, b.scalars).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) } / Float(a.count)
        }
        let velocity = mse(pred, t.model.schedule.velocity(sample: clean, noise: inputs.noise, timesteps: inputs.timesteps))
        let epsilon = mse(pred, inputs.noise)

        var losses: [Float] = []
        for i in 0..<8 {
            var g = g0
            let r = try t.optimise(on: inputs, generator: &g)
            XCTAssertTrue([r.loss, r.i2t, r.t2i, r.rec, r.mse].allSatisfy(\.isFinite), "\(r)")
            XCTAssertEqual(r.loss, r.i2t + r.t2i + r.rec + r.mse, accuracy: 1e-3 * max(1, abs(r.loss)))
            XCTAssertGreaterThan(r.gradNorm, 0)
            if i == 0 {
                XCTAssertEqual(r.mse, velocity, accuracy: 1e-5 * max(1, velocity))
                XCTAssertGreaterThan(abs(velocity - epsilon), 1e-3, "the two targets must be distinguishable here")
            }
            losses.append(r.loss)
        }
        XCTAssertLessThan(losses.suffix(3).max()!, 0.8 * losses[0], "losses \(losses)")
        XCTAssertEqual(t.step, 0, "optimise(on:) must not advance the step")
    }

    // (3) Resume = uninterrupted run (LoRA, adapter, optimiser bitwise), with accumulation; outputs of the run.
    func testResumeReproducesTheUninterruptedRun() throws {
        let folder = try vFolder()
        let stage1 = try stage1Adapter(try ProbeModel(folder: folder), dropout: 0.1)
        var c = smallConfig(steps: 4)
        c.batchSize = 1
        c.gradientAccumulation = 2

        let straight = try trainer(c, adapter: stage1, run: "straight")
        try straight.run()

        let resumedDir = try TinyModel.temporaryFolder(self, "resumed")
        let first = try TuneTrainer(config: c, model: try ProbeModel(folder: folder), adapterFolder: stage1, runDirectory: resumedDir, resume: false)
        first.output = { _ in }
        try first.run(stopAfter: 2)
        XCTAssertEqual(first.step, 2)
        XCTAssertFalse(FileManager.default.fileExists(atPath: first.loraDirectory.path), "no LoRA output before the last step")
        XCTAssertThrowsError(try TuneTrainer(config: c, model: try ProbeModel(folder: folder), adapterFolder: stage1,
                                             runDirectory: resumedDir, resume: false)) {
            XCTAssertTrue("\($0)".contains("--resume"), "\($0)")
        }
        var other = c
        other.loraRank = 2
        XCTAssertThrowsError(try TuneTrainer(config: other, model: try ProbeModel(folder: folder), adapterFolder: stage1,
                                             runDirectory: resumedDir, resume: true)) {
            XCTAssertTrue("\($0)".contains("lora_rank"), "\($0)")
        }
        let otherStage1 = try stage1Adapter(try ProbeModel(folder: folder), dropout: 0.1, seed: 4)
        XCTAssertThrowsError(try TuneTrainer(config: c, model: try ProbeModel(folder: folder), adapterFolder: otherStage1,
                                             runDirectory: resumedDir, resume: true)) {
            XCTAssertTrue("\($0)".contains("another stage-1 adapter"), "\($0)")
        }
        var relogged = c
        relogged.logEvery = 3
        XCTAssertEqual(try TuneTrainer(config: relogged, model: try ProbeModel(folder: folder), adapterFolder: stage1,
                                       runDirectory: resumedDir, resume: true).step, 2)
        let second = try TuneTrainer(config: c, model: try ProbeModel(folder: folder), adapterFolder: stage1, runDirectory: resumedDir, resume: true)
        second.output = { _ in }
        XCTAssertEqual(second.resumedFrom, 2)
        XCTAssertEqual(second.dataCursor, first.dataCursor)
        try second.run()

        XCTAssertEqual(second.step, 4)
        XCTAssertEqual(second.dataCursor, straight.dataCursor)
        for (name, a, b) in [("LoRA", straight.model.unet.store.loraStateDict(), second.model.unet.store.loraStateDict()),
                             ("adapter", straight.adapter.store.stateDict(), second.adapter.store.stateDict()),
                             ("optimiser", straight.optimizer.stateDict(), second.optimizer.stateDict())] {
            XCTAssertFalse(a.isEmpty)
            XCTAssertEqual(Set(a.keys), Set(b.keys), name)
            for (k, v) in a { XCTAssertEqual(v.scalars, b[k]!.scalars, "\(name) \(k) differs after resuming") }
        }
        XCTAssertTrue(straight.optimizer.stateDict().keys.contains { $0.hasPrefix("unet.") && $0.hasSuffix("lora_B.weight.exp_avg") })
        XCTAssertTrue(straight.optimizer.stateDict().keys.contains("adapter.logit_scale.exp_avg"))

        let records = try MetricsLog.read(second.metricsURL)
        XCTAssertEqual(records.compactMap { $0["step"]?.intValue }, [1, 2, 3, 4])
        XCTAssertTrue(records.allSatisfy { r in ["loss", "i2t", "t2i", "rec", "mse"].allSatisfy { (r[$0]?.doubleValue ?? .nan).isFinite } })
        XCTAssertEqual(try PNG.read(resumedDir.appendingPathComponent("loss.png")).width, 640)
        XCTAssertEqual(Checkpoint.list(in: second.checkpointDirectory).map(\.step), [2, 4])
        XCTAssertTrue(FileManager.default.fileExists(atPath: resumedDir.appendingPathComponent("tune_config.json").path))
        let md = try ComponentFolder(second.adapterDirectory).weights(variant: nil).metadata
        XCTAssertEqual(md["dpt.stage"], "tune")
        XCTAssertEqual(md["dpt.step"], "4")
        XCTAssertEqual(md["dpt.feature_taps"], "up1")
        let tuned = try DiscriminativeAdapter.load(from: ComponentFolder(second.adapterDirectory))
        for (k, v) in tuned.store.stateDict() { XCTAssertEqual(v.scalars, second.adapter.store.stateDict()[k]!.scalars, k) }
        XCTAssertThrowsError(try TuneTrainer(config: c, model: try ProbeModel(folder: folder), adapterFolder: second.adapterDirectory,
                                             runDirectory: try TinyModel.temporaryFolder(self, "again"), resume: false)) {
            XCTAssertTrue("\($0)".contains("stage-2"), "a tuned adapter is not a stage-1 adapter: \($0)")
        }
    }

    // (4) Accumulating 2 micro-batches of b = 1 equals one batch of 2b (same samples, same draws) up to rounding.
    func testGradientAccumulationEqualsTheWholeBatch() throws {
        let stage1 = try stage1Adapter(try ProbeModel(folder: try vFolder()), dropout: 0)
        var whole = smallConfig()
        whole.batchSize = 2
        var accumulated = smallConfig()
        accumulated.batchSize = 1
        accumulated.gradientAccumulation = 2
        let a = try trainer(whole, adapter: stage1, run: "whole"), b = try trainer(accumulated, adapter: stage1, run: "accumulated")
        let ra = try a.trainStep(), rb = try b.trainStep()
        XCTAssertEqual(a.dataCursor, b.dataCursor)
        for (x, y) in [(ra.loss, rb.loss), (ra.i2t, rb.i2t), (ra.t2i, rb.t2i), (ra.rec, rb.rec), (ra.mse, rb.mse), (ra.gradNorm, rb.gradNorm)] {
            XCTAssertEqual(x, y, accuracy: 1e-4 * max(1, abs(x)))
        }
        XCTAssertEqual(ra.itmAccuracy, rb.itmAccuracy)
        // exp_avg = (1 - beta1) * clipped gradient after the first step: the gradients agree. Rounding differs with
        // the summation order, so differences are measured against the norm of the whole gradient (tensors with
        // small gradients, e.g. the LoRA up projections, show larger relative differences of the same absolute size).
        let sa = a.optimizer.stateDict(), sb = b.optimizer.stateDict()
        XCTAssertEqual(Set(sa.keys), Set(sb.keys))
        let moments = sa.keys.filter { $0.hasSuffix(".exp_avg") }.sorted()
        XCTAssertGreaterThan(moments.count, 10)
        func squaredDistance(_ x: [Float], _ y: [Float]) -> Double { zip(x, y).reduce(0.0) { $0 + Double($1.0 - $1.1) * Double($1.0 - $1.1) } }
        let norm = moments.reduce(0.0) { n, k in n + sa[k]!.scalars.reduce(0.0) { $0 + Double($1) * Double($1) } }.squareRoot()
        let difference = moments.reduce(0.0) { $0 + squaredDistance(sa[$1]!.scalars, sb[$1]!.scalars) }.squareRoot() / norm
        XCTAssertLessThan(difference, 1e-4, "accumulated vs whole batch, relative to the gradient norm")
        for k in moments where k.hasPrefix("unet.") {
            XCTAssertLessThan(squaredDistance(sa[k]!.scalars, sb[k]!.scalars).squareRoot() / norm, 1e-5, k)
        }
        // Different samples give a clearly different gradient (measured 0.87 against 2e-5 here): the comparison can fail.
        var shifted = accumulated
        shifted.worldSeed = 1
        let c = try trainer(shifted, adapter: stage1, run: "shifted")
        try c.trainStep()
        let sc = c.optimizer.stateDict()
        let other = moments.reduce(0.0) { $0 + squaredDistance(sa[$1]!.scalars, sc[$1]!.scalars) }.squareRoot() / norm
        XCTAssertGreaterThan(other, 0.1)
    }

    // (5) Only LoRA and adapter move; the U-Net's base weights and the text encoder stay bitwise.
    func testBaseWeightsStayFixedAndOnlyLoRAAndAdapterMove() throws {
        let stage1 = try stage1Adapter(try ProbeModel(folder: try vFolder()))
        var c = smallConfig()
        c.learningRate = 1e-3
        let t = try trainer(c, adapter: stage1)
        let unet0 = snapshot(t.model.unet.store), text0 = snapshot(t.model.textEncoder.store)
        let lora0 = snapshot(t.model.unet.store, .adapters), adapter0 = snapshot(t.adapter.store)
        try t.trainStep()
        try t.trainStep()
        XCTAssertEqual(snapshot(t.model.unet.store), unet0, "U-Net base weights moved")
        XCTAssertEqual(snapshot(t.model.textEncoder.store), text0, "text encoder moved")
        let lora1 = snapshot(t.model.unet.store, .adapters)
        XCTAssertEqual(Set(lora1.keys), Set(lora0.keys))
        XCTAssertTrue(lora1.contains { k, v in k.hasSuffix("lora_B.weight") && v.contains { $0 != 0 } }, "LoRA up projections moved")
        XCTAssertTrue(lora1.contains { k, v in k.hasSuffix("lora_A.weight") && v != lora0[k]! }, "LoRA down projections moved")
        XCTAssertNotEqual(snapshot(t.adapter.store)["input_proj.weight"], adapter0["input_proj.weight"])
        XCTAssertEqual(t.parameters.count, lora0.count + adapter0.count)

        // train_adapter false: the adapter stays as loaded, the LoRA still learns through it.
        var frozen = c
        frozen.trainAdapter = false
        let f = try trainer(frozen, adapter: stage1, run: "frozen")
        let fAdapter0 = snapshot(f.adapter.store), fLora0 = snapshot(f.model.unet.store, .adapters)
        try f.trainStep()
        XCTAssertEqual(snapshot(f.adapter.store), fAdapter0)
        XCTAssertNotEqual(snapshot(f.model.unet.store, .adapters), fLora0)
        XCTAssertEqual(f.parameters.count, fLora0.count)
    }

    // (6) itm_weight 0 / rec_weight 0 / mse_weight 0 remove their terms from the loss and the gradient.
    func testZeroWeightsRemoveTheirTerms() throws {
        let stage1 = try stage1Adapter(try ProbeModel(folder: try vFolder()))
        func oneStep(_ edit: (inout TuneConfig) -> Void) throws -> (TuneStepResult, before: [String: [Float]], after: [String: [Float]]) {
            var c = smallConfig()
            c.learningRate = 1e-3
            edit(&c)
            let t = try trainer(c, adapter: stage1, run: "weights")
            let before = snapshot(t.adapter.store)
            let r = try t.trainStep()
            return (r, before, snapshot(t.adapter.store))
        }
        let recHeads = ["class_embed.weight", "bbox_embed.layers.0.weight", "bbox_embed.layers.2.bias"]

        let (all, a0, a1) = try oneStep { _ in }
        XCTAssertEqual(all.loss, all.i2t + all.t2i + all.rec + all.mse, accuracy: 1e-4 * max(1, all.loss))
        XCTAssertNotEqual(a0["logit_scale"], a1["logit_scale"])
        for k in recHeads { XCTAssertNotEqual(a0[k], a1[k], k) }

        let (noITM, n0, n1) = try oneStep { $0.itmWeight = 0 }
        XCTAssertEqual(noITM.loss, noITM.rec + noITM.mse, accuracy: 1e-4 * max(1, noITM.loss))
        XCTAssertGreaterThan(noITM.i2t, 0, "still reported")
        XCTAssertEqual(n0["logit_scale"], n1["logit_scale"], "logit_scale only enters ITM: no gradient, no update")
        for k in recHeads { XCTAssertNotEqual(n0[k], n1[k], k) }

        let (noREC, r0, r1) = try oneStep { $0.recWeight = 0 }
        XCTAssertEqual(noREC.loss, noREC.i2t + noREC.t2i + noREC.mse, accuracy: 1e-4 * max(1, noREC.loss))
        for k in recHeads { XCTAssertEqual(r0[k], r1[k], "\(k) only enters REC") }
        XCTAssertNotEqual(r0["logit_scale"], r1["logit_scale"])

        let (noMSE, _, _) = try oneStep { $0.mseWeight = 0 }
        XCTAssertEqual(noMSE.mse, 0)
        XCTAssertEqual(noMSE.loss, noMSE.i2t + noMSE.t2i + noMSE.rec, accuracy: 1e-4 * max(1, noMSE.loss))

        let (onlyMSE, m0, m1) = try oneStep { $0.itmWeight = 0; $0.recWeight = 0 }
        XCTAssertEqual(onlyMSE.loss, onlyMSE.mse)
        XCTAssertEqual(onlyMSE.i2t, 0, "tapped passes skipped")
        XCTAssertEqual(m0, m1, "no discriminative term: the adapter gets no gradient")
    }

    /// ITM alone moves the LoRA: at step 0 (B = 0) its gradient reaches every up projection B and no down
    /// projection A; after one step it reaches A as well. Each measured step logs each term's gradient on the LoRA,
    /// the LoRA update norm and ||scale B A|| / ||W||, and measuring changes no weight.
    func testITMAloneMovesTheLoRAAndEachTermIsLoggedOnIt() throws {
        let stage1 = try stage1Adapter(try ProbeModel(folder: try vFolder()))
        var c = smallConfig(steps: 2)
        c.itmWeight = 1; c.recWeight = 0; c.mseWeight = 0
        c.learningRate = 1e-3
        let t = try trainer(c, adapter: stage1, run: "itm-only")
        func itmGradients() throws -> (a: [Float], b: [Float]) {
            let (inputs, _, drawn) = try t.currentInputs()
            var g = drawn
            let d = try XCTUnwrap(try t.losses(on: inputs, generator: &g).discriminative)
            let layers = t.loraLayers.map(\.lora!)
            let grads = gradients(of: d.i2t + d.t2i, withRespectTo: layers.map(\.down) + layers.map(\.up))
            let n = layers.count
            return (grads[..<n].map { $0.scalars.map(abs).max()! }, grads[n...].map { $0.scalars.map(abs).max()! })
        }
        let g0 = try itmGradients()
        XCTAssertTrue(g0.a.allSatisfy { $0 == 0 }, "dL/dA = 0 while B = 0")
        XCTAssertGreaterThan(g0.b.filter { $0 > 0 }.count, g0.b.count / 2, "ITM's gradient reaches the up projections: \(g0.b)")
        let r0 = try t.trainStep()
        XCTAssertEqual(Set(r0.loraTermGradNorms?.keys.map { $0 } ?? []), ["itm"])
        XCTAssertGreaterThan(r0.loraTermGradNorms!["itm"]!, 0)
        XCTAssertGreaterThan(r0.loraUpdateNorm!, 0)
        XCTAssertGreaterThan(r0.loraRelativeDelta!.max, 0)
        XCTAssertGreaterThanOrEqual(r0.loraRelativeDelta!.max, r0.loraRelativeDelta!.mean)
        let g1 = try itmGradients()
        XCTAssertGreaterThan(g1.a.filter { $0 > 0 }.count, g1.a.count / 2, "after one step ITM's gradient reaches A: \(g1.a)")

        // Measuring (log_every 1) and not measuring (log_every 1000) run the same real backward pass: the same
        // weights bit for bit (the extra passes accumulate nothing).
        var quiet = c
        quiet.logEvery = 1000
        let measured = try trainer(c, adapter: stage1, run: "itm-measured"), unmeasured = try trainer(quiet, adapter: stage1, run: "itm-quiet")
        XCTAssertNotNil(try measured.trainStep().loraUpdateNorm)
        XCTAssertNil(try unmeasured.trainStep().loraUpdateNorm)
        let lora = snapshot(measured.model.unet.store, .adapters)
        XCTAssertFalse(lora.isEmpty)
        XCTAssertEqual(lora, snapshot(unmeasured.model.unet.store, .adapters))
    }

    // (7) The saved unet_lora loads with UNetLoRA.load (merged = unmerged within 1e-5); config errors name the key.
    func testSavedLoRALoadsMergedAndUnmergedAndConfigErrorsNameTheKey() throws {
        let folder = try vFolder()
        let stage1 = try stage1Adapter(try ProbeModel(folder: folder))
        var c = smallConfig(steps: 2)
        c.learningRate = 1e-2
        c.loraRank = 2
        c.loraAttention = ["attn2"]
        let t = try trainer(c, adapter: stage1)
        try t.run()
        XCTAssertTrue(t.loraLayers.allSatisfy { $0.path.contains(".attn2.") })

        let unmerged = try ProbeModel(folder: folder), merged = try ProbeModel(folder: folder), base = try ProbeModel(folder: folder)
        let cfg = try UNetLoRA.load(from: t.loraDirectory, into: unmerged.unet, merge: false)
        XCTAssertEqual(cfg, c.loraConfig)
        try UNetLoRA.load(from: t.loraDirectory, into: merged.unet, merge: true)
        var g = TorchGenerator(seed: 9)
        let x = Variable(g.randn([2, 3, 16, 16]))
        let ctx = Variable(try base.encode(["a red circle", "a blue square left of a green triangle"]).context)
        let ts: [Float] = [50, 600]
        let outs = GradMode.noGrad { [t.model, unmerged, merged, base].map { $0.unet.predict(x, timesteps: ts, context: ctx).value.scalars } }
        XCTAssertEqual(outs[1], outs[0], "the loaded LoRA computes what the trainer's U-Net computes")
        let scale = max(1, outs[1].reduce(0) { max($0, abs($1)) })
        XCTAssertLessThanOrEqual(maxAbsDifference(outs[1], outs[2]), 1e-5 * scale, "merged vs unmerged")
        XCTAssertGreaterThan(maxAbsDifference(outs[1], outs[3]), 1e-4, "training moved the LoRA away from the base model")

        XCTAssertThrowsError(try TuneConfig.decode(overrides: try JSONValue.parse(#"{"lora_ranks": 8}"#))) {
            XCTAssertTrue("\($0)".contains("'lora_ranks'"), "\($0)")
        }
        XCTAssertThrowsError(try TuneConfig.decode(overrides: try JSONValue.parse(#"{"itm_weight": "off"}"#))) {
            XCTAssertTrue("\($0)".contains("itm_weight"), "\($0)")
        }
        let o = try TuneConfig.decode(overrides: try JSONValue.parse(#"{"rec_weight": 0, "lora_rank": 8, "gradient_accumulation": 2}"#))
        XCTAssertEqual(o.recWeight, 0)
        XCTAssertEqual(o.loraConfig.loraAlpha, 8, "alpha defaults to the rank")
        XCTAssertEqual(o.effectiveBatchSize, 8)
        XCTAssertEqual(try TuneConfig.decode(overrides: try o.json()), o)
        let bad: [(String, (inout TuneConfig) -> Void)] = [
            ("lora_rank", { $0.loraRank = 0 }), ("lora_targets", { $0.loraTargets = ["to_x"] }),
            ("lora_attention", { $0.loraAttention = ["attn3"] }), ("itm_weight", { $0.itmWeight = -1 }),
            ("gradient_accumulation", { $0.gradientAccumulation = 0 }), ("lr_schedule", { $0.lrSchedule = "step" }),
            ("train_split", { $0.trainSplit = "training" }), ("lora_alpha", { $0.loraAlpha = 0 }),
        ]
        for (key, edit) in bad {
            var b = TuneConfig()
            edit(&b)
            XCTAssertThrowsError(try b.validate()) { XCTAssertTrue("\($0)".contains(key), "\(key): \($0)") }
        }
        let d = TuneConfig()
        XCTAssertEqual(d.loraRank, 4)
        XCTAssertEqual(d.loraTargets, ["to_q", "to_k", "to_v", "to_out.0"])
        XCTAssertEqual(d.loraAttention, ["attn1", "attn2"])
        XCTAssertEqual(d.lrSchedule, "cosine")
        XCTAssertEqual([d.itmWeight, d.recWeight, d.mseWeight], [1, 1, 1])

        // A control adapter (trained on a random U-Net) is refused.
        let control = try stage1Adapter(try ProbeModel(folder: folder), metadata: ["dpt.stage": "probe", "dpt.random_unet_seed": "7"])
        XCTAssertThrowsError(try trainer(c, adapter: control, run: "control")) {
            XCTAssertTrue("\($0)".contains("random U-Net") && "\($0)".contains("dpt.random_unet_seed"), "\($0)")
        }
        XCTAssertThrowsError(try trainer(c, adapter: folder.appendingPathComponent("nothing"), run: "missing")) {
            XCTAssertTrue("\($0)".contains("train-adapter probe"), "\($0)")
        }
    }
}

/// Stage-2 step time on a real model folder and stage-1 adapter, to size the default run: set TUNE_BENCH_MODEL (and
/// TUNE_BENCH_ADAPTER, default <model>/adapter; TUNE_BENCH_STEPS, default 3; TUNE_BENCH_BATCH, default 4). Prints
/// wall and process CPU seconds per step after one warm-up step.
final class TuneStepTimeBenchmark: XCTestCase {
    func testStepTimeOnAModelFolder() throws {
        let env = ProcessInfo.processInfo.environment
        guard let modelPath = env["TUNE_BENCH_MODEL"] else { throw XCTSkip("set TUNE_BENCH_MODEL to a model folder to time stage-2 steps") }
        let model = URL(fileURLWithPath: modelPath)
        let adapter = env["TUNE_BENCH_ADAPTER"].map { URL(fileURLWithPath: $0) } ?? model.appendingPathComponent("adapter")
        let n = Int(env["TUNE_BENCH_STEPS"] ?? "3")!
        var c = TuneConfig()
        c.batchSize = Int(env["TUNE_BENCH_BATCH"] ?? "4")!
        let t = try TuneTrainer(config: c, modelFolder: model, adapterFolder: adapter,
                                runDirectory: try TinyModel.temporaryFolder(self, "tune-bench"), resume: false)
        print(t.summary)
        try t.trainStep()   // warm-up
        let start = Date(), cpu0 = TinyModel.cpuSeconds()
        var last: TuneStepResult? = nil
        for _ in 0..<n { last = try t.trainStep() }
        let wall = Date().timeIntervalSince(start) / Double(n), cpu = (TinyModel.cpuSeconds() - cpu0) / Double(n)
        print(String(format: "stage 2, taps %@, batch %d: %.2f s/step wall, %.2f CPU-s/step (loss %.4f, mse %.4f)",
                     t.adapter.config.featureTaps.joined(separator: "+"), c.batchSize, wall, cpu, last!.loss, last!.mse))
    }
}

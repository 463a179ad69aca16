import AdapterTraining
import DataIO
import DiscriminativeAdapter
import Foundation
import NN
import ShapesWorld
import Tensor
import TinyModels
import XCTest

final class ProbeTrainerTests: XCTestCase {
    override class func tearDown() {
        if let s = TinyModel.shared { try? FileManager.default.removeItem(at: s) }
        TinyModel.shared = nil
    }

    func smallConfig(steps: Int = 4) -> ProbeConfig {
        var c = ProbeConfig()
        c.batchSize = 2
        c.steps = steps
        c.checkpointEvery = 2
        c.logEvery = 1
        c.featureTaps = ["up1"]
        return c
    }

    func testLossIsFiniteAndDecreasesOnARepeatedBatch() throws {
        let model = try ProbeModel(folder: try TinyModel.sharedFolder())
        var c = smallConfig()
        c.learningRate = 1e-3
        c.dropout = 0
        let trainer = try ProbeTrainer(config: c, model: model, runDirectory: try TinyModel.temporaryFolder(self, "repeat"), resume: false)
        let (inputs, _, g0) = try trainer.currentInputs()
        XCTAssertEqual(inputs.latents.shape, [6, 3, 16, 16])
        XCTAssertEqual(inputs.noise.shape, [2, 3, 16, 16])
        XCTAssertTrue(inputs.timesteps.allSatisfy { (0..<1000).contains($0) })
        var losses: [Float] = []
        for _ in 0..<8 {
            var g = g0
            let r = try trainer.optimise(on: inputs, generator: &g)
            XCTAssertTrue(r.loss.isFinite && r.i2t.isFinite && r.t2i.isFinite && r.rec.isFinite)
            XCTAssertEqual(r.loss, r.i2t + r.t2i + r.rec, accuracy: 1e-3 * max(1, abs(r.loss)))
            XCTAssertGreaterThan(r.gradNorm, 0)
            losses.append(r.loss)
        }
        // ITM terms start near log 3 (random scores); fitting one batch must bring the total down clearly.
        XCTAssertLessThan(losses.suffix(3).max()!, 0.8 * losses[0], "losses \(losses)")
        XCTAssertEqual(trainer.step, 0, "optimise(on:) must not advance the step")
    }

    /// The per-term gradient norms and the update norm are logged on each log window's last step, and measuring
    /// them changes no weight: a run measuring every step ends with the same adapter, bit for bit, as one that never
    /// measures (the extra backward passes return gradients without accumulating them).
    func testTermGradientNormsAreLoggedAndChangeNoWeight() throws {
        let model = try ProbeModel(folder: try TinyModel.sharedFolder())
        var measured = smallConfig(steps: 3)
        measured.logEvery = 1
        var unmeasured = smallConfig(steps: 3)
        unmeasured.logEvery = 1000
        let a = try ProbeTrainer(config: measured, model: model, runDirectory: try TinyModel.temporaryFolder(self, "terms-a"), resume: false)
        let b = try ProbeTrainer(config: unmeasured, model: model, runDirectory: try TinyModel.temporaryFolder(self, "terms-b"), resume: false)
        a.output = { _ in }
        b.output = { _ in }
        let r = try a.trainStep()
        let norms = try XCTUnwrap(r.termGradNorms)
        XCTAssertEqual(Set(norms.keys), ["i2t", "t2i", "rec_class", "rec_l1", "rec_giou"])
        XCTAssertTrue(norms.values.allSatisfy { $0.isFinite && $0 > 0 }, "\(norms)")
        XCTAssertGreaterThan(try XCTUnwrap(r.updateNorm), 0)
        XCTAssertNil(try b.trainStep().termGradNorms)
        try a.run()
        try b.run()
        // Bitwise by construction: the same steps on the same path in one process (same kernels, same worker
        // count); the measured run only adds gradient passes whose results never reach `.grad` or the optimiser.
        for (k, v) in a.adapter.store.stateDict() {
            XCTAssertEqual(v.scalars.map(\.bitPattern), b.adapter.store.stateDict()[k]!.scalars.map(\.bitPattern), k)
        }
        let last = try XCTUnwrap(try MetricsLog.read(a.metricsURL).last)
        for key in ["grad_norm_i2t", "grad_norm_t2i", "grad_norm_rec_class", "grad_norm_rec_l1", "grad_norm_rec_giou", "update_norm"] {
            XCTAssertNotNil(last[key]?.doubleValue, key)
        }
    }

    func testResumeReproducesTheUninterruptedRun() throws {
        let folder = try TinyModel.sharedFolder()
        let c = smallConfig(steps: 4)
        let model = try ProbeModel(folder: folder)

        let straightDir = try TinyModel.temporaryFolder(self, "straight")
        let straight = try ProbeTrainer(config: c, model: model, runDirectory: straightDir, resume: false)
        straight.output = { _ in }
        try straight.run()

        let resumedDir = try TinyModel.temporaryFolder(self, "resumed")
        let first = try ProbeTrainer(config: c, model: model, runDirectory: resumedDir, resume: false)
        first.output = { _ in }
        try first.run(stopAfter: 2)
        XCTAssertEqual(first.step, 2)
        XCTAssertFalse(FileManager.default.fileExists(atPath: first.adapterDirectory.path), "no adapter before the last step")
        XCTAssertThrowsError(try ProbeTrainer(config: c, model: model, runDirectory: resumedDir, resume: false)) {
            XCTAssertTrue("\($0)".contains("--resume"), "\($0)")
        }
        var other = c
        other.learningRate = 5e-4
        XCTAssertThrowsError(try ProbeTrainer(config: other, model: model, runDirectory: resumedDir, resume: true)) {
            XCTAssertTrue("\($0)".contains("learning_rate"), "\($0)")
        }
        // A checkpoint holding a tensor of no known group is refused, naming the tensor.
        let strayDir = try TinyModel.temporaryFolder(self, "stray")
        let (file, info) = try Checkpoint.load(try XCTUnwrap(Checkpoint.latest(in: first.checkpointDirectory)).url)
        var tensors: [String: Tensor] = ["stray.x": Tensor(shape: [1], scalars: [0])]
        for name in file.tensorNames { tensors[name] = Tensor(copying: try file.tensor(name)) }
        try Checkpoint.save(tensors, info: info, in: strayDir.appendingPathComponent("checkpoints"), keepLast: 2)
        XCTAssertThrowsError(try ProbeTrainer(config: c, model: model, runDirectory: strayDir, resume: true)) {
            XCTAssertTrue("\($0)".contains("unexpected tensor 'stray.x'"), "\($0)")
        }
        var relogged = c
        relogged.logEvery = 3
        relogged.steps = 9
        XCTAssertEqual(try ProbeTrainer(config: relogged, model: model, runDirectory: resumedDir, resume: true).step, 2,
                       "logging intervals and a longer constant-rate run are accepted on resume")
        let second = try ProbeTrainer(config: c, model: model, runDirectory: resumedDir, resume: true)
        second.output = { _ in }
        XCTAssertEqual(second.resumedFrom, 2)
        XCTAssertEqual(second.dataCursor, first.dataCursor)
        try second.run()

        XCTAssertEqual(second.step, 4)
        XCTAssertEqual(second.dataCursor, straight.dataCursor)
        let a = straight.adapter.store.stateDict(), b = second.adapter.store.stateDict()
        XCTAssertEqual(Set(a.keys), Set(b.keys))
        for (k, v) in a { XCTAssertEqual(v.scalars, b[k]!.scalars, "parameter \(k) differs after resuming") }
        XCTAssertEqual(straight.optimizer.stateDict()["logit_scale.exp_avg"]?.scalars, second.optimizer.stateDict()["logit_scale.exp_avg"]?.scalars)
        // The fresh adapter differs from the trained one (training did something).
        let fresh = try DiscriminativeAdapter(config: straight.adapter.config, seed: c.seed).store.stateDict()
        XCTAssertNotEqual(fresh["input_proj.weight"]!.scalars, a["input_proj.weight"]!.scalars)

        // Outputs: metrics (one record per step after trimming), loss plot, checkpoints, the adapter component.
        let records = try MetricsLog.read(second.metricsURL)
        XCTAssertEqual(records.compactMap { $0["step"]?.intValue }, [1, 2, 3, 4])
        XCTAssertTrue(records.allSatisfy { ($0["loss"]?.doubleValue ?? .nan).isFinite && $0["rec_giou"] != nil })
        XCTAssertEqual(try PNG.read(resumedDir.appendingPathComponent("loss.png")).width, 640)
        XCTAssertEqual(Checkpoint.list(in: second.checkpointDirectory).map(\.step), [2, 4])
        let loaded = try DiscriminativeAdapter.load(from: ComponentFolder(second.adapterDirectory))
        for (k, v) in loaded.store.stateDict() { XCTAssertEqual(v.scalars, b[k]!.scalars, k) }
        XCTAssertNil(try DiscriminativeAdapter.randomUNetSeed(in: ComponentFolder(second.adapterDirectory)))
    }

    func testRandomUNetControlUsesSeededRandomWeightsAndIsRecorded() throws {
        let folder = try TinyModel.sharedFolder()
        let trained = try ProbeModel(folder: folder)
        let random = try ProbeModel(folder: folder, randomUNetSeed: 7)
        let again = try ProbeModel(folder: folder, randomUNetSeed: 7)
        let w0 = trained.unet.store.stateDict(), w1 = random.unet.store.stateDict(), w2 = again.unet.store.stateDict()
        XCTAssertEqual(Set(w0.keys), Set(w1.keys))
        XCTAssertNotEqual(w0["conv_in.weight"]!.scalars, w1["conv_in.weight"]!.scalars)
        XCTAssertEqual(w1["conv_in.weight"]!.scalars, w2["conv_in.weight"]!.scalars)

        var c = smallConfig(steps: 1)
        XCTAssertThrowsError(try ProbeTrainer(config: c, model: random, runDirectory: try TinyModel.temporaryFolder(self, "x"), resume: false))
        c.randomUNetSeed = 7
        let dir = try TinyModel.temporaryFolder(self, "control")
        let t = try ProbeTrainer(config: c, model: random, runDirectory: dir, resume: false)
        t.output = { _ in }
        try t.run()
        XCTAssertEqual(try DiscriminativeAdapter.randomUNetSeed(in: ComponentFolder(t.adapterDirectory)), 7)
        let (m, dm) = try TrainedAdapter.load(model: folder, adapterFolder: t.adapterDirectory)
        XCTAssertEqual(m.randomUNetSeed, 7)
        XCTAssertEqual(m.unet.store.stateDict()["conv_in.weight"]!.scalars, w1["conv_in.weight"]!.scalars)
        XCTAssertEqual(dm.adapter.config.featureTaps, ["up1"])
        XCTAssertThrowsError(try TrainedAdapter.load(model: folder)) { XCTAssertTrue("\($0)".contains("train-adapter"), "\($0)") }
    }

    /// Both stages' configs read and write the shared keys (`AdapterRunConfig`) and their own in one flat object.
    func testSharedAndOwnKeysInOneObject() throws {
        let shared = ["adam_beta1", "adam_beta2", "batch_size", "checkpoint_every", "grad_clip_norm", "keep_checkpoints",
                      "learning_rate", "log_every", "lr_schedule", "seed", "steps", "timestep_max", "timestep_min",
                      "train_split", "warmup_steps", "weight_decay", "world_seed"]
        XCTAssertEqual(ProbeConfig.keys, (shared + ["category_weights", "contrastive_align", "dec_value_pos", "dropout", "feature_taps", "heatmap_sigma", "heatmap_text", "image_size", "negative_weights", "preset",
                                                    "random_unet_seed", "rec_head", "rec_reference_points"]).sorted())
        XCTAssertEqual(TuneConfig.keys, (shared + ["gradient_accumulation", "itm_weight", "lora_alpha", "lora_attention", "lora_init", "lora_rank",
                                                   "lora_targets", "mse_weight", "rec_weight", "train_adapter"]).sorted())
        let over = try JSONValue.parse(#"{"steps": 5, "timestep_max": 400, "world_seed": 9, "lr_schedule": "cosine", "rec_weight": 0}"#)
        let t = try TuneConfig.decode(overrides: over)
        XCTAssertEqual(t.loraConfig.initialization, .gaussian, "stage 2's LoRA starts as the release's")
        var peft = t
        peft.loraInit = "kaiming"
        XCTAssertEqual(peft.loraConfig.initialization, .kaiming)
        peft.loraInit = "orthogonal"
        XCTAssertThrowsError(try peft.validate()) { XCTAssertTrue("\($0)".contains("lora_init 'orthogonal'"), "\($0)") }
        XCTAssertEqual([t.steps, t.timestepMax, Int(t.worldSeed)], [5, 400, 9])
        XCTAssertEqual(t.lrSchedule, "cosine")
        XCTAssertEqual(t.recWeight, 0)
        XCTAssertEqual(t.batchSize, TuneConfig().batchSize)
        XCTAssertEqual(try TuneConfig.decode(overrides: try t.json()), t)
        XCTAssertEqual(try t.json().objectValue?["timestep_max"], .int(400))
        XCTAssertEqual(try TuneConfig().json().objectValue?["timestep_max"], .null, "nil is written as null")
        var bad = TuneConfig()
        bad.keepCheckpoints = 0
        XCTAssertThrowsError(try bad.validate()) { XCTAssertTrue("\($0)".contains("tune config: keep_checkpoints"), "\($0)") }
        var badProbe = ProbeConfig()
        badProbe.adamBeta2 = 1
        XCTAssertThrowsError(try badProbe.validate()) { XCTAssertTrue("\($0)".contains(": config: adam_beta2"), "\($0)") }
    }

    /// Stage 1 with the heatmap head: the adapter has no REC queries, its REC loss is the heatmap's, fitting one
    /// batch brings it down, and the finished adapter loads back with its head and scores the same.
    func testHeatmapHeadTrainsSavesAndLoads() throws { try heatmapHeadTrainsSavesAndLoads(text: false) }

    /// The same with `heatmap_text`: stage 1 feeds each pass its text's pooled embedding.
    func testTextConditionedHeatmapHeadTrainsSavesAndLoads() throws { try heatmapHeadTrainsSavesAndLoads(text: true) }

    func heatmapHeadTrainsSavesAndLoads(text: Bool) throws {
        let folder = try TinyModel.sharedFolder()
        let model = try ProbeModel(folder: folder)
        var c = smallConfig(steps: 2)
        c.recHead = "heatmap"
        c.heatmapSigma = 0.8
        c.learningRate = 1e-3
        c.dropout = 0
        c.heatmapText = text
        let dir = try TinyModel.temporaryFolder(self, text ? "heatmap-text" : "heatmap")
        let trainer = try ProbeTrainer(config: c, model: model, runDirectory: dir, resume: false)
        XCTAssertEqual(trainer.adapter.config.recHead, .heatmap)
        XCTAssertEqual(trainer.adapter.config.referringQueries, 0)
        let (inputs, _, g0) = try trainer.currentInputs()
        var rec: [Float] = []
        for _ in 0..<8 {
            var g = g0
            let r = try trainer.optimise(on: inputs, generator: &g)
            XCTAssertTrue(r.rec.isFinite && r.recClass.isFinite && r.recL1.isFinite && r.recGIoU.isFinite)
            rec.append(r.rec)
        }
        XCTAssertLessThan(rec.suffix(3).max()!, 0.9 * rec[0], "REC losses \(rec)")
        trainer.output = { _ in }
        try trainer.run()
        let (_, dm) = try TrainedAdapter.load(model: folder, adapterFolder: trainer.adapterDirectory)
        XCTAssertEqual(dm.adapter.config, trainer.adapter.config)
        let x = try DiscriminativeAdapter.load(from: ComponentFolder(trainer.adapterDirectory))
        XCTAssertEqual(Set(x.store.stateDict().keys), Set(trainer.adapter.store.stateDict().keys))
        XCTAssertNotNil(x.recHeatmap)
        XCTAssertEqual(x.recHeatmap?.textQuery != nil, text)
    }

    func testConfigFileOverridesAndErrors() throws {
        let c = try ProbeConfig.decode(overrides: try JSONValue.parse(#"{"batch_size": 3, "feature_taps": ["mid", "up1"], "random_unet_seed": 5}"#))
        XCTAssertEqual(c.batchSize, 3)
        XCTAssertEqual(c.featureTaps, ["mid", "up1"])
        XCTAssertEqual(c.randomUNetSeed, 5)
        XCTAssertEqual(c.learningRate, 1e-4)
        XCTAssertEqual(try ProbeConfig.decode(overrides: try c.json()), c)
        XCTAssertThrowsError(try ProbeConfig.decode(overrides: try JSONValue.parse(#"{"batchsize": 3}"#))) {
            XCTAssertTrue("\($0)".contains("'batchsize'"), "\($0)")
        }
        XCTAssertThrowsError(try ProbeConfig.decode(overrides: try JSONValue.parse(#"{"steps": "many"}"#))) {
            XCTAssertTrue("\($0)".contains("steps"), "\($0)")
        }
        var bad = ProbeConfig()
        bad.trainSplit = "training"
        XCTAssertThrowsError(try bad.validate()) { XCTAssertTrue("\($0)".contains("train_split"), "\($0)") }
        bad = ProbeConfig()
        bad.recHead = "mask"
        XCTAssertThrowsError(try bad.validate()) { XCTAssertTrue("\($0)".contains("rec_head 'mask'"), "\($0)") }
        bad = ProbeConfig()
        bad.recHead = "heatmap"
        bad.contrastiveAlign = true
        XCTAssertThrowsError(try bad.validate()) { XCTAssertTrue("\($0)".contains("contrastive_align"), "\($0)") }
        bad.contrastiveAlign = false
        bad.heatmapSigma = 0
        XCTAssertThrowsError(try bad.validate()) { XCTAssertTrue("\($0)".contains("heatmap_sigma"), "\($0)") }
        bad = ProbeConfig()
        bad.categoryWeights = ["spacial": 2]
        XCTAssertThrowsError(try bad.validate()) { XCTAssertTrue("\($0)".contains("category_weights names 'spacial'"), "\($0)") }
        bad.categoryWeights = Dictionary(uniqueKeysWithValues: Category.allCases.map { ($0.rawValue, 0.0) })
        XCTAssertThrowsError(try bad.validate()) { XCTAssertTrue("\($0)".contains("every category weight 0"), "\($0)") }
        bad = ProbeConfig()
        bad.negativeWeights = ["flip_relation": 0]
        XCTAssertThrowsError(try bad.validate()) { XCTAssertTrue("\($0)".contains("negative_weights[flip_relation]"), "\($0)") }
        bad.negativeWeights = ["flip": 2]
        XCTAssertThrowsError(try bad.validate()) { XCTAssertTrue("\($0)".contains("negative_weights names 'flip'"), "\($0)") }
        bad = ProbeConfig()
        bad.lrSchedule = "step"
        XCTAssertThrowsError(try bad.validate()) { XCTAssertTrue("\($0)".contains("lr_schedule"), "\($0)") }
        let d = ProbeConfig()
        XCTAssertEqual(d.learningRate, 1e-4)
        XCTAssertEqual(d.weightDecay, 1e-2)
        XCTAssertEqual(d.gradClipNorm, 1.0)
        XCTAssertEqual(d.lrSchedule, "constant")
        XCTAssertEqual(d.featureTaps, ["cross-up"])
        XCTAssertEqual(d.preset, "bundled")
    }
}

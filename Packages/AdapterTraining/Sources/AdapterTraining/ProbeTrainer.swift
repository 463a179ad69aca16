import Autodiff
import DataIO
import DiscriminativeAdapter
import Foundation
import NN
import RunLoop
import ShapesWorld
import Tensor

/// What one logged window of probe training reports.
public struct ProbeProgress: Sendable {
    public var step: Int
    public var totalSteps: Int
    /// Window means of the loss terms.
    public var loss: Double, i2t: Double, t2i: Double, rec: Double
    /// 3-way training accuracy of the ITM scores (positive ranked first), i2t and t2i together.
    public var itmAccuracy: Double
    public var learningRate: Double
    public var gradNorm: Double
    public var samplesPerSecond: Double
    public var secondsPerStep: Double
    public var etaSeconds: Double

    /// `step 120/1200  loss 2.4512 (i2t 1.0411 t2i 1.0502 rec 0.3599)  itm 0.41  lr 1.0e-04  |g| 0.31  8.1 samples/s  0.74 s/step  ETA 13:20`.
    public var line: String {
        String(format: "step %d/%d  loss %.4f (i2t %.4f t2i %.4f rec %.4f)  itm %.2f  lr %.1e  |g| %.3f  %.1f samples/s  %.2f s/step  ETA %@",
               step, totalSteps, loss, i2t, t2i, rec, itmAccuracy, learningRate, gradNorm, samplesPerSecond, secondsPerStep,
               Self.duration(etaSeconds))
    }

    /// "m:ss" or "h:mm:ss".
    public static func duration(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        return s >= 3600 ? String(format: "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60) : String(format: "%d:%02d", s / 60, s % 60)
    }
}

/// The result of one optimisation step.
public struct ProbeStepResult: Sendable {
    public var loss: Float, i2t: Float, t2i: Float, rec: Float
    public var recClass: Float, recL1: Float, recGIoU: Float
    /// Fraction of the 2B 3-way ITM rankings (i2t and t2i) with the positive strictly first.
    public var itmAccuracy: Float
    /// Gradient norm before clipping.
    public var gradNorm: Float
    /// On the steps that end a log window: the gradient norm of each loss term alone (`i2t`, `t2i`, `rec_class`,
    /// `rec_l1`, `rec_giou`, `rec_contrastive`) on the adapter, and the norm of the step's parameter update; nil
    /// on other steps. Measured with extra backward passes that change no gradient the optimiser sees.
    public var termGradNorms: [String: Float]? = nil
    public var updateNorm: Float? = nil
}

/// The L2 norm of a list of tensors, accumulated in Double.
func l2Norm(_ tensors: [Tensor]) -> Float {
    var s = 0.0
    for t in tensors { t.withContiguousBuffer { p in for v in p { s += Double(v) * Double(v) } } }
    return Float(s.squareRoot())
}

/// DPT stage 1 (probing): the adapter is trained on the frozen T2I model with `L_i2t + L_t2i + L_rec` on
/// ShapesWorld, with AdamW and global gradient clipping; resumable bit for bit from atomic checkpoints.
///
/// Run folder: `probe_config.json`, `checkpoints/checkpoint-<step>.safetensors` (adapter weights `adapter.*`,
/// optimiser state `opt.*`; metadata: step, data cursor, per-step RNG rule, model folder), `metrics.jsonl`,
/// `loss.png`, and at the end `adapter/` (config.json + model.safetensors). Every random draw of step s comes from
/// `TorchGenerator(ProbeData.stepSeed(seed, s))` and the samples from the saved data cursor, so a resumed run
/// equals an uninterrupted one.
public final class ProbeTrainer: AdapterStage {
    public let config: ProbeConfig
    public let runDirectory: URL
    public let model: ProbeModel
    public let adapter: DiscriminativeAdapter
    public let discriminative: DiscriminativeModel
    public let optimizer: AdamW
    public let data: ProbeData
    public let parameters: [NamedParameter]
    /// Timesteps drawn uniformly from this range.
    public let timestepRange: Range<Int>
    public internal(set) var step = 0
    /// Index of the next sample of the training split.
    public internal(set) var dataCursor = 0
    public private(set) var resumedFrom: Int?
    /// Where progress lines and notices go (stderr by default).
    public var output: (String) -> Void = { FileHandle.standardError.write(Data(($0 + "\n").utf8)) }

    var metrics: MetricsLogWriter?

    public var checkpointDirectory: URL { runDirectory.appendingPathComponent("checkpoints") }
    public var adapterDirectory: URL { runDirectory.appendingPathComponent(DiscriminativeAdapter.componentName) }
    public var metricsURL: URL { runDirectory.appendingPathComponent("metrics.jsonl") }

    /// Prepares a run of `config` on `model` in `runDirectory`. With `resume`, the newest complete checkpoint there
    /// (if any) is loaded; its config must equal `config` (the error lists the keys that differ) except for
    /// `log_every`, `checkpoint_every`, `keep_checkpoints` and, for a constant learning rate, `steps` (a run may be
    /// extended). Without `resume`, a folder that already holds checkpoints is refused.
    public init(config: ProbeConfig, model: ProbeModel, runDirectory: URL, resume: Bool) throws {
        try config.validate()
        guard model.randomUNetSeed == config.randomUNetSeed else {
            throw AdapterTrainingError("the model was loaded with random_unet_seed \(model.randomUNetSeed.map(String.init) ?? "none") but the config asks for \(config.randomUNetSeed.map(String.init) ?? "none")")
        }
        let t = model.numTrainTimesteps
        let hi = config.timestepMax ?? t
        guard hi <= t, config.timestepMin < hi else {
            throw AdapterTrainingError("config: timesteps \(config.timestepMin)..<\(hi) do not fit the schedule's \(t) training timesteps")
        }
        timestepRange = config.timestepMin..<hi
        self.config = config
        self.model = model
        self.runDirectory = runDirectory
        try FileManager.default.createDirectory(at: runDirectory, withIntermediateDirectories: true)
        let ckDir = runDirectory.appendingPathComponent("checkpoints")
        if !resume, !Checkpoint.list(in: ckDir).isEmpty {
            throw AdapterTrainingError("\(runDirectory.path) already holds checkpoints; pass --resume to continue, or use a new folder")
        }
        let latest = resume ? Checkpoint.latest(in: ckDir) : nil
        if let latest {
            try AdapterRunCheckpoint.checkResumable(saved: try ProbeConfig.decode(overrides: latest.info.config), config: config,
                                                    step: latest.info.step, checkpoint: latest.url)
        }
        var ac = try model.adapterConfig(preset: config.preset, taps: config.featureTaps, dropout: config.dropout,
                                         contrastiveAlign: config.contrastiveAlign, recHead: try config.recHeadKind())
        ac.recReferencePoints = config.recReferencePoints
        ac.decoderValuePosition = config.decoderValuePosition
        ac.heatmapText = config.heatmapText
        adapter = try DiscriminativeAdapter(config: ac, seed: config.seed)
        discriminative = try DiscriminativeModel(denoiser: model.unet, adapter: adapter)
        parameters = adapter.store.namedParameters()
        optimizer = AdamW(parameters: parameters, learningRate: config.learningRate, betas: (config.adamBeta1, config.adamBeta2),
                          weightDecay: config.weightDecay)
        data = ProbeData(world: model.world(seed: config.worldSeed, side: config.imageSize), split: try config.split(),
                         wordTokens: model.wordTokens, contextLength: model.contextLength,
                         categoryWeights: try config.categoryWeightTable(), negativeWeights: try config.negativeWeightTable(),
                         selectionSeed: config.seed)
        if let latest { try restore(from: latest.url) }
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys]
        try AtomicFile.write(try enc.encode(config), to: runDirectory.appendingPathComponent("probe_config.json"))
    }

    // MARK: Checkpoints

    /// Loads adapter weights, optimiser state, step and data cursor from a checkpoint file.
    public func restore(from url: URL) throws {
        let (file, info) = try Checkpoint.load(url)
        let groups = try AdapterRunCheckpoint.split(file, url: url, prefixes: ["adapter.", "opt."])
        do { try adapter.store.loadStateDict(groups["adapter."]!, strict: true) } catch let e as StateDictError {
            throw AdapterTrainingError("checkpoint \(url.lastPathComponent): \(e.report)")
        }
        try optimizer.loadStateDict(groups["opt."]!)
        dataCursor = try AdapterRunCheckpoint.dataCursor(info, url: url)
        step = info.step
        resumedFrom = info.step
    }

    /// Writes the checkpoint of the current step atomically (keeping the newest `keep_checkpoints`).
    @discardableResult
    public func saveCheckpoint() throws -> URL {
        let tensors = AdapterRunCheckpoint.join([("adapter.", adapter.store.stateDict()), ("opt.", optimizer.stateDict())])
        let info = CheckpointInfo(step: step, seed: config.seed, config: try config.json(), extra: [
            "data_cursor": String(dataCursor),
            "rng": "step s draws from TorchGenerator(stepSeed(seed, s)) (SplitMix64)",
            "model": model.folder.lastPathComponent,
        ])
        return try Checkpoint.save(tensors, info: info, in: checkpointDirectory, keepLast: config.keepCheckpoints)
    }

    // MARK: Training

    /// The inputs of the current step (from the data cursor and the step's generator) and the generator after
    /// drawing them (it then drives dropout); advances nothing.
    public func currentInputs() throws -> (inputs: ProbeInputs, next: Int, generator: TorchGenerator) {
        var g = TorchGenerator(seed: ProbeData.stepSeed(config.seed, step: step))
        let (samples, next) = data.samples(from: dataCursor, count: config.batchSize)
        let inputs = try ProbeInputs.make(samples: samples, model: model, data: data, timesteps: timestepRange,
                                          tokens: config.contrastiveAlign, generator: &g)
        return (inputs, next, g)
    }

    /// One optimisation step on `inputs` (dropout from `generator`); does not move the step or the cursor.
    public func optimise(on inputs: ProbeInputs, generator: inout TorchGenerator) throws -> ProbeStepResult {
        adapter.setTraining(true)
        let terms = try ProbePlan.losses(model: discriminative, recTargets: inputs.batch.recTargets, latents: inputs.latents, noise: inputs.noise,
                                         timesteps: inputs.timesteps, schedule: model.schedule, captions: inputs.captions,
                                         expressions: inputs.expressions,
                                         criterion: RECCriterion(heatmapSigma: Float(config.heatmapSigma)), generator: &generator)
        let value = terms.total.value.item()
        guard value.isFinite else { throw AdapterTrainingError("loss is \(value) at step \(step)") }
        // On the last step of a log window: each term's own gradient norm (the graph is kept for the real pass).
        let measure = (step + 1) % config.logEvery == 0
        let variables = parameters.map(\.variable)
        var termNorms: [String: Float]? = nil
        if measure {
            var named: [(String, Variable)] = [("i2t", terms.i2t), ("t2i", terms.t2i), ("rec_class", terms.rec.classification),
                                               ("rec_l1", terms.rec.boxL1), ("rec_giou", terms.rec.giou)]
            if let c = terms.rec.contrastive { named.append(("rec_contrastive", c)) }
            termNorms = [:]
            for (name, term) in named {
                termNorms![name] = l2Norm(gradients(of: term, withRespectTo: variables, retainGraph: true))
            }
        }
        optimizer.zeroGrad()
        terms.total.backward()
        let norm = GradientClipping.clipGradNorm(parameters, maxNorm: config.gradClipNorm)
        optimizer.learningRate = config.learningRateSchedule.learningRate(baseLR: config.learningRate, step: step)
        let before = measure ? variables.map { Tensor(copying: $0.value) } : []
        optimizer.step()
        optimizer.zeroGrad()
        let update = measure ? l2Norm(zip(variables, before).map { $0.0.value - $0.1 }) : nil
        var firsts = 0
        for scores in [terms.i2tScores.scalars, terms.t2iScores.scalars] {
            for b in 0..<inputs.count where scores[b * 3] > scores[b * 3 + 1] && scores[b * 3] > scores[b * 3 + 2] { firsts += 1 }
        }
        return ProbeStepResult(loss: value, i2t: terms.i2t.value.item(), t2i: terms.t2i.value.item(), rec: terms.rec.total.value.item(),
                               recClass: terms.rec.classification.value.item(), recL1: terms.rec.boxL1.value.item(),
                               recGIoU: terms.rec.giou.value.item(), itmAccuracy: Float(firsts) / Float(2 * inputs.count),
                               gradNorm: norm, termGradNorms: termNorms, updateNorm: update)
    }

    /// One step of the run: the current step's batch, then step and cursor move on.
    @discardableResult
    public func trainStep() throws -> ProbeStepResult { try stageStep() }

    /// Trains until `config.steps` (or `stopAfter` steps in total, e.g. to simulate an interruption), writing
    /// checkpoints, metrics and the loss plot; at `config.steps` writes `adapter/` into the run folder.
    public func run(stopAfter: Int? = nil) throws { try runStage(stopAfter: stopAfter) }

    var stageSteps: Int { config.steps }
    var stageLogEvery: Int { config.logEvery }
    var stageCheckpointEvery: Int { config.checkpointEvery }

    /// The run's one-line description (printed at the start).
    public var summary: String {
        "adapter \(config.preset) on \(config.featureTaps.joined(separator: "+")): \(adapter.store.parameterCount()) parameters; "
            + "U-Net \(model.randomUNetSeed.map { "random (seed \($0))" } ?? "trained") frozen; batch \(config.batchSize), "
            + "\(config.steps) steps, t in \(timestepRange.lowerBound)..<\(timestepRange.upperBound)"
    }

    func logRecord(_ window: [ProbeStepResult], secondsPerStep sps: Double, etaSeconds eta: Double) -> (line: String, values: [String: Double]) {
        func mean(_ f: (ProbeStepResult) -> Float) -> Double { windowMean(window, f) }
        let lr = config.learningRateSchedule.learningRate(baseLR: config.learningRate, step: step - 1)
        let p = ProbeProgress(step: step, totalSteps: config.steps, loss: mean(\.loss), i2t: mean(\.i2t), t2i: mean(\.t2i),
                              rec: mean(\.rec), itmAccuracy: mean(\.itmAccuracy), learningRate: lr, gradNorm: mean(\.gradNorm),
                              samplesPerSecond: Double(config.batchSize) / sps, secondsPerStep: sps, etaSeconds: eta)
        var values: [String: Double] = ["loss": p.loss, "i2t": p.i2t, "t2i": p.t2i, "rec": p.rec,
                                        "rec_class": mean(\.recClass), "rec_l1": mean(\.recL1), "rec_giou": mean(\.recGIoU),
                                        "itm_train_accuracy": p.itmAccuracy, "lr": lr, "grad_norm": p.gradNorm,
                                        "samples_per_second": p.samplesPerSecond, "seconds_per_step": sps]
        // The window's measured steps (normally its last): per-term gradient norms and the update norm.
        let measured = window.compactMap(\.termGradNorms)
        for key in Set(measured.flatMap(\.keys)) {
            let v = measured.compactMap { $0[key] }
            values["grad_norm_" + key] = v.reduce(0) { $0 + Double($1) } / Double(v.count)
        }
        let updates = window.compactMap(\.updateNorm)
        if !updates.isEmpty { values["update_norm"] = updates.reduce(0) { $0 + Double($1) } / Double(updates.count) }
        return (p.line, values)
    }

    func finish() throws {
        try saveAdapter(to: ComponentFolder(adapterDirectory))
        output("adapter written to \(adapterDirectory.path)")
    }

    /// Saves the adapter as a model-folder component; the safetensors metadata records the training step, the
    /// taps and, for the control, the random U-Net seed (which `evaluate` uses to rebuild the same U-Net).
    public func saveAdapter(to folder: ComponentFolder) throws {
        var md = ["dpt.stage": "probe", "dpt.step": String(step), "dpt.feature_taps": config.featureTaps.joined(separator: "+")]
        if let s = model.randomUNetSeed { md[DiscriminativeAdapter.randomUNetSeedKey] = String(s) }
        try adapter.save(to: folder, metadata: md)
    }

    /// `loss.png` from `metrics.jsonl`: total and the three terms (log scale, smoothed).
    public func writeLossPlot() throws {
        try metrics?.sync()
        try RunMetrics.plot(metrics: metricsURL, keys: ["loss", "i2t", "t2i", "rec"],
                            title: "train-adapter probe loss (\(config.featureTaps.joined(separator: "+")))",
                            to: runDirectory.appendingPathComponent("loss.png"))
    }
}

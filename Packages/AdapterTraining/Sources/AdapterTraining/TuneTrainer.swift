import Autodiff
import DataIO
import Diffusion
import DiscriminativeAdapter
import Foundation
import NN
import RunLoop
import ShapesWorld
import Tensor

/// The loss terms of one stage-2 micro-batch (graph built, not yet differentiated).
public struct TuneTerms {
    /// `itm_weight * (i2t + t2i) + rec_weight * rec + mse_weight * mse` (only the terms with a positive weight).
    public var total: Variable
    /// The discriminative terms; nil when `itm_weight` and `rec_weight` are both 0 (the tapped passes are skipped).
    public var discriminative: ProbePlan.Terms?
    /// The denoising loss; nil when `mse_weight` is 0 (the full U-Net pass is skipped).
    public var mse: Variable?
}

/// The result of one stage-2 optimisation step: batch means over the effective batch. Terms that were not computed
/// (their weights are 0) are 0 here; `TuneTrainer.computesDiscriminativeTerms` / `computesDenoisingLoss` say which.
public struct TuneStepResult: Sendable {
    public var loss: Float
    public var i2t: Float, t2i: Float, rec: Float, mse: Float
    public var recClass: Float, recL1: Float, recGIoU: Float
    /// Fraction of the 2B 3-way ITM rankings (i2t and t2i) with the positive strictly first.
    public var itmAccuracy: Float
    /// Gradient norm (LoRA and adapter together) before clipping.
    public var gradNorm: Float
    /// On the last step of a log window only: each weighted term's own gradient norm on the LoRA parameters
    /// (`itm`, `rec`, `mse`; summed over micro-batches), the step's LoRA update norm, and ||scale B A|| / ||W|| over
    /// the adapted layers (mean and max).
    public var loraTermGradNorms: [String: Float]? = nil
    public var loraUpdateNorm: Float? = nil
    public var loraRelativeDelta: (mean: Float, max: Float)? = nil
}

/// What one logged window of stage-2 training reports.
public struct TuneProgress: Sendable {
    public var step: Int
    public var totalSteps: Int
    /// Window means; nil for terms that are not computed.
    public var loss: Double, i2t: Double?, t2i: Double?, rec: Double?, mse: Double?
    public var itmAccuracy: Double?
    public var learningRate: Double
    public var gradNorm: Double
    public var samplesPerSecond: Double
    public var secondsPerStep: Double
    public var etaSeconds: Double

    /// `step 40/300  loss 2.3012 (i2t 0.9811 t2i 1.0230 rec 0.2770 mse 0.0201)  itm 0.52  lr 9.6e-05  |g| 0.84  1.9 samples/s  2.10 s/step  ETA 9:06`.
    public var line: String {
        func f(_ v: Double?) -> String { v.map { String(format: "%.4f", $0) } ?? "-" }
        return String(format: "step %d/%d  loss %.4f (i2t %@ t2i %@ rec %@ mse %@)  itm %@  lr %.1e  |g| %.3f  %.1f samples/s  %.2f s/step  ETA %@",
                      step, totalSteps, loss, f(i2t), f(t2i), f(rec), f(mse), itmAccuracy.map { String(format: "%.2f", $0) } ?? "-",
                      learningRate, gradNorm, samplesPerSecond, secondsPerStep, ProbeProgress.duration(etaSeconds))
    }
}

/// DPT stage 2 (discriminative tuning): LoRA on the trained U-Net's attention projections (base weights frozen, up
/// projections zero so training starts from the model itself) and the stage-1 adapter are trained together on
/// `itm_weight * (L_i2t + L_t2i) + rec_weight * L_rec + mse_weight * L_mse`, with AdamW, a cosine schedule,
/// gradient accumulation and global clipping; resumable bit for bit from atomic checkpoints.
///
/// The discriminative terms are `ProbePlan.losses` (6 tapped passes per sample, gradients reaching the adapter and,
/// through the tapped U-Net blocks, the LoRA). The denoising loss is the MSE of a full U-Net pass on the positive
/// image under the positive caption, with the noise and timestep the sample's discriminative passes share, against
/// the target of the model's `prediction_type` (noise, velocity or sample; `DiffusionTraining.target`).
///
/// Each step draws the inputs of its whole effective batch (batch_size x gradient_accumulation samples from the
/// data cursor; negatives, expressions, timesteps and noise from `TorchGenerator(TuneTrainer.stepSeed(seed, s))`),
/// then runs them as `gradient_accumulation` micro-batches of `batch_size`, each loss scaled by 1/accumulation, so
/// that an accumulated step equals one step on the whole batch up to float rounding (adapter dropout, drawn per
/// micro-batch from the same generator, aside).
///
/// Run folder: `tune_config.json`, `checkpoints/checkpoint-<step>.safetensors` (LoRA `lora.*`, adapter
/// `adapter.*`, optimiser `opt.*`; metadata: step, data cursor, stage-1 adapter fingerprint, model folder),
/// `metrics.jsonl`, `loss.png`, and at the end `adapter/` (the tuned adapter, metadata `dpt.stage` = tune) and
/// `unet_lora/` (`UNetLoRA.save`: PEFT-layout LoRA weights and `adapter_config.json`).
public final class TuneTrainer: AdapterStage {
    public let config: TuneConfig
    public let runDirectory: URL
    /// The model; its U-Net carries the LoRA adapters from `init` on.
    public let model: ProbeModel
    /// The stage-1 adapter being tuned.
    public let adapter: DiscriminativeAdapter
    public let discriminative: DiscriminativeModel
    /// The stage-1 adapter folder and the FNV-1a 64 fingerprint of its weights file (checked on resume).
    public let stage1Folder: URL
    public let stage1Fingerprint: String
    /// The U-Net projections that carry LoRA.
    public let loraLayers: [Linear]
    /// What the optimiser updates: LoRA weights as `unet.<path>.lora_{A,B}.weight`, then (unless `train_adapter` is
    /// false) the adapter's as `adapter.<name>`.
    public let parameters: [NamedParameter]
    public let optimizer: AdamW
    public let data: ProbeData
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
    public var loraDirectory: URL { runDirectory.appendingPathComponent(UNetLoRA.componentName) }
    public var metricsURL: URL { runDirectory.appendingPathComponent("metrics.jsonl") }
    /// Whether the tapped passes (ITM and REC) run: `itm_weight` or `rec_weight` is positive.
    public var computesDiscriminativeTerms: Bool { config.itmWeight > 0 || config.recWeight > 0 }
    /// Whether the full U-Net pass (denoising MSE) runs: `mse_weight` is positive.
    public var computesDenoisingLoss: Bool { config.mseWeight > 0 }

    /// Metadata keys of the tuned adapter's weights file.
    public static let stageKey = "dpt.stage"
    /// The LoRA component (a sibling folder of the tuned adapter) the tuned adapter was trained with.
    public static let loraComponentKey = "dpt.unet_lora"

    /// Loads the model folder (its trained U-Net) and prepares a run; see `init(config:model:adapterFolder:runDirectory:resume:)`.
    public convenience init(config: TuneConfig, modelFolder: URL, adapterFolder: URL, runDirectory: URL, resume: Bool) throws {
        try config.validate()
        try self.init(config: config, model: try ProbeModel(folder: modelFolder), adapterFolder: adapterFolder,
                      runDirectory: runDirectory, resume: resume)
    }

    /// Prepares a run of `config` tuning `model` (its trained U-Net, which must carry no LoRA yet: the adapters are
    /// attached here) with the stage-1 adapter in `adapterFolder`. A control adapter (trained on a random U-Net,
    /// weights metadata `dpt.random_unet_seed`) and an adapter that is itself a stage-2 output are refused. With
    /// `resume`, the newest complete checkpoint in `runDirectory` (if any) is loaded; its config must equal `config`
    /// except for `log_every`, `checkpoint_every`, `keep_checkpoints` and, for a constant learning rate, `steps`,
    /// and it must come from the same stage-1 adapter. Without `resume`, a folder holding checkpoints is refused.
    public init(config: TuneConfig, model: ProbeModel, adapterFolder: URL, runDirectory: URL, resume: Bool) throws {
        try config.validate()
        guard model.randomUNetSeed == nil else {
            throw AdapterTrainingError("stage 2 tunes the model's trained U-Net, but this model was loaded with a random U-Net (seed \(model.randomUNetSeed!))")
        }
        let t = model.numTrainTimesteps
        let hi = config.timestepMax ?? t
        guard hi <= t, config.timestepMin < hi else {
            throw AdapterTrainingError("tune config: timesteps \(config.timestepMin)..<\(hi) do not fit the schedule's \(t) training timesteps")
        }
        timestepRange = config.timestepMin..<hi
        self.config = config
        self.model = model
        self.runDirectory = runDirectory

        // The stage-1 adapter.
        stage1Folder = adapterFolder
        guard FileManager.default.fileExists(atPath: adapterFolder.appendingPathComponent("config.json").path) else {
            throw AdapterTrainingError("no stage-1 adapter in \(adapterFolder.path) (config.json missing): train one with `swift run -c release train-adapter probe` first")
        }
        let folder = ComponentFolder(adapterFolder)
        if let seed = try DiscriminativeAdapter.randomUNetSeed(in: folder) {
            throw AdapterTrainingError("the adapter in \(adapterFolder.path) is a control adapter trained on a random U-Net (\(DiscriminativeAdapter.randomUNetSeedKey) \(seed)); stage 2 tunes the model's trained U-Net: give an adapter trained by `train-adapter probe` without --random-unet-seed")
        }
        if let stage = try folder.weights(variant: nil).metadata[Self.stageKey], stage == "tune" {
            throw AdapterTrainingError("the adapter in \(adapterFolder.path) is a stage-2 (tune) output, trained with its own U-Net LoRA; stage 2 starts from a stage-1 (probe) adapter")
        }
        adapter = try DiscriminativeAdapter.load(from: folder)
        try adapter.checkFits(model.unet, source: "the adapter in \(adapterFolder.path)")
        stage1Fingerprint = try Self.fingerprint(of: adapterFolder.appendingPathComponent(DiscriminativeAdapter.weightsFileName))

        // Run folder and resume checks (before the model is changed).
        try FileManager.default.createDirectory(at: runDirectory, withIntermediateDirectories: true)
        let ckDir = runDirectory.appendingPathComponent("checkpoints")
        if !resume, !Checkpoint.list(in: ckDir).isEmpty {
            throw AdapterTrainingError("\(runDirectory.path) already holds checkpoints; pass --resume to continue, or use a new folder")
        }
        let latest = resume ? Checkpoint.latest(in: ckDir) : nil
        if let latest {
            let saved: TuneConfig
            do { saved = try TuneConfig.decode(overrides: latest.info.config) } catch {
                throw AdapterTrainingError("the checkpoint \(latest.url.lastPathComponent) in \(runDirectory.path) is not a stage-2 (tune) checkpoint: \(error)")
            }
            try AdapterRunCheckpoint.checkResumable(saved: saved, config: config, step: latest.info.step, checkpoint: latest.url)
            if let f = latest.info.extra["stage1_adapter_fingerprint"], f != stage1Fingerprint {
                throw AdapterTrainingError("the checkpoint \(latest.url.lastPathComponent) was tuned from another stage-1 adapter (\(latest.info.extra["stage1_adapter"] ?? "?"), fingerprint \(f)) than \(adapterFolder.path) (\(stage1Fingerprint)); resume with the same --adapter")
            }
        }

        // LoRA on the U-Net (base frozen), the trained parameters, the optimiser.
        guard model.unet.store.loraLayers().isEmpty else {
            throw AdapterTrainingError("the model's U-Net already carries LoRA adapters; load a fresh ProbeModel for each tuning run")
        }
        _ = model.unet.store.freeze()
        do {
            loraLayers = try UNetLoRA.attach(to: model.unet, config: config.loraConfig, seed: config.seed)
        } catch let e as ModelComponentError {
            throw AdapterTrainingError("tune config: lora_rank / lora_targets / lora_attention: \(e)")
        }
        var params = model.unet.store.adapterParameters().map { NamedParameter(name: "unet." + $0.name, variable: $0.variable) }
        if config.trainAdapter {
            _ = adapter.store.unfreeze()
            params += adapter.store.namedParameters().map { NamedParameter(name: "adapter." + $0.name, variable: $0.variable) }
        } else {
            _ = adapter.store.freeze()
        }
        parameters = params
        optimizer = AdamW(parameters: params, learningRate: config.learningRate, betas: (config.adamBeta1, config.adamBeta2),
                          weightDecay: config.weightDecay)
        discriminative = try DiscriminativeModel(denoiser: model.unet, adapter: adapter)
        data = ProbeData(world: model.world(seed: config.worldSeed), split: try config.split(),
                         wordTokens: model.wordTokens, contextLength: model.contextLength)
        if let latest { try restore(from: latest.url) }
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys]
        try AtomicFile.write(try enc.encode(config), to: runDirectory.appendingPathComponent("tune_config.json"))
    }

    /// The seed of step `step`'s random draws: `ProbeData.stepSeed` of the run seed mixed with a stage constant, so
    /// that a tuning run with the same seed as its probing run does not replay the probing run's noise.
    public static func stepSeed(_ seed: UInt64, step: Int) -> UInt64 {
        ProbeData.stepSeed(seed ^ 0x5455_4E45_5354_4147, step: step)   // "TUNESTAG"
    }

    /// FNV-1a 64 of a file's bytes, as 16 hex digits.
    public static func fingerprint(of url: URL) throws -> String {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw AdapterTrainingError("cannot read \(url.path): \(error.localizedDescription)")
        }
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        data.withUnsafeBytes { (b: UnsafeRawBufferPointer) in
            for byte in b { h = (h ^ UInt64(byte)) &* 0x100_0000_01b3 }
        }
        return String(format: "%016llx", h)
    }

    // MARK: Checkpoints

    /// Loads LoRA and adapter weights, optimiser state, step and data cursor from a checkpoint file.
    public func restore(from url: URL) throws {
        let (file, info) = try Checkpoint.load(url)
        let groups = try AdapterRunCheckpoint.split(file, url: url, prefixes: ["lora.", "adapter.", "opt."])
        do {
            try model.unet.store.loadLoRAStateDict(groups["lora."]!, strict: true)
            try adapter.store.loadStateDict(groups["adapter."]!, strict: true)
        } catch let e as StateDictError {
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
        let tensors = AdapterRunCheckpoint.join([("lora.", model.unet.store.loraStateDict()), ("adapter.", adapter.store.stateDict()),
                                                 ("opt.", optimizer.stateDict())])
        let info = CheckpointInfo(step: step, seed: config.seed, config: try config.json(), extra: [
            "data_cursor": String(dataCursor),
            "rng": "step s draws from TorchGenerator(TuneTrainer.stepSeed(seed, s)) (SplitMix64)",
            "model": model.folder.lastPathComponent,
            "stage1_adapter": stage1Folder.lastPathComponent,
            "stage1_adapter_fingerprint": stage1Fingerprint,
        ])
        return try Checkpoint.save(tensors, info: info, in: checkpointDirectory, keepLast: config.keepCheckpoints)
    }

    // MARK: Training

    /// The inputs of the current step's whole effective batch (from the data cursor and the step's generator) and
    /// the generator after drawing them (it then drives dropout); advances nothing.
    public func currentInputs() throws -> (inputs: ProbeInputs, next: Int, generator: TorchGenerator) {
        var g = TorchGenerator(seed: Self.stepSeed(config.seed, step: step))
        let (samples, next) = data.samples(from: dataCursor, count: config.effectiveBatchSize)
        let inputs = try ProbeInputs.make(samples: samples, model: model, data: data, timesteps: timestepRange,
                                          tokens: adapter.config.contrastiveAlign, generator: &g)
        return (inputs, next, g)
    }

    /// The loss terms of one micro-batch (dropout from `generator`): the tapped passes when ITM or REC counts, the
    /// full pass on (positive image, positive caption) when the MSE counts.
    public func losses(on inputs: ProbeInputs, generator: inout TorchGenerator) throws -> TuneTerms {
        var total: Variable? = nil
        func add(_ v: Variable, _ w: Double) { total = total.map { $0 + v * Float(w) } ?? v * Float(w) }
        var disc: ProbePlan.Terms? = nil
        if computesDiscriminativeTerms {
            let terms = try ProbePlan.losses(model: discriminative, recTargets: inputs.batch.recTargets, latents: inputs.latents, noise: inputs.noise,
                                             timesteps: inputs.timesteps, schedule: model.schedule, captions: inputs.captions,
                                             expressions: inputs.expressions, generator: &generator)
            if config.itmWeight > 0 { add(terms.i2t + terms.t2i, config.itmWeight) }
            if config.recWeight > 0 { add(terms.rec.total, config.recWeight) }
            disc = terms
        }
        var mse: Variable? = nil
        if computesDenoisingLoss {
            let positives = (0..<inputs.count).map { $0 * 3 }
            let clean = inputs.latents.indexSelect(axis: 0, indices: positives)
            let noisy = model.schedule.addNoise(original: clean, noise: inputs.noise, timesteps: inputs.timesteps)
            let context = inputs.captions.context.indexSelect(axis: 0, indices: positives)
            let prediction = model.unet.predict(Variable(noisy), timesteps: inputs.timesteps.map(Float.init), context: Variable(context))
            let target = DiffusionTraining.target(predictionType: model.predictionType, original: clean, noise: inputs.noise,
                                                  timesteps: inputs.timesteps, schedule: model.schedule)
            let m = DiffusionTraining.loss(prediction: prediction, target: target)
            add(m, config.mseWeight)
            mse = m
        }
        guard let total else { throw AdapterTrainingError("tune config: every loss weight is 0") }
        return TuneTerms(total: total, discriminative: disc, mse: mse)
    }

    /// One optimisation step on `inputs` (the effective batch: batch_size x gradient_accumulation samples, run as
    /// that many micro-batches; dropout from `generator`); does not move the step or the cursor.
    public func optimise(on inputs: ProbeInputs, generator: inout TorchGenerator) throws -> TuneStepResult {
        let micro = config.gradientAccumulation, b = config.batchSize
        guard inputs.count == micro * b else {
            throw AdapterTrainingError("a step takes batch_size x gradient_accumulation = \(micro * b) samples, got \(inputs.count)")
        }
        adapter.setTraining(config.trainAdapter)
        optimizer.zeroGrad()
        var r = TuneStepResult(loss: 0, i2t: 0, t2i: 0, rec: 0, mse: 0, recClass: 0, recL1: 0, recGIoU: 0, itmAccuracy: 0, gradNorm: 0)
        let share = 1 / Float(micro)
        var firsts = 0
        // On the last step of a log window: each term's gradient on the LoRA (extra backward passes that
        // accumulate nothing; the graph is kept for the real pass).
        let measure = (step + 1) % config.logEvery == 0
        let loraVariables = model.unet.store.adapterParameters().map(\.variable)
        var termGrads: [String: [Tensor]] = [:]
        for k in 0..<micro {
            let part = micro == 1 ? inputs : inputs.rows((k * b)..<((k + 1) * b))
            let terms = try losses(on: part, generator: &generator)
            let value = terms.total.value.item()
            guard value.isFinite else { throw AdapterTrainingError("loss is \(value) at step \(step) (micro-batch \(k))") }
            if measure {
                var named: [(String, Variable, Double)] = []
                if let d = terms.discriminative {
                    if config.itmWeight > 0 { named.append(("itm", d.i2t + d.t2i, config.itmWeight)) }
                    if config.recWeight > 0 { named.append(("rec", d.rec.total, config.recWeight)) }
                }
                if let m = terms.mse, config.mseWeight > 0 { named.append(("mse", m, config.mseWeight)) }
                for (name, term, w) in named {
                    let g = gradients(of: term * (Float(w) * share), withRespectTo: loraVariables, retainGraph: true)
                    termGrads[name] = termGrads[name].map { zip($0, g).map { $0 + $1 } } ?? g
                }
            }
            (micro == 1 ? terms.total : terms.total * share).backward()
            r.loss += value * share
            if let d = terms.discriminative {
                r.i2t += d.i2t.value.item() * share
                r.t2i += d.t2i.value.item() * share
                r.rec += d.rec.total.value.item() * share
                r.recClass += d.rec.classification.value.item() * share
                r.recL1 += d.rec.boxL1.value.item() * share
                r.recGIoU += d.rec.giou.value.item() * share
                for scores in [d.i2tScores.scalars, d.t2iScores.scalars] {
                    for s in 0..<b where scores[s * 3] > scores[s * 3 + 1] && scores[s * 3] > scores[s * 3 + 2] { firsts += 1 }
                }
            }
            if let m = terms.mse { r.mse += m.value.item() * share }
        }
        r.itmAccuracy = Float(firsts) / Float(2 * micro * b)
        r.gradNorm = GradientClipping.clipGradNorm(parameters, maxNorm: config.gradClipNorm)
        optimizer.learningRate = config.learningRateSchedule.learningRate(baseLR: config.learningRate, step: step)
        let before = measure ? loraVariables.map { Tensor(copying: $0.value) } : []
        optimizer.step()
        optimizer.zeroGrad()
        if measure {
            r.loraTermGradNorms = termGrads.mapValues { l2Norm($0) }
            r.loraUpdateNorm = l2Norm(zip(loraVariables, before).map { $0.0.value - $0.1 })
            r.loraRelativeDelta = Self.relativeDelta(loraLayers)
        }
        return r
    }

    /// ||scale B A||_F / ||W||_F of each adapted layer: mean and max (0 for a fresh LoRA, whose B is zero).
    public static func relativeDelta(_ layers: [Linear]) -> (mean: Float, max: Float) {
        let ratios = layers.compactMap { l -> Float? in
            guard let lora = l.lora else { return nil }
            let w = l2Norm([l.weight.value])
            return w > 0 ? l2Norm([lora.deltaWeight]) / w : nil
        }
        guard !ratios.isEmpty else { return (0, 0) }
        return (ratios.reduce(0, +) / Float(ratios.count), ratios.max()!)
    }

    /// One step of the run: the current step's batch, then step and cursor move on.
    @discardableResult
    public func trainStep() throws -> TuneStepResult { try stageStep() }

    /// Trains until `config.steps` (or `stopAfter` steps in total, e.g. to simulate an interruption), writing
    /// checkpoints, metrics and the loss plot; at `config.steps` writes `adapter/` and `unet_lora/` into the run folder.
    public func run(stopAfter: Int? = nil) throws { try runStage(stopAfter: stopAfter) }

    var stageSteps: Int { config.steps }
    var stageLogEvery: Int { config.logEvery }
    var stageCheckpointEvery: Int { config.checkpointEvery }

    func logRecord(_ window: [TuneStepResult], secondsPerStep sps: Double, etaSeconds eta: Double) -> (line: String, values: [String: Double]) {
        func mean(_ f: (TuneStepResult) -> Float) -> Double { windowMean(window, f) }
        let disc = computesDiscriminativeTerms, den = computesDenoisingLoss
        let lr = config.learningRateSchedule.learningRate(baseLR: config.learningRate, step: step - 1)
        let p = TuneProgress(step: step, totalSteps: config.steps, loss: mean(\.loss), i2t: disc ? mean(\.i2t) : nil,
                             t2i: disc ? mean(\.t2i) : nil, rec: disc ? mean(\.rec) : nil, mse: den ? mean(\.mse) : nil,
                             itmAccuracy: disc ? mean(\.itmAccuracy) : nil, learningRate: lr, gradNorm: mean(\.gradNorm),
                             samplesPerSecond: Double(config.effectiveBatchSize) / sps, secondsPerStep: sps, etaSeconds: eta)
        var record: [String: Double] = ["loss": p.loss, "lr": lr, "grad_norm": p.gradNorm,
                                        "samples_per_second": p.samplesPerSecond, "seconds_per_step": sps]
        if disc {
            record["i2t"] = p.i2t; record["t2i"] = p.t2i; record["rec"] = p.rec
            record["rec_class"] = mean(\.recClass); record["rec_l1"] = mean(\.recL1); record["rec_giou"] = mean(\.recGIoU)
            record["itm_train_accuracy"] = p.itmAccuracy
        }
        if den { record["mse"] = p.mse }
        // The window's measured steps (normally its last).
        let measured = window.compactMap(\.loraTermGradNorms)
        for key in Set(measured.flatMap(\.keys)) {
            let v = measured.compactMap { $0[key] }
            record["grad_norm_lora_" + key] = v.reduce(0) { $0 + Double($1) } / Double(v.count)
        }
        if let u = window.last(where: { $0.loraUpdateNorm != nil }) {
            record["lora_update_norm"] = Double(u.loraUpdateNorm!)
            record["lora_delta_rel_mean"] = Double(u.loraRelativeDelta!.mean)
            record["lora_delta_rel_max"] = Double(u.loraRelativeDelta!.max)
        }
        return (p.line, record)
    }

    func finish() throws {
        try saveOutputs()
        output("tuned adapter written to \(adapterDirectory.path), U-Net LoRA to \(loraDirectory.path)")
    }

    /// The run's one-line description (printed at the start).
    public var summary: String {
        let loraCount = model.unet.store.adapterParameters().reduce(0) { $0 + $1.variable.value.count }
        var terms: [String] = []
        if config.itmWeight > 0 { terms.append("\(config.itmWeight) x ITM") }
        if config.recWeight > 0 { terms.append("\(config.recWeight) x REC") }
        if config.mseWeight > 0 { terms.append("\(config.mseWeight) x MSE (\(model.predictionType.rawValue) target)") }
        return "LoRA r \(config.loraRank) (alpha \(config.loraConfig.loraAlpha)) on \(loraLayers.count) projections "
            + "(\(config.loraTargets.joined(separator: ", ")) of \(config.loraAttention.joined(separator: "+"))): \(loraCount) parameters; "
            + "U-Net base frozen; adapter on \(adapter.config.featureTaps.joined(separator: "+")) (\(adapter.store.parameterCount()) parameters) "
            + "\(config.trainAdapter ? "trained" : "frozen"); loss \(terms.joined(separator: " + ")); batch \(config.batchSize) x "
            + "\(config.gradientAccumulation) accumulation, \(config.steps) steps, \(config.lrSchedule) lr \(config.learningRate), "
            + "t in \(timestepRange.lowerBound)..<\(timestepRange.upperBound)"
    }

    /// Writes `adapter/` (the tuned adapter; metadata: stage tune, step, taps, the LoRA component, the stage-1
    /// fingerprint) and `unet_lora/` (`UNetLoRA.save`) into the run folder.
    public func saveOutputs() throws {
        try saveAdapter(to: ComponentFolder(adapterDirectory))
        try saveLoRA(to: loraDirectory)
    }

    /// Saves the tuned adapter as a model-folder component.
    public func saveAdapter(to folder: ComponentFolder) throws {
        try adapter.save(to: folder, metadata: [
            Self.stageKey: "tune", "dpt.step": String(step), "dpt.feature_taps": adapter.config.featureTaps.joined(separator: "+"),
            Self.loraComponentKey: UNetLoRA.componentName, "dpt.lora_rank": String(config.loraRank),
            "dpt.stage1_adapter_fingerprint": stage1Fingerprint,
        ])
    }

    /// Saves the U-Net LoRA (`UNetLoRA.save`) into `folder`.
    public func saveLoRA(to folder: URL) throws {
        try UNetLoRA.save(model.unet, config: config.loraConfig, to: folder,
                          metadata: [Self.stageKey: "tune", "dpt.step": String(step)])
    }

    /// `loss.png` from `metrics.jsonl`: total and the computed terms (log scale, smoothed).
    public func writeLossPlot() throws {
        try metrics?.sync()
        var keys = ["loss"]
        if computesDiscriminativeTerms { keys += ["i2t", "t2i", "rec"] }
        if computesDenoisingLoss { keys.append("mse") }
        try RunMetrics.plot(metrics: metricsURL, keys: keys,
                            title: "train-adapter tune loss (LoRA r \(config.loraRank), \(adapter.config.featureTaps.joined(separator: "+")))",
                            to: runDirectory.appendingPathComponent("loss.png"))
    }
}

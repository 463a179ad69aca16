import Autodiff
import DataIO
import Diffusion
import Foundation
import NN
import RunLoop
import ShapesWorld
import Tensor
import TextEncoder
import Tokenizer

/// What one logged window of training reports.
public struct TrainingProgress: Sendable {
    public var step: Int
    public var totalSteps: Int
    /// Mean loss over the window.
    public var loss: Double
    public var learningRate: Double
    public var gradNorm: Double
    public var imagesPerSecond: Double
    /// Seconds per step over the window.
    public var secondsPerStep: Double
    public var etaSeconds: Double

    /// The progress line: `step 120/3000  loss 0.0812  lr 4.9e-04  |g| 0.31  21.4 img/s  0.75 s/step  ETA 36:02`.
    public var line: String {
        let eta = Int(etaSeconds.rounded())
        let etaText = eta >= 3600 ? String(format: "%d:%02d:%02d", eta / 3600, eta / 60 % 60, eta % 60)
                                  : String(format: "%d:%02d", eta / 60, eta % 60)
        return String(format: "step %d/%d  loss %.4f  lr %.2e  |g| %.3f  %.1f img/s  %.3f s/step  ETA %@",
                      step, totalSteps, loss, learningRate, gradNorm, imagesPerSecond, secondsPerStep, etaText)
    }
}

/// The training loop of a text-to-image model on ShapesWorld: DDPM objective (v, epsilon or x0; min-SNR weights), caption dropout, AdamW with
/// warm-up and decay, global gradient clipping, EMA weights; resumable bit for bit from atomic checkpoints.
///
/// Run folder: `train_config.json`, `tokenizer/` (fitted once), `checkpoints/checkpoint-<step>.safetensors`
/// (weights, EMA, optimiser state; the data position and every random draw follow from the step),
/// `metrics.jsonl`, `loss.png`, `samples/step-<step>.png` (+ `.txt` with the prompts), and at the end `model/`
/// (diffusers layout, EMA weights).
public final class T2ITrainer {
    public let config: T2IConfig
    public let runDirectory: URL
    public let model: T2IModel
    public let optimizer: AdamW
    public let ema: ExponentialMovingAverage
    public let data: TrainingData
    public let parameters: [NamedParameter]
    /// The linear head of the auxiliary caption-attribute loss (`text_parse_weight` > 0): text hidden size ->
    /// `CaptionAttributes.width`, parameters `text_parse_head.weight`/`.bias`. Trained and checkpointed, never part
    /// of the model folder.
    public let parseHead: Linear?
    /// The training noise schedule (betas of the model's scheduler configuration).
    public let schedule: NoiseSchedule
    /// Steps completed.
    public private(set) var step: Int = 0
    /// Where progress lines and notices go (stderr by default).
    public var output: (String) -> Void = { FileHandle.standardError.write(Data(($0 + "\n").utf8)) }
    /// The step the run resumed from (nil for a fresh run).
    public private(set) var resumedFrom: Int?

    private var metrics: MetricsLogWriter?
    /// The caption-attribute loss of the last step (before its weight; nil when off).
    public private(set) var lastParseLoss: Float?

    public var checkpointDirectory: URL { runDirectory.appendingPathComponent("checkpoints") }
    public var modelDirectory: URL { runDirectory.appendingPathComponent("model") }

    /// Prepares a run in `runDirectory`. With `resume`, the newest complete checkpoint there (if any) is loaded;
    /// its configuration must equal `config` (the error lists the keys that differ).
    public init(config: T2IConfig, runDirectory: URL, resume: Bool) throws {
        try config.validate()
        let fm = FileManager.default
        try fm.createDirectory(at: runDirectory, withIntermediateDirectories: true)
        self.config = config
        self.runDirectory = runDirectory
        let ckDir = runDirectory.appendingPathComponent("checkpoints")
        let latest = resume ? Checkpoint.latest(in: ckDir) : nil
        if !resume, !Checkpoint.list(in: ckDir).isEmpty {
            throw T2ITrainingError("\(runDirectory.path) already holds checkpoints; pass --resume to continue, or use a new folder")
        }
        if let latest {
            let saved = try T2IConfig.decode(overrides: latest.info.config)
            let a = try saved.json().objectValue ?? [:], b = try config.json().objectValue ?? [:]
            let diff = a.keys.filter { a[$0] != b[$0] && !T2IConfig.bookkeepingKeys.contains($0) }.sorted()
            if !diff.isEmpty {
                throw T2ITrainingError("the checkpoint \(latest.url.lastPathComponent) was written with a different config (keys: \(diff.joined(separator: ", "))); resume with the same settings")
            }
        }

        // Tokenizer: fitted once per run folder, reused on resume.
        let tokDir = runDirectory.appendingPathComponent("tokenizer")
        let tokenizer: CLIPTokenizer
        if fm.fileExists(atPath: tokDir.appendingPathComponent("vocab.json").path) {
            tokenizer = try CLIPTokenizer(folder: tokDir.path)
        } else {
            tokenizer = try CaptionTokenizer.fit(config)
            try tokenizer.write(toFolder: tokDir.path)
        }
        model = try T2IModel(config: config, tokenizer: tokenizer)
        if !config.trainTextEncoder { _ = model.textEncoder.store.freeze() }
        // Optimised (and EMA-averaged) parameters; a frozen text encoder keeps its initial weights.
        var params = model.namedParameters.filter { $0.variable.requiresGrad }
        if config.textParseWeight > 0 {
            let store = ParameterStore(generator: TorchGenerator(seed: config.seed &+ 2))
            let head = Linear(store.root.pp("text_parse_head"), inFeatures: config.textHiddenSize, outFeatures: CaptionAttributes.width)
            parseHead = head
            params += store.namedParameters()
        } else {
            parseHead = nil
        }
        parameters = params
        optimizer = AdamW(parameters: parameters, learningRate: config.learningRate,
                          betas: (config.adamBeta1, config.adamBeta2), weightDecay: config.weightDecay)
        if config.trainTextEncoder && config.textEncoderLRScale != 1 {
            for p in parameters where p.name.hasPrefix("text_encoder.") { optimizer.learningRateScales[p.name] = config.textEncoderLRScale }
        }
        ema = ExponentialMovingAverage(parameters: parameters, decay: config.emaDecay)
        data = TrainingData(config: config)
        schedule = NoiseSchedule(config: model.scheduler)

        if let latest { try restore(from: latest.url) }
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys]
        try enc.encode(config).write(to: runDirectory.appendingPathComponent("train_config.json"), options: .atomic)
    }

    // MARK: Checkpoints

    /// Loads weights, EMA and optimiser state from a checkpoint file.
    public func restore(from url: URL) throws {
        let (file, info) = try Checkpoint.load(url)
        let groups = try Checkpoint.tensorGroups(file, prefixes: ["model.", "ema.", "opt.", "head."])
        try model.load(groups["model."]!)
        let head = groups["head."]!
        for p in parameters where p.name.hasPrefix("text_parse_head.") {
            guard let v = head[p.name], v.shape == p.variable.shape else {
                throw T2ITrainingError("checkpoint \(url.lastPathComponent) lacks head.\(p.name) \(p.variable.shape) (text_parse_weight > 0)")
            }
            p.variable.value = v
        }
        guard let n = info.extra["ema_updates"].flatMap(Int.init) else {
            throw T2ITrainingError("checkpoint \(url.lastPathComponent) lacks the ema_updates metadata")
        }
        try ema.load(groups["ema."]!, updates: n)
        try optimizer.loadStateDict(groups["opt."]!)
        step = info.step
        resumedFrom = info.step
    }

    /// Writes the checkpoint of the current step atomically (keeping the newest `keepCheckpoints`).
    @discardableResult
    public func saveCheckpoint() throws -> URL {
        var tensors: [String: Tensor] = [:]
        for p in model.namedParameters { tensors["model." + p.name] = p.variable.value }
        for (k, v) in ema.stateDict { tensors["ema." + k] = v }
        for (k, v) in optimizer.stateDict() { tensors["opt." + k] = v }
        for p in parameters where p.name.hasPrefix("text_parse_head.") { tensors["head." + p.name] = p.variable.value }
        let info = CheckpointInfo(step: step, seed: config.seed, config: try config.json(),
                                  extra: ["ema_updates": String(ema.updates), "data_cursor": String(step * config.batchSize)])
        return try Checkpoint.save(tensors, info: info, in: checkpointDirectory, keepLast: config.keepCheckpoints)
    }

    /// The EMA weights by parameter name.
    public var emaWeights: [String: Tensor] {
        var d = ema.stateDict
        for p in model.namedParameters where d[p.name] == nil { d[p.name] = p.variable.value }   // frozen parts
        return d
    }

    // MARK: Training

    /// One optimisation step on the batch of the current step; returns the loss (the denoising loss, plus
    /// `text_parse_weight` x the caption-attribute loss when on) and the gradient norm before clipping.
    @discardableResult
    public func trainStep() throws -> (loss: Float, gradNorm: Float) {
        let batch = data.batch(step: step)
        let noisy = DiffusionTraining.addNoise(original: batch.images, noise: batch.noise, timesteps: batch.timesteps, schedule: schedule)
        let context = try model.encode(batch.captions)
        let pred = model.unet.predict(Variable(noisy), timesteps: batch.timesteps.map(Float.init), context: context)
        let target = DiffusionTraining.target(predictionType: config.prediction, original: batch.images,
                                              noise: batch.noise, timesteps: batch.timesteps, schedule: schedule)
        let weights = config.snrGamma > 0
            ? DiffusionTraining.minSNRWeights(timesteps: batch.timesteps, schedule: schedule, gamma: Float(config.snrGamma),
                                              predictionType: config.prediction)
            : nil
        var loss = DiffusionTraining.loss(prediction: pred, target: target, weights: weights)
        if let head = parseHead {
            // The state of the last context position (a padding / end token that attends to the whole caption).
            let n = context.shape[0], l = context.shape[1]
            let pooled = context.sliced(axis: 1, start: l - 1, end: l).reshaped([n, context.shape[2]])
            let labels = try zip(batch.captions, batch.meanings).map { $0.0.isEmpty ? nil : try CaptionAttributes.labels($0.1) }
            if let parse = CaptionAttributes.loss(logits: head(pooled), labels: labels) {
                lastParseLoss = parse.value.item()
                loss = loss + parse * Float(config.textParseWeight)
            }
        }
        let value = loss.value.item()
        guard value.isFinite else { throw T2ITrainingError("loss is \(value) at step \(step)") }
        optimizer.zeroGrad()
        loss.backward()
        let norm = GradientClipping.clipGradNorm(parameters, maxNorm: config.gradClipNorm)
        optimizer.learningRate = config.learningRateSchedule.learningRate(baseLR: config.learningRate, step: step)
        optimizer.step()
        optimizer.zeroGrad()
        ema.update()
        step += 1
        return (value, norm)
    }

    /// Trains until `config.steps` (or until `stopAfter` steps in total, to simulate an interruption), writing
    /// checkpoints, metrics, the loss plot and sample grids on the way; at `config.steps` writes `model/`.
    public func run(stopAfter: Int? = nil) throws {
        let target = Swift.min(config.steps, stopAfter ?? config.steps)
        let metricsURL = runDirectory.appendingPathComponent("metrics.jsonl")
        try RunMetrics.trim(at: metricsURL, after: step)
        metrics = try MetricsLogWriter(url: metricsURL)
        if let r = resumedFrom { output("resumed from step \(r) (\(checkpointDirectory.path))") }
        output("model: \(model.parameterCount) parameters (U-Net \(model.unet.store.parameterCount()), text encoder \(model.textEncoder.store.parameterCount())), batch \(config.batchSize), \(config.steps) steps")
        typealias StepResult = (loss: Float, norm: Float, parse: Float?)
        let loop = RunLoop<StepResult>(target: target, totalSteps: config.steps, logEvery: config.logEvery,
                                       checkpointEvery: config.checkpointEvery, checkpointAtTarget: false,
                                       periodic: [.init(every: config.sampleEvery) {
                                           let url = try self.writeSampleGrid()
                                           self.output("samples \(url.lastPathComponent)")
                                           try self.logTextSeparation()
                                       }])
        try loop.run(step: { step }, trainStep: {
            let (loss, norm) = try trainStep()
            return (loss, norm, lastParseLoss)
        }, log: { window, sps, eta in
            let n = Double(window.count)
            let lr = config.learningRateSchedule.learningRate(baseLR: config.learningRate, step: step - 1)
            let p = TrainingProgress(step: step, totalSteps: config.steps, loss: window.reduce(0) { $0 + Double($1.loss) } / n,
                                     learningRate: lr, gradNorm: window.reduce(0) { $0 + Double($1.norm) } / n,
                                     imagesPerSecond: Double(config.batchSize) / sps, secondsPerStep: sps, etaSeconds: eta)
            var record = ["loss": p.loss, "lr": lr, "grad_norm": p.gradNorm, "images_per_second": p.imagesPerSecond,
                          "seconds_per_step": sps]
            let parses = window.compactMap(\.parse)
            if !parses.isEmpty {
                let parse = parses.reduce(0) { $0 + Double($1) } / Double(parses.count)
                record["text_parse_loss"] = parse
                output(p.line + String(format: "  parse %.3f", parse))
            } else {
                output(p.line)
            }
            try metrics?.log(step: step, record)
        }, checkpoint: {
            let url = try saveCheckpoint()
            try writeLossPlot()
            output("checkpoint \(url.lastPathComponent)")
        })
        if step == config.steps {
            try writeModel(to: modelDirectory)
            output("model written to \(modelDirectory.path)")
        }
        try metrics?.sync()
        metrics?.close()
        metrics = nil
    }

    // MARK: Outputs

    /// `loss.png` from `metrics.jsonl` (log scale, smoothed).
    public func writeLossPlot() throws {
        try metrics?.sync()
        try RunMetrics.plot(metrics: runDirectory.appendingPathComponent("metrics.jsonl"), keys: ["loss"],
                            title: "train-t2i loss (\(config.predictionType) MSE\(config.snrGamma > 0 ? ", min-SNR weighted" : ""))",
                            to: runDirectory.appendingPathComponent("loss.png"))
    }

    /// The fixed prompts of the progress grids: the first prompt of each category of the `id` suite.
    public static func gridPrompts() throws -> [String] {
        try PromptSuite.load(.id).firstPrompts(perCategory: 1).map(\.text)
    }

    /// Samples the grid prompts (2 seeds each, EMA weights) into `samples/step-<step>.png` (+ `.txt`).
    @discardableResult
    public func writeSampleGrid(seedsPerPrompt: Int = 2) throws -> URL {
        let prompts = try Self.gridPrompts()
        var ps: [String] = [], seeds: [UInt64] = []
        for (i, p) in prompts.enumerated() { for s in 0..<seedsPerPrompt { ps.append(p); seeds.append(UInt64(1000 * i + s)) } }
        let images = try model.withWeights(emaWeights) {
            try model.sample(prompts: ps, seeds: seeds, steps: config.sampleSteps,
                                  guidanceScale: Float(config.guidanceScale), imageSize: config.imageSize)
        }
        let dir = runDirectory.appendingPathComponent("samples")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let name = String(format: "step-%08d", step)
        let url = dir.appendingPathComponent(name + ".png")
        try PNG.write(try ImageGrid.make(batch: Tensor.upsampleNearest(images, scale: 2), columns: seedsPerPrompt * 2), to: url)
        let text = prompts.enumerated().map { "row \($0.offset / 2 + 1), \($0.offset % 2 == 0 ? "left" : "right"): \($0.element)" }
        try (text.joined(separator: "\n") + "\n").write(to: dir.appendingPathComponent(name + ".txt"), atomically: true, encoding: .utf8)
        return url
    }

    /// The metrics key of an attribute's text-encoder separation ("left/right" -> "text_separation_left_right").
    public static func separationKey(_ attribute: String) -> String {
        "text_separation_" + attribute.replacingOccurrences(of: "/", with: "_")
    }

    /// Logs `TextEncoderSeparation` of the EMA text encoder at this step (metrics.jsonl, one record with a key per
    /// attribute), prints it, and redraws `text-separation.png` (every attribute against the step).
    public func logTextSeparation() throws {
        let rows = try model.withWeights(emaWeights) { try TextEncoderSeparation.measure(model: model) }
        var values: [String: Double] = [:]
        for r in rows { values[Self.separationKey(r.attribute)] = r.separation }
        let url = runDirectory.appendingPathComponent("metrics.jsonl")
        let writer = try metrics ?? MetricsLogWriter(url: url)   // outside `run`, appended to the same log
        try writer.log(step: step, values)
        try writer.sync()
        if writer !== metrics { writer.close() }
        output("text separation " + rows.map { "\($0.attribute) \(String(format: "%.3f", $0.separation))" }.joined(separator: ", "))
        let records = try MetricsLog.read(url)
        var chart = LineChart(title: "text encoder separation (EMA weights; 0 = the word is ignored)", logY: false, smoothing: 0)
        for r in rows {
            let series = MetricsLog.series(records, key: Self.separationKey(r.attribute))
            guard series.x.count >= 2 else { return }
            chart.add(r.attribute, x: series.x, y: series.y)
        }
        try chart.write(to: runDirectory.appendingPathComponent("text-separation.png"))
    }

    /// Writes the diffusers model folder with the EMA weights.
    public func writeModel(to url: URL) throws {
        try model.withWeights(emaWeights) { try model.write(to: url) }
    }
}


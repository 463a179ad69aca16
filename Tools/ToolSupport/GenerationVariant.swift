import ArgumentParser
import Diffusion
import DiscriminativeAdapter
import Foundation
import Pipeline
import SelfCorrection

/// How one sampled variant is composed from the command line: which U-Net LoRA it merges and whether it
/// self-corrects with which adapter. `sample` and `evaluate generation` load their pipeline through it.
public struct GenerationVariant {
    public enum LoRAChoice: Equatable, Sendable {
        /// `<model>/unet_lora` when that folder exists, else none.
        case automatic
        case folder(URL)
        case none
    }

    /// The label of the variant in result files and tables.
    public var name: String
    public var lora: LoRAChoice
    /// DPT's self-correction settings, or nil for plain sampling.
    public var selfCorrection: SelfCorrectionSettings?
    /// The adapter folder self-correction scores with (nil: `<model>/adapter`).
    public var adapter: URL?

    public init(name: String, lora: LoRAChoice = .automatic, selfCorrection: SelfCorrectionSettings? = nil, adapter: URL? = nil) {
        self.name = name
        self.lora = lora
        self.selfCorrection = selfCorrection
        self.adapter = adapter
    }

    /// The settings of the command-line flags `--eta E [--eta-steps K] [--correction-mode release|paper]`: eta at
    /// every step, or for the first K steps only.
    public static func selfCorrectionSettings(eta: Float, etaSteps: Int?, mode: String) throws -> SelfCorrectionSettings {
        guard eta.isFinite else { throw SelfCorrectionError("eta", "--eta must be a finite number, got \(eta)") }
        if let k = etaSteps, k < 0 { throw SelfCorrectionError("eta steps", "--eta-steps must be at least 0, got \(k)") }
        guard let m = CorrectionMode(rawValue: mode) else {
            throw SelfCorrectionError("mode", "--correction-mode '\(mode)' is unknown; modes: \(CorrectionMode.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return SelfCorrectionSettings(eta: etaSteps.map { .firstSteps(eta, count: $0) } ?? .constant(eta), mode: m)
    }

    /// The LoRA folder this variant merges for `model`, or nil. An explicit folder must exist.
    public func loraFolder(model: URL) throws -> URL? {
        switch lora {
        case .none: return nil
        case let .folder(url):
            guard FileManager.default.fileExists(atPath: url.appendingPathComponent(UNetLoRA.configFileName).path) else {
                throw ModelLoadError(folder: url.path, component: UNetLoRA.componentName,
                                     "no U-Net LoRA here (\(UNetLoRA.configFileName) missing): pass the unet_lora folder of a tuning run, or --no-lora")
            }
            return url
        case .automatic:
            let url = model.appendingPathComponent(UNetLoRA.componentName)
            var isDir: ObjCBool = false
            return FileManager.default.fileExists(atPath: url.path, isDirectory: &isDir) && isDir.boolValue ? url : nil
        }
    }

    /// The adapter folder self-correction uses for `model`.
    public func adapterFolder(model: URL) -> URL {
        adapter ?? model.appendingPathComponent(DiscriminativeAdapter.componentName)
    }

    /// A loaded variant: the pipeline (LoRA merged) and, with self-correction, the corrector on an `AdapterScorer`
    /// that reads the pipeline's own U-Net.
    public struct Loaded {
        public let name: String
        public let pipeline: StableDiffusionPipeline
        public let corrector: SelfCorrector?
        public let scorer: AdapterScorer?
        public let loraFolder: URL?
        public let adapterFolder: URL?
    }

    /// Loads `model` (with `scheduler` and weight file `weightsVariant` as `StableDiffusionPipeline` takes them),
    /// merges the LoRA and loads the adapter. Errors name the folder at fault.
    public func load(model: URL, scheduler: String? = nil, weightsVariant: String? = nil) throws -> Loaded {
        let lora = try loraFolder(model: model)
        let adapterURL = selfCorrection == nil ? nil : adapterFolder(model: model)
        if let adapterURL { try AdapterScorer.requireAdapter(in: adapterURL) }   // before the slower model load
        let pipeline = try StableDiffusionPipeline(folder: model, scheduler: scheduler, variant: weightsVariant)
        if let lora { try pipeline.loadLoRA(from: lora) }
        guard let settings = selfCorrection, let adapterURL else {
            return Loaded(name: name, pipeline: pipeline, corrector: nil, scorer: nil, loraFolder: lora, adapterFolder: nil)
        }
        let scorer = try AdapterScorer.load(adapter: adapterURL, unet: pipeline.unet, textWidth: pipeline.textEncoder.config.hiddenSize)
        return Loaded(name: name, pipeline: pipeline, corrector: SelfCorrector(scorer: scorer, settings: settings), scorer: scorer,
                      loraFolder: lora, adapterFolder: adapterURL)
    }
}

/// The command-line options that compose a `GenerationVariant` (`sample`, `evaluate generation`).
public struct VariantOptions: ParsableArguments {
    @Option(help: "U-Net LoRA folder to merge (default: <model>/unet_lora when it exists).") public var lora: String?
    @Flag(name: .customLong("no-lora"), help: "Do not merge any LoRA, not even <model>/unet_lora.") public var noLoRA = false
    @Flag(name: .customLong("self-correct"), help: "DPT self-correction with the adapter's matching score.") public var selfCorrect = false
    @Option(help: "Self-correction strength eta (default 0.5).") public var eta: Float?
    @Option(name: .customLong("eta-steps"), help: "Self-correct only the first K denoising steps (default: every step).")
    public var etaSteps: Int?
    @Option(name: .customLong("correction-mode"),
            help: "release (the scheduler steps from the uncorrected latent, as the authors' code) or paper (from the corrected one). Default release.")
    public var correctionMode: String?
    @Option(help: "Adapter folder for self-correction (default: <model>/adapter).") public var adapter: String?

    public init() {}

    public func validate() throws {
        try OptionCheck.number("--eta", eta, .atLeast(0))
        try OptionCheck.integer("--eta-steps", etaSteps, .atLeast(0))
        if lora != nil && noLoRA { throw ValidationError("--lora and --no-lora exclude each other") }
        if !selfCorrect {
            let given = [eta.map { _ in "--eta" }, etaSteps.map { _ in "--eta-steps" }, correctionMode.map { _ in "--correction-mode" },
                         adapter.map { _ in "--adapter" }].compactMap { $0 }
            if !given.isEmpty { throw ValidationError("\(given.joined(separator: ", ")) only take effect with --self-correct") }
        } else {
            do { _ = try variant(name: "check") } catch { throw ValidationError("\(error)") }
        }
    }

    /// The variant these options describe.
    public func variant(name: String) throws -> GenerationVariant {
        let choice: GenerationVariant.LoRAChoice = noLoRA ? .none : lora.map { .folder(URL(fileURLWithPath: $0)) } ?? .automatic
        let settings = selfCorrect
            ? try GenerationVariant.selfCorrectionSettings(eta: eta ?? 0.5, etaSteps: etaSteps, mode: correctionMode ?? "release") : nil
        return GenerationVariant(name: name, lora: choice, selfCorrection: settings, adapter: adapter.map { URL(fileURLWithPath: $0) })
    }
}

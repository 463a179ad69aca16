import ArgumentParser
import DataIO
import Foundation

/// Model-folder options every tool shares: where the bundled model is, and the sampling settings a trained
/// model folder records.
public enum ModelOptions {
    /// The bundled text-to-image model, relative to the repository root.
    public static let bundledModel = "Models/shapes-t2i"

    /// `given` (a --model value), or the bundled model found from the working directory or from up to six folders
    /// above the executable. Throws saying how to get one when it is not there.
    public static func modelFolder(_ given: String?) throws -> URL {
        if let given { return URL(fileURLWithPath: given) }
        var candidates = [URL(fileURLWithPath: FileManager.default.currentDirectoryPath)]
        var dir = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        for _ in 0..<6 {
            candidates.append(dir)
            dir = dir.deletingLastPathComponent()
        }
        for c in candidates {
            let url = c.appendingPathComponent(bundledModel)
            if FileManager.default.fileExists(atPath: url.appendingPathComponent("model_index.json").path) { return url }
        }
        throw ValidationError("the bundled model \(bundledModel) does not exist yet (it is trained with train-t2i and committed under Models/); pass --model DIR with a diffusers model folder")
    }

    /// The sampling settings of a model folder trained by train-t2i: `sample_steps` and `guidance_scale` of its
    /// `train_config.json` (what it was evaluated with), each defaulting to 20 and 3 when the file lacks it; nil
    /// without the file (e.g. a diffusers Stable Diffusion folder: callers then use diffusers' 50 and 7.5). A
    /// malformed file or key throws, naming it.
    public static func samplingDefaults(model: URL) throws -> (steps: Int, guidanceScale: Float)? {
        try ModelFolder.samplingDefaults(in: model, fallback: (20, 3))
    }
}

/// Denoising steps and guidance as the sampling tools take them (`sample`, `demo`, `t2i-evaluate`,
/// `evaluate generation`): given values win, then the model folder's `train_config.json`, then `fallback`.
public struct SamplingOptions: ParsableArguments {
    @Option(help: "Denoising steps (default: the model's train_config.json sample_steps, else the tool's default).")
    public var steps: Int?
    @Option(help: "Classifier-free guidance scale, >= 0; <= 1 turns guidance off (default: the model's train_config.json guidance_scale, else the tool's default).")
    public var guidance: Float?
    @Option(name: .customLong("guidance-rescale"), help: "diffusers' guidance_rescale in 0...1 (Lin et al. 2023; 0 = off).")
    public var guidanceRescale: Float = 0

    public init() {}

    public func validate() throws {
        try OptionCheck.sampling(steps: steps, guidance: guidance, guidanceRescale: guidanceRescale)
    }

    /// The steps and guidance a run on `model` uses; the folder's recorded values are range-checked naming the file.
    public func resolve(model: URL, fallback: (steps: Int, guidanceScale: Float)) throws -> (steps: Int, guidanceScale: Float) {
        let recorded = try ModelOptions.samplingDefaults(model: model) ?? fallback
        let steps = self.steps ?? recorded.steps, guidance = self.guidance ?? recorded.guidanceScale
        try OptionCheck.integer("sample_steps of \(model.path)/train_config.json", steps, .atLeast(1))
        try OptionCheck.number("guidance_scale of \(model.path)/train_config.json", guidance, .atLeast(0))
        return (steps, guidance)
    }
}

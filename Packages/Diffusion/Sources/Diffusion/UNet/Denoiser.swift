import Autodiff
import Tensor

/// What a denoiser forward returns: the prediction (nil when it was not asked for and the pass stopped early)
/// and the requested block outputs by tap name.
public struct DenoiserOutput {
    /// The model output [B, outChannels, H, W] (noise, v or sample, as the model was trained).
    public var sample: Variable?
    /// Tapped block outputs [B, C_block, H_block, W_block] by name (`down0`.., `mid`, `up0`..).
    public var features: [String: Variable]

    public init(sample: Variable?, features: [String: Variable]) {
        self.sample = sample
        self.features = features
    }
}

/// A conditional denoising network (the SD U-Net, or any stand-in): predicts the model output for a noisy sample
/// at timesteps under text conditioning, and can expose intermediate block outputs ("feature taps").
///
/// Inputs: `sample` [B, inChannels, H, W]; `timesteps` one value (shared) or B values; `context` [B, L, contextDim]
/// (the text encoder's last hidden states). Everything is `Variable` ops, so gradients reach the parameters,
/// any LoRA adapters and the sample.
public protocol Denoiser: AnyObject {
    var inChannels: Int { get }
    var outChannels: Int { get }
    /// The width of the conditioning tokens (`cross_attention_dim`).
    var contextDim: Int { get }
    /// Every valid tap name in execution order.
    var tapNames: [String] { get }
    /// The channel count of tap `name`'s output, nil for a name not in `tapNames` (what an adapter reading the tap
    /// must take in).
    func tapChannels(_ name: String) -> Int?
    /// Runs the network. With `computeOutput` false the pass stops right after the last requested tap (and
    /// `sample` is nil); every name in `taps` must be in `tapNames`.
    func forward(_ sample: Variable, timesteps: [Float], context: Variable, taps: Set<String>,
                 computeOutput: Bool) -> DenoiserOutput
}

extension Denoiser {
    /// The model output only (e.g. the predicted noise) for one shared timestep or one per sample.
    public func predict(_ sample: Variable, timesteps: [Float], context: Variable) -> Variable {
        forward(sample, timesteps: timesteps, context: context, taps: [], computeOutput: true).sample!
    }

    /// The model output for one timestep shared by the whole batch.
    public func predict(_ sample: Variable, timestep: Float, context: Variable) -> Variable {
        predict(sample, timesteps: [timestep], context: context)
    }

    /// Only the requested block outputs; the pass stops after the last of them.
    public func features(_ sample: Variable, timesteps: [Float], context: Variable, taps: Set<String>) -> [String: Variable] {
        forward(sample, timesteps: timesteps, context: context, taps: taps, computeOutput: false).features
    }

    /// The channels of each tap in `taps` (in order); throws naming an unknown tap.
    public func tapChannels(of taps: [String]) throws -> [Int] {
        try validateTaps(Set(taps))
        return taps.map { tapChannels($0)! }
    }

    /// Throws unless every name in `taps` is a tap of this model (for names that come from outside, e.g. a CLI).
    public func validateTaps(_ taps: Set<String>) throws {
        let unknown = taps.subtracting(tapNames)
        guard unknown.isEmpty else {
            throw ModelComponentError(.config, component: "unet",
                                      "unknown feature tap\(unknown.count == 1 ? "" : "s") \(unknown.sorted().joined(separator: ", ")); valid taps: \(tapNames.joined(separator: ", "))")
        }
    }
}

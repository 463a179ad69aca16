import Tensor

/// What the denoising model predicts (diffusers' `prediction_type`).
public enum PredictionType: String, Sendable, CaseIterable {
    /// The noise that was added (`epsilon`).
    case epsilon
    /// The velocity v = sqrt(alpha_bar) * noise - sqrt(1 - alpha_bar) * x0 (`v_prediction`, Salimans & Ho).
    case vPrediction = "v_prediction"
    /// The clean sample x0 itself (`sample`).
    case sample
}

/// How inference timesteps are spread over the training range (diffusers' `timestep_spacing`; Lin et al. 2023,
/// "Common Diffusion Noise Schedules and Sample Steps are Flawed", table 2).
public enum TimestepSpacing: String, Sendable, CaseIterable {
    case leading, trailing, linspace
}

/// The result of one scheduler step.
public struct SchedulerStepOutput {
    /// The sample at the previous (less noisy) timestep.
    public var prevSample: Tensor
    /// The scheduler's estimate of the clean sample, where the scheduler computes one (nil for PNDM and
    /// DPM-Solver, as in diffusers).
    public var predOriginalSample: Tensor?

    public init(prevSample: Tensor, predOriginalSample: Tensor?) {
        self.prevSample = prevSample
        self.predOriginalSample = predOriginalSample
    }
}

/// A diffusion sampler with diffusers' scheduler semantics.
///
/// The sampling loop is the pipelines' one:
/// ```swift
/// try scheduler.setTimesteps(50)
/// var x = noise * scheduler.initNoiseSigma
/// for t in scheduler.timesteps {
///     let eps = unet(scheduler.scaleModelInput(x, timestep: t), t)
///     x = scheduler.step(modelOutput: eps, timestep: t, sample: x, generator: &gen).prevSample
/// }
/// ```
/// Schedulers are classes because most keep state between steps (PNDM's and DPM-Solver's history, the step
/// index of the sigma schedulers); `setTimesteps` resets that state. Timesteps are `Float` for every scheduler:
/// the integer ones (DDPM, DDIM, PNDM, DPM-Solver) give whole numbers, Euler's may be fractional (Karras sigmas),
/// as in diffusers. Randomness (DDPM, DDIM with eta > 0, Euler with churn, Euler ancestral, SDE DPM-Solver) comes
/// from the `generator`, drawn exactly as diffusers draws from `torch.manual_seed(s)`.
public protocol Scheduler: AnyObject {
    /// The configuration the scheduler was built from (diffusers' names and defaults).
    var config: SchedulerConfiguration { get }
    /// diffusers' `order`: model evaluations per step (1 for all the schedulers here).
    var order: Int { get }
    /// The standard deviation of the starting noise (1 for DDPM-type schedulers, the largest sigma for Euler).
    var initNoiseSigma: Float { get }
    /// The inference timesteps, in the order they are visited (training timesteps until `setTimesteps`).
    var timesteps: [Float] { get }
    /// The number of inference steps given to `setTimesteps` (nil before).
    var numInferenceSteps: Int? { get }
    /// The training noise schedule: alpha_bar_t = prod_{s <= t} (1 - beta_s), float32 as in diffusers.
    var alphasCumprod: [Float] { get }
    /// Whether `step` draws from the generator with the current settings.
    var isStochastic: Bool { get }

    /// Sets the inference timesteps and resets the scheduler's state.
    func setTimesteps(_ numInferenceSteps: Int) throws
    /// The model input for `sample` at `timestep` (Euler-type schedulers divide by sqrt(sigma^2 + 1)).
    func scaleModelInput(_ sample: Tensor, timestep: Float) -> Tensor
    /// One reverse-diffusion step from `timestep` given the model's output.
    func step(modelOutput: Tensor, timestep: Float, sample: Tensor, generator: inout TorchGenerator)
        -> SchedulerStepOutput
    /// The forward process: `original` noised to each item's timestep (one timestep per batch item, or one for all).
    func addNoise(original: Tensor, noise: Tensor, timesteps: [Float]) -> Tensor
}

extension Scheduler {
    /// `step` without a caller-provided generator: deterministic schedulers never draw; stochastic ones draw
    /// from a generator with a random seed (not reproducible; pass a generator for that).
    public func step(modelOutput: Tensor, timestep: Float, sample: Tensor) -> SchedulerStepOutput {
        var generator = TorchGenerator(seed: isStochastic ? UInt64.random(in: 0...UInt64.max) : 0)
        return step(modelOutput: modelOutput, timestep: timestep, sample: sample, generator: &generator)
    }

    /// The scheduler's name in diffusers (`_class_name`).
    public var className: String { config.className }
}

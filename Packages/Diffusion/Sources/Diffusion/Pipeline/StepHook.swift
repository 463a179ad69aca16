import Tensor

/// The state of a sampling loop at one step, as hooks and callbacks see it.
public struct StepState {
    /// 0-based index of the step in `timesteps`.
    public let stepIndex: Int
    /// Number of steps of the run.
    public let stepCount: Int
    /// The scheduler timestep of this step.
    public let timestep: Float
    /// Before the noise prediction: z_t. After the step: z_{t-1} (the scheduler's output).
    public let latents: Tensor
    /// The prompts' conditioning, one row per image ([B, L, D], cond and uncond halves).
    public let conditioning: TextConditioning
    /// The guidance scale of the run.
    public let guidanceScale: Float
    /// After the step: the guided model output the scheduler stepped with. nil before.
    public let modelOutput: Tensor?
    /// After the step: the scheduler's estimate of x0 where it computes one (DDPM, DDIM, Euler). nil otherwise.
    public let predictedOriginal: Tensor?
}

/// What the loop does after a step.
public enum StepAction {
    /// Go on with the latents the scheduler produced.
    case proceed
    /// Go on from these latents instead (same shape) — e.g. the corrected z of gradient guidance.
    case replaceLatents(Tensor)
    /// End the run now; the current latents are decoded (or returned) as the result.
    case stop
}

/// A hook into the denoising loop (self-correction, guidance experiments, tracing).
///
/// Per step the loop calls `beforeNoisePrediction` (which may return the latent the U-Net should see instead of
/// z_t), runs the U-Net and the scheduler step, then calls `afterStep`. With `stepsFromModifiedLatents` false (the
/// default, DPT's released self-correction) the scheduler still steps from the unmodified z_t; true steps from the
/// modified latent (the paper's figure). Hooks run outside `GradMode.noGrad`, so they may differentiate through the
/// U-Net themselves.
public protocol StepHook: AnyObject {
    /// The latent fed to the noise prediction at this step, or nil to keep z_t. Same shape as `state.latents`.
    func beforeNoisePrediction(_ state: StepState) -> Tensor?
    /// Whether the scheduler steps from the latent `beforeNoisePrediction` returned.
    var stepsFromModifiedLatents: Bool { get }
    /// Called after the scheduler step with z_{t-1}.
    func afterStep(_ state: StepState) -> StepAction
}

extension StepHook {
    public func beforeNoisePrediction(_ state: StepState) -> Tensor? { nil }
    public var stepsFromModifiedLatents: Bool { false }
    public func afterStep(_ state: StepState) -> StepAction { .proceed }
}

/// A per-step callback as a hook: receives the state after each step and decides how to go on.
public final class StepCallback: StepHook {
    private let body: (StepState) -> StepAction

    public init(_ body: @escaping (StepState) -> StepAction) { self.body = body }

    public func afterStep(_ state: StepState) -> StepAction { body(state) }
}

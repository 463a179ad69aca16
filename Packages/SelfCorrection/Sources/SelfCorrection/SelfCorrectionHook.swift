import Autodiff
import Diffusion
import Tensor

/// What the self-correction did at one step.
public struct CorrectionRecord {
    public var stepIndex: Int
    public var timestep: Float
    /// eta of the step (0: no correction, no gradient pass).
    public var eta: Float
    /// The scores s(z_b, y_b) at the uncorrected model input (empty when eta was 0).
    public var scores: [Float]
    /// The L2 norm of each sample's raw gradient (empty when eta was 0).
    public var gradientNorms: [Float]
    /// The model-input scale c of the scheduler at this step (z = c * x).
    public var modelInputScale: Float
    /// The raw gradient g [B, c, h, w], kept only when the hook's `keepsGradients` is set.
    public var gradient: Tensor?
}

/// DPT's self-correction as a `StepHook` of `TextToImagePipeline`, for any scheduler of the Diffusion package.
///
/// At each step with eta != 0: z = scheduler.scaleModelInput(x_t); g = d/dz sum_b s(z_b, y_b) from the
/// conditional rows (the prompts' token states and pooled embeddings; the unconditional embeddings never enter);
/// z^ = z + eta * g (g optionally normalised); the hook returns x^ = x_t + (eta / c) * g, c being the scheduler's
/// input scale (1 for DDPM, DDIM, PNDM, DPM-Solver), so the U-Net sees z^ on both CFG halves. The pipeline then
/// steps from x_t (`release`) or from x^ (`paper`, `stepsFromModifiedLatents`). Steps with eta = 0 return nil:
/// the run is then the plain pipeline's, bit for bit. The last DDIM step is the scheduler's own (alpha_bar_prev =
/// `finalAlphaCumprod`), not the release's index wrap.
///
/// Use one hook per run (or call `reset()`): it keeps a `CorrectionRecord` per step.
public final class SelfCorrectionHook: StepHook {
    public let corrector: SelfCorrector
    /// The pipeline's scheduler (for the model-input scaling).
    public let scheduler: any Scheduler
    /// Pooled text embeddings, one row per image [N, D] or per prompt [P, D] (repeated in place to N rows, as
    /// `TextConditioning.repeatedPerPrompt` repeats the token states). nil: the run's own
    /// `TextConditioning.pooled` (what a text conditioner with pooled embeddings provides), or none.
    public let pooled: Tensor?
    /// Keep each step's raw gradient in the records (memory: one latent batch per step).
    public var keepsGradients = false
    public private(set) var records: [CorrectionRecord] = []

    public init(corrector: SelfCorrector, scheduler: any Scheduler, pooled: Tensor? = nil) {
        self.corrector = corrector
        self.scheduler = scheduler
        self.pooled = pooled
    }

    public var stepsFromModifiedLatents: Bool { corrector.settings.mode == .paper }

    /// Forgets the records of earlier runs.
    public func reset() { records = [] }

    /// The pooled rows for `count` images.
    public func pooledRows(count: Int) -> Tensor? {
        guard let pooled else { return nil }
        let op = "SelfCorrectionHook"
        tensorCheck(pooled.rank == 2 && pooled.shape[0] > 0, op, "pooled text embeddings of shape \(pooled.shape) are not [rows, D]")
        let rows = pooled.shape[0]
        if rows == count { return pooled }
        tensorCheck(count % rows == 0, op, "\(rows) pooled text embeddings for \(count) images: give one per image or one per prompt")
        let n = count / rows
        return pooled.indexSelect(axis: 0, indices: (0..<rows).flatMap { Array(repeating: $0, count: n) })
    }

    public func beforeNoisePrediction(_ state: StepState) -> Tensor? {
        let op = "SelfCorrectionHook"
        let ts = scheduler.timesteps
        tensorCheck(state.stepIndex < ts.count && ts[state.stepIndex] == state.timestep, op,
                    "step \(state.stepIndex) at timestep \(state.timestep) does not match the hook's scheduler (\(scheduler.className) timesteps \(ts.prefix(4))...): give the hook the pipeline's scheduler")
        let eta = corrector.settings.eta.eta(step: state.stepIndex, of: state.stepCount)
        let x = state.latents
        let c = scheduler.scaleModelInput(Tensor(shape: [1], scalars: [1]), timestep: state.timestep).item()
        tensorCheck(c.isFinite && c > 0, op, "the scheduler's model-input scale \(c) at timestep \(state.timestep) is not a positive number")
        guard eta != 0 else {
            records.append(CorrectionRecord(stepIndex: state.stepIndex, timestep: state.timestep, eta: 0, scores: [],
                                            gradientNorms: [], modelInputScale: c, gradient: nil))
            return nil
        }
        let count = x.shape[0]
        let text = AlignmentText(context: state.conditioning.cond, pooled: pooledRows(count: count) ?? state.conditioning.pooled)
        let z = scheduler.scaleModelInput(x, timestep: state.timestep)
        let (scores, g) = corrector.scoreGradient(modelInput: z, timestep: state.timestep, text: text)
        let d = corrector.direction(g)
        let corrected = x + d * (eta / c)
        records.append(CorrectionRecord(stepIndex: state.stepIndex, timestep: state.timestep, eta: eta,
                                        scores: scores.scalars, gradientNorms: SelfCorrector.sampleNorms(g),
                                        modelInputScale: c, gradient: keepsGradients ? g : nil))
        return corrected
    }
}

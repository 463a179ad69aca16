import Autodiff
import Diffusion
import Tensor

/// Settings of DPT's self-correction.
public struct SelfCorrectionSettings: Equatable, Sendable {
    /// Correction strength per step (the release: 0.5 at every step).
    public var eta: EtaSchedule
    /// Which latent the scheduler steps from (see `CorrectionMode`).
    public var mode: CorrectionMode
    /// Raw gradient (default, the release) or a documented deviation.
    public var normalization: GradientNormalization
    /// Largest batch of one gradient pass (nil: the whole batch at once). Samples are independent, so chunking
    /// changes memory, not the result (up to float summation order inside BLAS).
    public var gradientBatch: Int?

    public init(eta: EtaSchedule = .constant(0.5), mode: CorrectionMode = .release,
                normalization: GradientNormalization = .none, gradientBatch: Int? = nil) {
        self.eta = eta
        self.mode = mode
        self.normalization = normalization
        self.gradientBatch = gradientBatch
    }

    /// Throws unless the settings fit a run of `steps` steps.
    public func validate(steps: Int) throws {
        try eta.validate(steps: steps)
        if let b = gradientBatch, b < 1 {
            throw SelfCorrectionError("gradient batch", "must be at least 1, got \(b)")
        }
    }
}

/// The gradient of the alignment score and the correction built from it.
///
/// All of it happens in the U-Net's input space z = scaleModelInput(x) (where the scorer was trained):
/// g = d/dz sum_b s(z_b, y_b), computed by reverse-mode autodiff through the scorer (and the U-Net up to its
/// tap), and z^ = z + eta * g. For the schedulers whose input scaling is the identity (DDPM, DDIM, PNDM,
/// DPM-Solver) that is the release's x^ = x + eta * g; for the Euler schedulers (z = x / sqrt(sigma^2 + 1)) the
/// hook maps z^ back to x^ = z^ / c, so eta means the same thing under every scheduler.
public final class SelfCorrector {
    public let scorer: any AlignmentScorer
    public var settings: SelfCorrectionSettings

    public init(scorer: any AlignmentScorer, settings: SelfCorrectionSettings = SelfCorrectionSettings()) {
        self.scorer = scorer
        self.settings = settings
    }

    /// The scores s(z_b, y_b) [B] and their gradient g = d/dz sum_b s(z_b, y_b) [B, c, h, w] at the model input
    /// `z` [B, c, h, w]. `text` holds the conditional rows only.
    public func scoreGradient(modelInput z: Tensor, timestep: Float, text: AlignmentText) -> (scores: Tensor, gradient: Tensor) {
        let op = "SelfCorrector.scoreGradient"
        tensorCheck(z.rank == 4 && z.shape[0] > 0, op, "model input of shape \(z.shape) is not [B, c, h, w]")
        let b = z.shape[0]
        tensorCheck(text.count == b, op, "text context of shape \(text.context.shape) does not have one row per latent (batch \(b))")
        if let p = text.pooled {
            tensorCheck(p.rank == 2 && p.shape[0] == b, op, "pooled text embeddings of shape \(p.shape) are not [\(b), D]")
        }
        let chunk = min(settings.gradientBatch ?? b, b)
        guard chunk < b else { return scoreGradientChunk(z, timestep: timestep, text: text) }
        var scores: [Tensor] = [], grads: [Tensor] = []
        var start = 0
        while start < b {
            let end = min(start + chunk, b)
            let rows = AlignmentText(context: text.context.sliced(axis: 0, start: start, end: end),
                                     pooled: text.pooled?.sliced(axis: 0, start: start, end: end))
            let (s, g) = scoreGradientChunk(z.sliced(axis: 0, start: start, end: end).contiguous(), timestep: timestep, text: rows)
            scores.append(s)
            grads.append(g)
            start = end
        }
        return (Tensor.concat(scores, axis: 0), Tensor.concat(grads, axis: 0))
    }

    private func scoreGradientChunk(_ z: Tensor, timestep: Float, text: AlignmentText) -> (scores: Tensor, gradient: Tensor) {
        let op = "SelfCorrector.scoreGradient"
        let b = z.shape[0]
        let latent = Variable(z, requiresGrad: true, name: "self-correction latent")
        let scores = GradMode.enableGrad { scorer.score(latents: latent, timestep: timestep, text: text) }
        tensorCheck(scores.shape == [b], op, "the scorer returned scores of shape \(scores.shape), expected [\(b)]")
        tensorCheck(scores.requiresGrad, op, "the scorer's scores do not depend on the latents (no graph to differentiate)")
        let values = scores.value
        let total = GradMode.enableGrad { scores.sum() }
        let g = gradients(of: total, withRespectTo: [latent])[0]
        let finite = g.withContiguousBuffer { p in p.allSatisfy(\.isFinite) }
        tensorCheck(finite, op, "the score gradient at timestep \(timestep) is not finite")
        return (values, g)
    }

    /// The direction the correction moves along: g itself, or g normalised per sample (`settings.normalization`).
    public func direction(_ gradient: Tensor) -> Tensor {
        switch settings.normalization {
        case .none:
            return gradient
        case .unitNorm:
            let norms = Self.sampleNorms(gradient)
            let b = gradient.shape[0]
            let inv = Tensor(shape: [b] + Array(repeating: 1, count: gradient.rank - 1),
                             scalars: norms.map { $0 > 0 ? 1 / $0 : 0 })
            return gradient * inv
        }
    }

    /// The L2 norm of each sample's slice of `t` [B, ...], accumulated in Double.
    public static func sampleNorms(_ t: Tensor) -> [Float] {
        let b = t.shape[0], m = t.count / max(b, 1)
        return t.withContiguousBuffer { p in
            (0..<b).map { k in
                var s = 0.0
                for i in 0..<m { let v = Double(p[k * m + i]); s += v * v }
                return Float(s.squareRoot())
            }
        }
    }
}

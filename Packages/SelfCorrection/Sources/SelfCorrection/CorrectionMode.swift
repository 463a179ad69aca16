/// Which latent the scheduler steps from after a self-correction (DPT method notes, section 6).
///
/// In both modes the corrected latent x^ = x + eta * g feeds the whole classifier-free-guidance noise prediction:
/// eps = eps_u(x^) + w * (eps_c(x^) - eps_u(x^)), as the authors' release does. The gradient g itself comes from
/// the conditional branch only (the prompt's token states and pooled embedding; the unconditional embeddings
/// never enter it).
public enum CorrectionMode: String, Sendable, CaseIterable {
    /// The authors' release: the scheduler steps from the uncorrected x_t with the noise predicted at x^, so the
    /// correction only acts through the noise prediction.
    case release
    /// The paper's figure: x^_t replaces x_t, and the scheduler steps from x^_t.
    case paper
}

/// An optional rescaling of the score gradient before it is multiplied by eta.
public enum GradientNormalization: String, Sendable, CaseIterable {
    /// The raw gradient (the release; the default).
    case none
    /// Each sample's gradient divided by its L2 norm (a deviation from the release: eta becomes the step length
    /// in latent space, independent of the score's scale). A zero gradient stays zero.
    case unitNorm = "unit-norm"
}

import Autodiff
import DataIO
import Diffusion
import NN
import SelfCorrection
import Tensor
import XCTest

/// A denoiser wrapper that records every forward call (input, context, taps, whether the output was computed).
final class RecordingDenoiser: Denoiser {
    struct Call {
        var sample: Tensor
        var context: Tensor
        var timesteps: [Float]
        var taps: Set<String>
        var computeOutput: Bool
    }
    let inner: any Denoiser
    var calls: [Call] = []
    init(_ inner: any Denoiser) { self.inner = inner }
    var inChannels: Int { inner.inChannels }
    var outChannels: Int { inner.outChannels }
    var contextDim: Int { inner.contextDim }
    var tapNames: [String] { inner.tapNames }
    func tapChannels(_ name: String) -> Int? { inner.tapChannels(name) }
    func forward(_ sample: Variable, timesteps: [Float], context: Variable, taps: Set<String>,
                 computeOutput: Bool) -> DenoiserOutput {
        calls.append(Call(sample: sample.value, context: context.value, timesteps: timesteps, taps: taps,
                          computeOutput: computeOutput))
        return inner.forward(sample, timesteps: timesteps, context: context, taps: taps, computeOutput: computeOutput)
    }
    /// The noise-prediction calls (full passes), in order.
    var predictions: [Call] { calls.filter(\.computeOutput) }
    /// The gradient passes (stopped at a tap), in order.
    var gradientPasses: [Call] { calls.filter { !$0.computeOutput } }
}

/// A scheduler wrapper that records the arguments of every `step`.
final class RecordingScheduler: Scheduler {
    struct StepCall {
        var modelOutput: Tensor
        var timestep: Float
        var sample: Tensor
        var prevSample: Tensor
        var predOriginal: Tensor?
    }
    let inner: any Scheduler
    var steps: [StepCall] = []
    init(_ inner: any Scheduler) { self.inner = inner }
    var config: SchedulerConfiguration { inner.config }
    var order: Int { inner.order }
    var initNoiseSigma: Float { inner.initNoiseSigma }
    var timesteps: [Float] { inner.timesteps }
    var numInferenceSteps: Int? { inner.numInferenceSteps }
    var alphasCumprod: [Float] { inner.alphasCumprod }
    var isStochastic: Bool { inner.isStochastic }
    func setTimesteps(_ n: Int) throws { steps = []; try inner.setTimesteps(n) }
    func scaleModelInput(_ sample: Tensor, timestep: Float) -> Tensor { inner.scaleModelInput(sample, timestep: timestep) }
    func step(modelOutput: Tensor, timestep: Float, sample: Tensor, generator: inout TorchGenerator) -> SchedulerStepOutput {
        let out = inner.step(modelOutput: modelOutput, timestep: timestep, sample: sample, generator: &generator)
        steps.append(StepCall(modelOutput: modelOutput, timestep: timestep, sample: sample, prevSample: out.prevSample,
                              predOriginal: out.predOriginalSample))
        return out
    }
    func addNoise(original: Tensor, noise: Tensor, timesteps: [Float]) -> Tensor {
        inner.addNoise(original: original, noise: noise, timesteps: timesteps)
    }
}

/// A tiny random SD-shaped U-Net (frozen), a pooled-cosine scorer on one of its taps, and random text.
struct TinySetup {
    static let size = 8
    static let contextDim = 16
    static let textDim = 12
    static let tokens = 3

    let unet: UNet2DConditionModel
    let recorder: RecordingDenoiser
    let scorer: PooledCosineScorer
    let cond: Tensor       // [P, L, D]
    let uncond: Tensor
    let pooled: Tensor     // [P, textDim]

    init(prompts: Int = 2, tap: String = "up1", seed: UInt64 = 3) throws {
        var c = UNet2DConditionConfig()
        c.sampleSize = .one(Self.size)
        c.blockOutChannels = [32, 64]
        c.downBlockTypes = ["CrossAttnDownBlock2D", "DownBlock2D"]
        c.upBlockTypes = ["UpBlock2D", "CrossAttnUpBlock2D"]
        c.layersPerBlock = .one(1)
        c.crossAttentionDim = .one(Self.contextDim)
        c.attentionHeadDim = .one(2)
        c.normNumGroups = 8
        unet = try UNet2DConditionModel(config: c, seed: seed)
        _ = unet.store.freeze()
        recorder = RecordingDenoiser(unet)
        let channels = tap == "mid" || tap == "up0" || tap == "down1" ? 64 : 32
        var g = TorchGenerator(seed: seed &+ 100)
        scorer = try PooledCosineScorer(denoiser: recorder, tap: tap, weight: g.randn([Self.textDim, channels]) * 0.3)
        cond = g.randn([prompts, Self.tokens, Self.contextDim])
        uncond = g.randn([prompts, Self.tokens, Self.contextDim])
        pooled = g.randn([prompts, Self.textDim])
    }

    var conditioning: TextConditioning { TextConditioning(cond: cond, uncond: uncond) }

    func pipeline(_ scheduler: any Scheduler) throws -> TextToImagePipeline {
        try TextToImagePipeline(unet: recorder, autoencoder: IdentityAutoencoder(channels: 4), scheduler: scheduler,
                                sampleSize: (Self.size, Self.size))
    }

    func corrector(eta: EtaSchedule = .constant(0.5), mode: CorrectionMode = .release,
                   normalization: GradientNormalization = .none) -> SelfCorrector {
        SelfCorrector(scorer: scorer, settings: SelfCorrectionSettings(eta: eta, mode: mode, normalization: normalization))
    }

    /// sum_b s(z_b, y_b) at `z` without any graph, in Double.
    func totalScore(_ z: Tensor, timestep: Float, text: AlignmentText) -> Double {
        let s = GradMode.noGrad { scorer.score(latents: Variable(z), timestep: timestep, text: text) }
        return s.value.scalars.reduce(0.0) { $0 + Double($1) }
    }
}

/// Every scheduler kind of the Diffusion package with SD-like settings.
func makeScheduler(_ kind: SchedulerKind) throws -> any Scheduler {
    switch kind {
    case .ddpm: return try DDPMScheduler()
    case .ddim: return try DDIMScheduler(["set_alpha_to_one": .bool(false), "clip_sample": .bool(false)])
    case .pndm: return try PNDMScheduler(["skip_prk_steps": .bool(true)])
    case .eulerDiscrete: return try EulerDiscreteScheduler()
    case .eulerAncestralDiscrete: return try EulerAncestralDiscreteScheduler()
    case .dpmSolverMultistep: return try DPMSolverMultistepScheduler()
    }
}

func maxAbsDiff(_ a: Tensor, _ b: Tensor) -> Float {
    XCTAssertEqual(a.shape, b.shape)
    return zip(a.scalars, b.scalars).reduce(0) { max($0, abs($1.0 - $1.1)) }
}

func maxAbs(_ a: Tensor) -> Float { a.scalars.reduce(0) { max($0, abs($1)) } }

func bitEqual(_ a: Tensor, _ b: Tensor) -> Bool {
    a.shape == b.shape && zip(a.scalars, b.scalars).allSatisfy { $0.bitPattern == $1.bitPattern }
}

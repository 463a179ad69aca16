// Wall time per image of plain sampling vs self-corrected sampling (release and paper modes) on a tiny random
// SD-shaped U-Net, DDIM, classifier-free guidance 7.5. Not a test: numbers for the docs.
//
//   swift run -c release --package-path Packages/SelfCorrection bench-selfcorrection [steps] [images] [size] [tap] [repeats]
import Autodiff
import DataIO
import Diffusion
import Foundation
import NN
import SelfCorrection
import Tensor

let args = CommandLine.arguments.dropFirst().map { $0 }
func arg<T: LosslessStringConvertible>(_ i: Int, _ d: T) -> T { i < args.count ? (T(args[i]) ?? d) : d }
let steps: Int = arg(0, 50)
let images: Int = arg(1, 1)
let size: Int = arg(2, 16)
let tap: String = arg(3, "up1")
let repeats: Int = arg(4, 3)

var config = UNet2DConditionConfig()
config.sampleSize = .one(size)
config.blockOutChannels = [32, 64]
config.downBlockTypes = ["CrossAttnDownBlock2D", "DownBlock2D"]
config.upBlockTypes = ["UpBlock2D", "CrossAttnUpBlock2D"]
config.layersPerBlock = .one(2)
config.crossAttentionDim = .one(32)
config.attentionHeadDim = .one(2)
config.normNumGroups = 32
let unet = try UNet2DConditionModel(config: config, seed: 1)
_ = unet.store.freeze()
let tapChannels = unet.forward(Variable(Tensor.zeros([1, 4, size, size])), timesteps: [500],
                               context: Variable(Tensor.zeros([1, 4, 32])), taps: [tap], computeOutput: false)
    .features[tap]!.shape[1]
var g = TorchGenerator(seed: 7)
let scorer = try PooledCosineScorer(denoiser: unet, tap: tap, weight: g.randn([24, tapChannels]) * 0.2)
let cond = TextConditioning(cond: g.randn([1, 4, 32]), uncond: g.randn([1, 4, 32]))
let pooled = g.randn([1, 24])
let pipeline = try TextToImagePipeline(unet: unet, autoencoder: IdentityAutoencoder(channels: 4),
                                       scheduler: try DDIMScheduler(["set_alpha_to_one": .bool(false), "clip_sample": .bool(false)]))
let options = GenerationOptions(steps: steps, guidanceScale: 7.5, imagesPerPrompt: images, seeding: .shared(0))

func median(_ v: [Double]) -> Double { let s = v.sorted(); return s[s.count / 2] }
/// Process CPU seconds (user + system), all threads: steadier than wall time on a shared machine.
func cpuSeconds() -> Double {
    var u = rusage()
    #if os(Linux)
    getrusage(RUSAGE_SELF.rawValue, &u)
    #else
    getrusage(RUSAGE_SELF, &u)
    #endif
    return Double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) + Double(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6
}
/// Median wall and CPU seconds per image.
func time(_ body: () throws -> GenerationResult) rethrows -> (wall: Double, cpu: Double) {
    var wall: [Double] = [], cpu: [Double] = []
    for _ in 0..<repeats {
        let start = Date(), c0 = cpuSeconds()
        _ = try body()
        wall.append(Date().timeIntervalSince(start) / Double(images))
        cpu.append((cpuSeconds() - c0) / Double(images))
    }
    return (median(wall), median(cpu))
}

print("tiny U-Net \(unet.store.parameterCount()) parameters, latent 4x\(size)x\(size), tap \(tap) (\(tapChannels) channels), DDIM \(steps) steps, CFG 7.5, \(images) image(s) per call, BLAS threads \(BLAS.threads), median of \(repeats)")
let plain = try time { try pipeline.generate(cond, options: options, decode: false) }
print(String(format: "plain:                  wall %.3f s/image, CPU %.3f s/image", plain.wall, plain.cpu))
for mode in CorrectionMode.allCases {
    let corrector = SelfCorrector(scorer: scorer, settings: SelfCorrectionSettings(eta: .constant(0.5), mode: mode))
    let t = try time { try pipeline.generate(cond, pooled: pooled, selfCorrection: corrector, options: options, decode: false).0 }
    print(String(format: "self-correct (%@): wall %.3f s/image (x%.2f), CPU %.3f s/image (x%.2f)",
                 mode.rawValue.padding(toLength: 7, withPad: " ", startingAt: 0), t.wall, t.wall / plain.wall, t.cpu, t.cpu / plain.cpu))
}

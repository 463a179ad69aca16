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
                                       scheduler: try DDIMScheduler(["set_alpha_to_one": .bool(false)]))
let options = GenerationOptions(steps: steps, guidanceScale: 7.5, imagesPerPrompt: images, seeding: .shared(0))

func median(_ v: [Double]) -> Double { let s = v.sorted(); return s[s.count / 2] }
func time(_ body: () throws -> GenerationResult) rethrows -> Double {
    var t: [Double] = []
    for _ in 0..<repeats {
        let start = Date()
        _ = try body()
        t.append(Date().timeIntervalSince(start) / Double(images))
    }
    return median(t)
}

print("tiny U-Net \(unet.store.parameterCount()) parameters, latent 4x\(size)x\(size), tap \(tap) (\(tapChannels) channels), DDIM \(steps) steps, CFG 7.5, \(images) image(s) per call, BLAS threads \(BLAS.threads), median of \(repeats)")
let plain = try time { try pipeline.generate(cond, options: options, decode: false) }
print(String(format: "plain:                 %.3f s/image", plain))
for mode in CorrectionMode.allCases {
    let corrector = SelfCorrector(scorer: scorer, settings: SelfCorrectionSettings(eta: .constant(0.5), mode: mode))
    let t = try time { try pipeline.generate(cond, pooled: pooled, selfCorrection: corrector, options: options, decode: false).0 }
    print(String(format: "self-correct (%@): %.3f s/image (x%.2f)", mode.rawValue.padding(toLength: 7, withPad: " ", startingAt: 0), t, t / plain))
}

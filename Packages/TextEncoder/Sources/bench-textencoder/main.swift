// Forward time of a CLIP ViT-L/14-sized text encoder (SD 1.x's): 12 layers, width 768, 12 heads, MLP 3072,
// quick_gelu, vocab 49408, 77 tokens, batch 2, random weights, no gradient recording.
// Usage: bench-textencoder [repetitions = 10] [threads = 2]
// PyTorch counterpart: Tools/reference/bench_textencoder.py (same shapes, torch.set_num_threads(2), no_grad).
import Autodiff
import DataIO
import Foundation
import NN
import Tensor
import TextEncoder

let args = CommandLine.arguments
let reps = args.count > 1 ? Int(args[1]) ?? 10 : 10
let threads = args.count > 2 ? Int(args[2]) ?? 2 : 2
BLAS.threads = threads

var config = CLIPTextConfig()
config.hiddenSize = 768
config.intermediateSize = 3072
config.numHiddenLayers = 12
config.numAttentionHeads = 12
config.maxPositionEmbeddings = 77
config.hiddenAct = "quick_gelu"
config.eosTokenId = 2
let model = try CLIPTextModel(config: config, generator: TorchGenerator(seed: 0))

var g = TorchGenerator(seed: 1)
let rows = (0..<2).map { _ in g.randint(low: 0, high: 49408, count: 77) }
let input = try CLIPTextInput(ids: rows)

func forward() -> Tensor { GradMode.noGrad { model(input).lastHiddenState.value } }
_ = forward()  // warm-up
var times: [Double] = []
for _ in 0..<reps {
    let t0 = DispatchTime.now().uptimeNanoseconds
    let out = forward()
    times.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
    precondition(out.shape == [2, 77, 768])
}
times.sort()
let linearFlops: Double = 2 * 154 * 12 * Double(4 * 768 * 768 + 2 * 768 * 3072)
let attentionFlops: Double = 2 * 2 * 2 * 12 * 12 * Double(77 * 77 * 64)  // flop, QK and PV, batch, heads, layers
let flops = linearFlops + attentionFlops
print("bench-textencoder (Swift): CLIP ViT-L/14 text, batch 2 x 77, threads \(threads), BLAS \(BLAS.coreName), best of \(reps)")
print(String(format: "forward  best %.1f ms  median %.1f ms  (%.1f GFLOP/s at best)", times[0] * 1e3, times[times.count / 2] * 1e3, flops / times[0] * 1e-9))

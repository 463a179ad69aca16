import Autodiff
import Diffusion
import Tensor

/// Classifier-free-guided sampling of a `T2IModel` (the minimal loop the trainer uses for its progress grids and
/// tests; the `Pipeline` package is the general text-to-image pipeline).
///
/// Image i starts from `TorchGenerator(seed: seeds[i]).randn([1, 3, H, W]) * initNoiseSigma`, so an image depends on
/// its prompt and seed only, not on the batch it is drawn in. The negative (unconditional) prompt is "" unless given.
public enum T2ISampler {
    public static func sample(model: T2IModel, prompts: [String], seeds: [UInt64], steps: Int, guidanceScale: Float,
                              guidanceRescale: Float = 0, scheduler: SchedulerConfiguration? = nil, negativePrompt: String = "",
                              imageSize: Int, batchSize: Int = 16) throws -> Tensor {
        guard prompts.count == seeds.count, !prompts.isEmpty else {
            throw T2ITrainingError("sample: \(prompts.count) prompts and \(seeds.count) seeds (need the same non-zero count)")
        }
        guard guidanceRescale >= 0, guidanceRescale <= 1 else {
            throw T2ITrainingError("sample: guidance rescale \(guidanceRescale) is outside 0...1")
        }
        guard steps >= 1, batchSize >= 1 else { throw T2ITrainingError("sample: steps \(steps) and batch \(batchSize) must be >= 1") }
        let unet = model.unet
        let config = scheduler ?? model.scheduler
        var chunks: [Tensor] = []
        try GradMode.noGrad {
            var start = 0
            while start < prompts.count {
                let end = Swift.min(prompts.count, start + batchSize)
                let n = end - start
                let sched = try config.makeScheduler()
                try sched.setTimesteps(steps)
                var x = Tensor.concat((start..<end).map { i -> Tensor in
                    var g = TorchGenerator(seed: seeds[i])
                    return g.randn([1, unet.inChannels, imageSize, imageSize])
                }, axis: 0) * sched.initNoiseSigma
                let cond = try model.encode(Array(prompts[start..<end])).value
                let guided = guidanceScale != 1
                let context = guided
                    ? Tensor.concat([try model.encode(Array(repeating: negativePrompt, count: n)).value, cond], axis: 0) : cond
                var g = TorchGenerator(seed: seeds[start] &+ 0x5EED)
                for t in sched.timesteps {
                    let xin = sched.scaleModelInput(x, timestep: t)
                    let input = guided ? Tensor.concat([xin, xin], axis: 0) : xin
                    let out = unet.predict(Variable(input), timestep: t, context: Variable(context)).value
                    let eps: Tensor
                    if guided {
                        let combined = ClassifierFreeGuidance.combine(out, scale: guidanceScale)
                        eps = guidanceRescale > 0
                            ? ClassifierFreeGuidance.rescale(combined, cond: out.sliced(axis: 0, start: n, end: 2 * n).contiguous(),
                                                             factor: guidanceRescale)
                            : combined
                    } else {
                        eps = out
                    }
                    x = sched.step(modelOutput: eps, timestep: t, sample: x, generator: &g).prevSample
                }
                chunks.append(x.clamped(min: -1, max: 1))
                start = end
            }
        }
        return chunks.count == 1 ? chunks[0] : Tensor.concat(chunks, axis: 0)
    }
}

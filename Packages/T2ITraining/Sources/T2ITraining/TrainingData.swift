import Diffusion
import ShapesWorld
import Tensor

/// One training batch: clean images, captions (some replaced by "" for classifier-free guidance), timesteps and noise.
public struct TrainingBatch {
    /// [B, 3, H, W] in [-1, 1].
    public var images: Tensor
    /// The captions as conditioned on (dropped ones are "").
    public var captions: [String]
    /// The original captions.
    public var originalCaptions: [String]
    /// The meanings of the original captions.
    public var meanings: [Meaning]
    public var timesteps: [Int]
    /// [B, 3, H, W] standard normal.
    public var noise: Tensor
}

/// The training stream: a pure function of (seed, step), so a resumed run sees exactly the batches an uninterrupted
/// run would. Step `s` uses train-split samples `s*B ..< (s+1)*B` and draws its timesteps, noise and caption
/// dropout from `TorchGenerator(seed: stepSeed(s))` in that order.
public struct TrainingData: Sendable {
    public let config: T2IConfig
    public let world: SampleGenerator

    public init(config: T2IConfig) {
        self.config = config
        world = SampleGenerator(seed: config.seed, config: .square(config.imageSize))
    }

    /// The seed of step `s`'s random draws (SplitMix64 of the run seed and the step).
    public func stepSeed(_ step: Int) -> UInt64 {
        var z = config.seed &+ 0x9E37_79B9_7F4A_7C15 &* UInt64(step + 1)
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// The batch of step `step`.
    public func batch(step: Int) -> TrainingBatch {
        let b = config.batchSize, side = config.imageSize
        let plane = 3 * side * side
        var images = Tensor(uninitializedShape: [b, 3, side, side])
        var captions = [String](repeating: "", count: b)
        var meanings = [Meaning](repeating: Meaning(objects: []), count: b)
        let world = self.world
        images.withMutableBuffer { dst in
            let base = dst.baseAddress!
            captions.withUnsafeMutableBufferPointer { caps in
                meanings.withUnsafeMutableBufferPointer { ms in
                    let capBase = caps.baseAddress!, meaningBase = ms.baseAddress!
                    // Rendering is independent per image; two chunks keep both cores busy.
                    Parallel.forEachChunk(b, costPerItem: 40_000) { range in
                        for i in range {
                            let p = world.positive(split: .train, index: step * b + i)
                            let t = Renderer.render(p.scene).tensor()
                            t.withContiguousBuffer { src in (base + i * plane).update(from: src.baseAddress!, count: plane) }
                            (capBase + i).pointee = p.caption
                            (meaningBase + i).pointee = p.meaning
                        }
                    }
                }
            }
        }
        var g = TorchGenerator(seed: stepSeed(step))
        let timesteps = DiffusionTraining.sampleTimesteps(count: b, numTrainTimesteps: config.numTrainTimesteps, generator: &g)
        let noise = g.randn([b, 3, side, side])
        let u = g.rand([b]).scalars
        let conditioned = zip(captions, u).map { Double($0.1) < config.captionDropout ? "" : $0.0 }
        return TrainingBatch(images: images, captions: conditioned, originalCaptions: captions, meanings: meanings,
                             timesteps: timesteps, noise: noise)
    }
}

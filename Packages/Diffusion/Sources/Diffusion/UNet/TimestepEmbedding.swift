import Autodiff
import Foundation
import NN
import Tensor

/// diffusers' `get_timestep_embedding` (the `Timesteps` module): sinusoidal features of (possibly fractional)
/// timesteps, [count, dim]. Frequencies are exp(-ln(10000) · i / (dim/2 − freqShift)); `flipSinToCos` puts the
/// cosines first. Computed as PyTorch does in float32 (exponent, product), with correctly rounded exp/sin/cos.
public func sinusoidalTimestepEmbedding(_ timesteps: [Float], dim: Int, flipSinToCos: Bool, freqShift: Float,
                                        scale: Float = 1, maxPeriod: Float = 10000) -> Tensor {
    tensorCheck(dim > 0, "sinusoidalTimestepEmbedding", "embedding dimension must be positive, got \(dim)")
    let half = dim / 2
    tensorCheck(half > 0 && Float(half) != freqShift, "sinusoidalTimestepEmbedding",
                "dimension \(dim) with freq_shift \(freqShift) gives a zero frequency denominator")
    let logPeriod = Float(-Foundation.log(Double(maxPeriod)))
    let denominator = Float(half) - freqShift
    var freqs = [Float](repeating: 0, count: half)
    for i in 0..<half {
        let exponent = (logPeriod * Float(i)) / denominator
        freqs[i] = Float(Foundation.exp(Double(exponent)))
    }
    var out = Tensor(shape: [timesteps.count, dim], repeating: 0)
    out.withMutableBuffer { buf in
        for (row, t) in timesteps.enumerated() {
            let base = row * dim
            let (first, second) = flipSinToCos ? (half, 0) : (0, half)   // where the sines / cosines go
            for i in 0..<half {
                let arg = Double(scale * (t * freqs[i]))
                buf[base + first + i] = Float(Foundation.sin(arg))
                buf[base + second + i] = Float(Foundation.cos(arg))
            }
            // An odd dimension leaves the last column zero (diffusers pads with one zero).
        }
    }
    return out
}

/// diffusers `TimestepEmbedding` with SiLU: `linear_1` (in -> timeEmbedDim), SiLU, `linear_2`.
public final class TimestepEmbedding: Module {
    public let path: String
    public let linear1: Linear
    public let linear2: Linear

    public init(_ vb: VarBuilder, inChannels: Int, timeEmbedDim: Int, outDim: Int? = nil) {
        path = vb.path
        linear1 = Linear(vb.pp("linear_1"), inFeatures: inChannels, outFeatures: timeEmbedDim)
        linear2 = Linear(vb.pp("linear_2"), inFeatures: timeEmbedDim, outFeatures: outDim ?? timeEmbedDim)
        vb.register(self)
    }

    public func callAsFunction(_ x: Variable) -> Variable { linear2(linear1(x).silu()) }
}

import Foundation

/// The NumPy routines diffusers uses to lay out timesteps and sigmas, reproduced with NumPy's arithmetic so that
/// fractional timesteps and interpolated sigmas come out identical.
enum NumPy {
    /// `np.linspace(start, stop, num)` in float64: `i * step + start`, the last value exactly `stop`.
    static func linspace(_ start: Double, _ stop: Double, _ num: Int) -> [Double] {
        if num <= 0 { return [] }
        if num == 1 { return [start] }
        let step = (stop - start) / Double(num - 1)
        var out = (0..<num).map { Double($0) * step + start }
        out[num - 1] = stop
        return out
    }

    /// `np.arange(start, stop, step)` in float64: `ceil((stop - start) / step)` values; from the third on NumPy
    /// fills `start + i * delta` with `delta = (start + step) - start`.
    static func arange(_ start: Double, _ stop: Double, _ step: Double) -> [Double] {
        let length = ((stop - start) / step).rounded(.up)
        guard length > 0, length.isFinite else { return [] }
        let n = Int(length)
        let delta = (start + step) - start
        var out = [Double](repeating: 0, count: n)
        for i in 0..<n {
            out[i] = i == 0 ? start : (i == 1 ? start + step : start + Double(i) * delta)
        }
        return out
    }

    /// `np.round` (half to even).
    @inline(__always)
    static func round(_ x: Double) -> Double { x.rounded(.toNearestOrEven) }

    /// `np.interp(x, arange(len(fp)), fp)`: linear interpolation on the integer grid, clamped at both ends.
    static func interp(_ x: Double, _ fp: [Double]) -> Double {
        let n = fp.count
        if x.isNaN { return x }
        if x < 0 { return fp[0] }
        if x >= Double(n - 1) { return fp[n - 1] }
        let j = Int(x.rounded(.down))
        if Double(j) == x { return fp[j] }
        let slope = (fp[j + 1] - fp[j]) / (Double(j + 1) - Double(j))
        return slope * (x - Double(j)) + fp[j]
    }
}

/// Sigma-space helpers shared by the Euler and DPM-Solver schedulers (k-diffusion's sigma = sqrt((1 - abar) / abar)).
enum SigmaMath {
    /// `((1 - alphas_cumprod) / alphas_cumprod) ** 0.5` in float32, indexed by training timestep.
    static func sigmas(alphasCumprod: [Float]) -> [Float] {
        alphasCumprod.map { ((1 - $0) / $0).squareRoot() }
    }

    /// `np.log` of float32 sigmas (float32 results).
    static func logSigmas(_ sigmas: [Float]) -> [Float] { sigmas.map { Foundation.log($0) } }

    /// diffusers' `_sigma_to_t`: the fractional training timestep whose log-sigma interpolates to `sigma`.
    static func sigmaToT(_ sigma: Double, logSigmas: [Float]) -> Double {
        let logSigma = Foundation.log(Swift.max(sigma, 1e-10))
        let n = logSigmas.count
        // low_idx = argmax(cumsum(dists >= 0)) (first maximum), clipped to n - 2.
        var count = 0, best = 0, lowIdx = 0
        for i in 0..<n where logSigma - Double(logSigmas[i]) >= 0 {
            count += 1
            if count > best { best = count; lowIdx = i }
        }
        lowIdx = Swift.min(lowIdx, n - 2)
        let highIdx = lowIdx + 1
        let low = Double(logSigmas[lowIdx]), high = Double(logSigmas[highIdx])
        var w = (low - logSigma) / (low - high)
        w = Swift.min(Swift.max(w, 0), 1)
        return (1 - w) * Double(lowIdx) + w * Double(highIdx)
    }

    /// Karras et al. (2022) sigmas, rho = 7: `(max^(1/rho) + ramp * (min^(1/rho) - max^(1/rho)))^rho`.
    static func karras(sigmaMin: Double, sigmaMax: Double, count: Int) -> [Double] {
        let rho = 7.0
        let ramp = NumPy.linspace(0, 1, count)
        let minInvRho = Foundation.pow(sigmaMin, 1 / rho)
        let maxInvRho = Foundation.pow(sigmaMax, 1 / rho)
        return ramp.map { Foundation.pow(maxInvRho + $0 * (minInvRho - maxInvRho), rho) }
    }

    /// alpha_t = 1 / sqrt(sigma^2 + 1), sigma_t = sigma * alpha_t (diffusers' `_sigma_to_alpha_sigma_t`, float32).
    @inline(__always)
    static func alphaSigma(_ sigma: Float) -> (alpha: Float, sigma: Float) {
        let alpha = 1 / (sigma * sigma + 1).squareRoot()
        return (alpha, sigma * alpha)
    }
}

/// Inference timesteps of DDPM and DDIM (descending integers), as their `set_timesteps` lays them out.
func descendingTimesteps(spacing: TimestepSpacing, numTrain: Int, steps n: Int, stepsOffset: Int) -> [Int] {
    switch spacing {
    case .linspace:
        return NumPy.linspace(0, Double(numTrain - 1), n).reversed().map { Int(NumPy.round($0)) }
    case .leading:
        let ratio = numTrain / n
        return (0..<n).reversed().map { $0 * ratio + stepsOffset }
    case .trailing:
        let ratio = Double(numTrain) / Double(n)
        return NumPy.arange(Double(numTrain), 0, -ratio).map { Int(NumPy.round($0)) - 1 }
    }
}

/// Checks that laid-out inference timesteps index the training schedule (`steps_offset` can push "leading"
/// timesteps past T - 1, where diffusers fails with an index error).
func checkTimestepRange(_ ts: [Int], numTrain: Int, stepsOffset: Int) throws {
    if let bad = ts.first(where: { $0 < 0 || $0 >= numTrain }) {
        throw SchedulerError.invalidValue(key: "steps_offset", value: "\(stepsOffset)",
                                          expected: "timesteps inside 0..<\(numTrain) (this one lays out timestep \(bad))")
    }
}

/// Checks the number of inference steps against the training range.
func checkSteps(_ n: Int, numTrain: Int, scheduler: String) throws {
    guard n >= 1, n <= numTrain else {
        throw SchedulerError.invalidSteps(scheduler: scheduler, requested: n, maximum: numTrain)
    }
}

/// The step index of `timestep` in a sigma scheduler's schedule, diffusers' `index_for_timestep`: the second
/// match when the timestep occurs more than once (so that image-to-image starting mid-schedule does not skip a
/// sigma), nil when it does not occur.
func indexForTimestep(_ timestep: Float, in schedule: [Float]) -> Int? {
    var matches = 0
    var first: Int? = nil
    for (i, t) in schedule.enumerated() where t == timestep {
        matches += 1
        if matches == 1 { first = i } else { return i }
    }
    return first
}

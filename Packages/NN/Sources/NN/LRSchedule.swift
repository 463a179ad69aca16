import Foundation

/// Learning-rate schedules as pure functions of the step, matching `torch.optim.lr_scheduler` and diffusers'
/// `get_*_schedule_with_warmup` (LambdaLR multipliers). `step` counts optimiser steps already taken (0 first).
public enum LRSchedule: Equatable {
    /// The base rate throughout.
    case constant
    /// diffusers `get_constant_schedule_with_warmup`: step / warmup during warm-up, then 1.
    case constantWithWarmup(warmupSteps: Int)
    /// diffusers `get_linear_schedule_with_warmup`: linear warm-up, then linear decay to 0 at `totalSteps`.
    case linearWithWarmup(warmupSteps: Int, totalSteps: Int)
    /// diffusers `get_cosine_schedule_with_warmup`: linear warm-up, then 0.5·(1 + cos(π·2·cycles·progress)),
    /// clamped at 0; `cycles` 0.5 is a half cosine down to 0 at `totalSteps`.
    case cosineWithWarmup(warmupSteps: Int, totalSteps: Int, cycles: Double = 0.5)
    /// `torch.optim.lr_scheduler.CosineAnnealingLR(T_max, eta_min)` in closed form (`minLR` absolute).
    case cosineAnnealing(tMax: Int, minLR: Double = 0)

    /// The multiplier of the base rate at `step` (for `cosineAnnealing` it is derived from `baseLR`).
    public func learningRate(baseLR: Double, step: Int) -> Double {
        let s = Double(step)
        switch self {
        case .constant:
            return baseLR
        case .constantWithWarmup(let w):
            return step < w ? baseLR * s / Double(Swift.max(1, w)) : baseLR
        case .linearWithWarmup(let w, let total):
            if step < w { return baseLR * s / Double(Swift.max(1, w)) }
            return baseLR * Swift.max(0, Double(total - step) / Double(Swift.max(1, total - w)))
        case .cosineWithWarmup(let w, let total, let cycles):
            if step < w { return baseLR * s / Double(Swift.max(1, w)) }
            let progress = Double(step - w) / Double(Swift.max(1, total - w))
            return baseLR * Swift.max(0, 0.5 * (1 + Foundation.cos(Double.pi * cycles * 2 * progress)))
        case .cosineAnnealing(let tMax, let minLR):
            precondition(tMax > 0, "LRSchedule.cosineAnnealing: tMax must be positive, got \(tMax)")
            return minLR + (baseLR - minLR) * (1 + Foundation.cos(Double.pi * s / Double(tMax))) / 2
        }
    }
}

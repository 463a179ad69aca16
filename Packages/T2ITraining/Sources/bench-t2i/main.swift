// Times train-t2i's training step and sampling at the default config (or `--set KEY=VALUE` overrides).
// Usage: swift run -c release --package-path Packages/T2ITraining bench-t2i [steps] [--set key=value ...] [--sample N]
//        [--im2col] [--dispatch]
import Autodiff
import DataIO
import Foundation
import T2ITraining
import Tensor

func peakRSSMiB() -> Double {
    guard let s = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return .nan }
    for line in s.split(separator: "\n") where line.hasPrefix("VmHWM:") {
        return Double(line.split(separator: " ").dropFirst().first.flatMap { Double($0) } ?? .nan) / 1024
    }
    return .nan
}

/// Process CPU time (all threads).
func cpuSeconds() -> Double { Double(clock()) / Double(CLOCKS_PER_SEC) }

var args = Array(CommandLine.arguments.dropFirst())
var steps = 5, sampleImages = 0
var over: [String: JSONValue] = [:]
while !args.isEmpty {
    let a = args.removeFirst()
    if a == "--set", let kv = args.first, let eq = kv.firstIndex(of: "=") {
        args.removeFirst()
        let raw = String(kv[kv.index(after: eq)...])
        over[String(kv[..<eq])] = (try? JSONValue.parse(raw)) ?? .string(raw)
    } else if a == "--sample", let n = args.first.flatMap(Int.init) {
        args.removeFirst(); sampleImages = n
    } else if a == "--im2col" {
        Tensor.shiftedConvolutions = false   // every convolution through im2col (the path before shifted GEMMs)
    } else if a == "--dispatch" {
        Parallel.spinningWorkers = false     // parallel ops on Dispatch's pool (the path before the spinning workers)
    } else if let n = Int(a) {
        steps = n
    } else {
        FileHandle.standardError.write(Data("bench-t2i: unknown argument \(a)\n".utf8)); exit(2)
    }
}
let config = try T2IConfig.decode(overrides: .object(over))
let dir = FileManager.default.temporaryDirectory.appendingPathComponent("bench-t2i-\(getpid())")
defer { try? FileManager.default.removeItem(at: dir) }
let trainer = try T2ITrainer(config: config, runDirectory: dir, resume: false)
print("parameters: \(trainer.model.parameterCount) (U-Net \(trainer.model.unet.store.parameterCount()), text \(trainer.model.textEncoder.store.parameterCount())); weights \(String(format: "%.1f", Double(trainer.model.parameterCount) * 4 / 1e6)) MB float32")
print("batch \(config.batchSize), image \(config.imageSize)x\(config.imageSize), BLAS \(BLAS.coreName), OpenBLAS threads \(BLAS.threads), Parallel workers \(Parallel.workers), convolutions \(Tensor.shiftedConvolutions ? "shifted GEMMs where eligible" : "im2col"), threads \(Parallel.spinningWorkers ? "spinning workers" : "Dispatch")")
// Data generation alone.
var t0 = Date()
_ = trainer.data.batch(step: 1000)
print(String(format: "data: %.3f s per batch", Date().timeIntervalSince(t0)))
try trainer.trainStep()   // warm-up
var times: [Double] = []
var cpu0 = cpuSeconds()
for _ in 0..<steps {
    t0 = Date()
    let (loss, _) = try trainer.trainStep()
    times.append(Date().timeIntervalSince(t0))
    print(String(format: "step %d: %.3f s (loss %.4f)", trainer.step, times.last!, loss))
}
let cpu = (cpuSeconds() - cpu0) / Double(steps)
let sorted = times.sorted()
print(String(format: "train step: median %.3f s, min %.3f s, CPU %.3f s/step; %.1f img/s (median); peak RSS %.0f MiB",
             sorted[sorted.count / 2], sorted[0], cpu, Double(config.batchSize) / sorted[sorted.count / 2], peakRSSMiB()))
if sampleImages > 0 {
    let prompts = Array(repeating: "a red circle", count: sampleImages)
    t0 = Date(); cpu0 = cpuSeconds()
    _ = try trainer.model.sample(prompts: prompts, seeds: (0..<sampleImages).map(UInt64.init), steps: config.sampleSteps,
                                 guidanceScale: Float(config.guidanceScale), imageSize: config.imageSize)
    let dt = Date().timeIntervalSince(t0)
    print(String(format: "sampling: %d images, %d steps, CFG %.1f: %.2f s (%.2f img/s, CPU %.2f s)", sampleImages,
                 config.sampleSteps, config.guidanceScale, dt, Double(sampleImages) / dt, cpuSeconds() - cpu0))
}

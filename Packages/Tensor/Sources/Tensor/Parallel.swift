import Dispatch
import Foundation

/// Work splitting for large elementwise loops and im2col.
///
/// Runs on `WorkerPool`'s spinning threads (or Dispatch's pool, `spinningWorkers = false`) with one chunk per core.
/// OpenBLAS runs single-threaded (`Gemm` splits products itself), so there is one threading layer.
public enum Parallel {
    /// Whether `run` uses the persistent spinning workers (default) or `DispatchQueue.concurrentPerform`.
    nonisolated(unsafe) public static var spinningWorkers = true

    /// Runs `body(0) ..< body(iterations - 1)` in parallel and returns when all are done.
    public static func run(iterations: Int, _ body: (Int) -> Void) {
        if spinningWorkers {
            WorkerPool.shared.run(iterations: iterations, body)
        } else {
            DispatchQueue.concurrentPerform(iterations: iterations, execute: body)
        }
    }

    /// Number of worker chunks: `TENSOR_WORKERS` from the environment when set (a positive integer; how the test
    /// matrix runs the whole suite on 1 and 2 workers), else the machine's active cores.
    public static var workers: Int = defaultWorkers(environment: ProcessInfo.processInfo.environment,
                                                    cores: ProcessInfo.processInfo.activeProcessorCount)

    /// The worker count `TENSOR_WORKERS` asks for, or `cores` when it is unset. A value that is not a positive
    /// integer (at most 1024) stops the process with a message naming the variable: a silent fallback would make a
    /// test matrix run the wrong configuration.
    public static func defaultWorkers(environment: [String: String], cores: Int) -> Int {
        guard let text = environment["TENSOR_WORKERS"] else { return max(1, cores) }
        guard let n = parseWorkerCount(text) else {
            FileHandle.standardError.write(Data("error: TENSOR_WORKERS=\(text): expected a whole number of workers from 1 to 1024\n".utf8))
            exit(2)
        }
        return n
    }

    /// `text` as a worker count from 1 to 1024, or nil.
    public static func parseWorkerCount(_ text: String) -> Int? {
        guard let n = Int(text.trimmingCharacters(in: .whitespaces)), (1...1024).contains(n) else { return nil }
        return n
    }

    /// Below this many elements of work, loops run on the calling thread.
    public static var minimumWork: Int = 1 << 15

    /// Splits `0..<count` into at most `workers` contiguous ranges and runs `body` on each, in parallel when
    /// `count * costPerItem` is at least `minimumWork`.
    @inlinable
    public static func forEachChunk(_ count: Int, costPerItem: Int = 1, _ body: (Range<Int>) -> Void) {
        if count <= 0 { return }
        let w = min(workers, count)
        if w <= 1 || count * costPerItem < minimumWork {
            body(0..<count)
            return
        }
        let chunk = (count + w - 1) / w
        withoutActuallyEscaping(body) { b in
            run(iterations: w) { i in
                let lo = i * chunk
                let hi = min(count, lo + chunk)
                if lo < hi { b(lo..<hi) }
            }
        }
    }
}

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

    /// Number of worker chunks (the machine's active cores).
    public static var workers: Int = max(1, ProcessInfo.processInfo.activeProcessorCount)

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

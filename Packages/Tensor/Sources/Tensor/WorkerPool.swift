import Dispatch
import Foundation
import Synchronization

/// Persistent worker threads for `Parallel.run`: between jobs each worker spins for `spinMicroseconds` before it
/// parks, the way OpenMP runtimes (PyTorch's) keep their threads, so a training step's thousands of parallel ops,
/// separated by short serial stretches, do not each pay a thread wake-up. The calling thread takes iterations
/// too (an atomic counter hands them out), so a job never waits for a worker that is slow to wake: it only loses
/// that worker's help.
///
/// One job at a time: a call made while a job runs (a nested call from inside a body, or another thread's) goes to
/// Dispatch instead.
final class WorkerPool: @unchecked Sendable {
    static let shared = WorkerPool(threads: max(0, ProcessInfo.processInfo.activeProcessorCount - 1))

    /// How long an idle worker keeps spinning before it parks (microseconds).
    nonisolated(unsafe) static var spinMicroseconds: Double = 200

    let threads: Int
    private let busy = Atomic<Bool>(false)
    /// The job's generation (high 32 bits) and its next unclaimed iteration (low 32 bits): a worker claims an
    /// iteration with a compare-exchange, so one that wakes late can never claim an index of a newer job.
    private let state = Atomic<UInt64>(0)
    private let done = Atomic<Int>(0)
    private let sleeping = Atomic<Int>(0)
    private let condition = NSCondition()
    /// The current job's iteration count and body; written only while no iteration can be handed out.
    private let count = UnsafeMutablePointer<Int>.allocate(capacity: 1)
    private let body = UnsafeMutablePointer<(Int) -> Void>.allocate(capacity: 1)

    init(threads: Int) {
        self.threads = threads
        count.initialize(to: 0)
        body.initialize(to: { _ in })
        for i in 0..<threads {
            let t = Thread { [unowned self] in self.workerLoop() }
            t.name = "tensor-worker-\(i)"
            t.stackSize = 1 << 22
            t.start()
        }
    }

    /// Runs `work(0) ..< work(iterations - 1)`, in parallel with the workers, and returns when all are done.
    func run(iterations: Int, _ work: (Int) -> Void) {
        if iterations <= 0 { return }
        if iterations == 1 { work(0); return }
        guard threads > 0, busy.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged else {
            DispatchQueue.concurrentPerform(iterations: iterations, execute: work)
            return
        }
        withoutActuallyEscaping(work) { w in
            body.pointee = w
            count.pointee = iterations
            done.store(0, ordering: .relaxed)
            let job = ((state.load(ordering: .relaxed) >> 32) &+ 1) & 0xFFFF_FFFF
            state.store(job << 32, ordering: .sequentiallyConsistent)
            if sleeping.load(ordering: .sequentiallyConsistent) > 0 {
                condition.lock()
                condition.broadcast()
                condition.unlock()
            }
            while let i = claim(job: job) { w(i); done.add(1, ordering: .releasing) }
            while done.load(ordering: .acquiring) < iterations {}
            body.pointee = { _ in }   // drop the non-escaping closure before its scope ends
        }
        busy.store(false, ordering: .releasing)
    }

    /// Claims the next iteration of job `job`, or nil when that job has none left (or is over).
    @inline(__always)
    private func claim(job: UInt64) -> Int? {
        var v = state.load(ordering: .acquiring)
        while true {
            guard v >> 32 == job else { return nil }
            let i = Int(v & 0xFFFF_FFFF)
            guard i < count.pointee else { return nil }
            let (ok, now) = state.compareExchange(expected: v, desired: v &+ 1, ordering: .acquiringAndReleasing)
            if ok { return i }
            v = now
        }
    }

    private func workerLoop() {
        var seen: UInt64 = 0
        while true {
            var g = state.load(ordering: .acquiring) >> 32
            if g == seen {
                let start = DispatchTime.now().uptimeNanoseconds
                let limit = UInt64(Self.spinMicroseconds * 1000)
                var spins = 0
                while g == seen {
                    spins &+= 1
                    if spins & 255 == 0 && DispatchTime.now().uptimeNanoseconds - start > limit {
                        condition.lock()
                        sleeping.add(1, ordering: .sequentiallyConsistent)
                        g = state.load(ordering: .sequentiallyConsistent) >> 32
                        while g == seen {
                            condition.wait()
                            g = state.load(ordering: .sequentiallyConsistent) >> 32
                        }
                        sleeping.subtract(1, ordering: .sequentiallyConsistent)
                        condition.unlock()
                        break
                    }
                    g = state.load(ordering: .acquiring) >> 32
                }
            }
            seen = g
            // A claimed iteration belongs to job g, which cannot end (nor its body change) before it is done.
            while let i = claim(job: g) {
                body.pointee(i)
                done.add(1, ordering: .releasing)
            }
        }
    }
}

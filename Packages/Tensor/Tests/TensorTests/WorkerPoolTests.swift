import Dispatch
import Foundation
import Tensor
import XCTest

/// `Parallel.run` on the spinning worker pool: every iteration runs exactly once, whatever the job sizes, the gaps
/// between jobs (workers spinning or parked), nesting, or other threads calling at the same time.
final class WorkerPoolTests: XCTestCase {
    private func countRuns(iterations: Int) -> [Int] {
        let counts = UnsafeMutablePointer<Int>.allocate(capacity: max(1, iterations))
        counts.initialize(repeating: 0, count: max(1, iterations))
        defer { counts.deallocate() }
        Parallel.run(iterations: iterations) { i in counts[i] += 1 }
        return Array(UnsafeBufferPointer(start: counts, count: iterations))
    }

    func testEveryIterationRunsOnceAcrossManyJobs() {
        for n in [0, 1, 2, 3, 7, 64, 1000] {
            for _ in 0..<200 {
                let c = countRuns(iterations: n)
                XCTAssertEqual(c, [Int](repeating: 1, count: n), "\(n) iterations")
            }
        }
        // Jobs separated by gaps longer than the spin window: parked workers wake for the next job.
        for _ in 0..<5 {
            usleep(2000)
            XCTAssertEqual(countRuns(iterations: 8), [Int](repeating: 1, count: 8))
        }
    }

    func testNestedAndConcurrentCallsComplete() {
        // A body that calls Parallel.run again (handed to Dispatch while the pool is busy).
        let outer = 4, inner = 16
        let counts = UnsafeMutablePointer<Int>.allocate(capacity: outer * inner)
        counts.initialize(repeating: 0, count: outer * inner)
        defer { counts.deallocate() }
        Parallel.run(iterations: outer) { i in
            Parallel.run(iterations: inner) { j in counts[i * inner + j] += 1 }
        }
        XCTAssertEqual(Array(UnsafeBufferPointer(start: counts, count: outer * inner)), [Int](repeating: 1, count: outer * inner))
        // Several threads using the pool at once.
        let lock = NSLock()
        var totals: [Int] = []
        DispatchQueue.concurrentPerform(iterations: 4) { _ in
            var sum = 0
            for _ in 0..<100 { sum += countRuns(iterations: 10).reduce(0, +) }
            lock.lock(); totals.append(sum); lock.unlock()
        }
        XCTAssertEqual(totals, [1000, 1000, 1000, 1000])
    }

    /// Results do not depend on the pool: a product and a convolution give the same bits with Dispatch. Bitwise is
    /// guaranteed here: the worker count and so every chunk and every BLAS call are the same, only the threads differ.
    func testSameResultsWithDispatch() {
        let a = OpsB.random([96, 200], seed: 1), b = OpsB.random([200, 160], seed: 2)
        let x = OpsB.random([4, 16, 20, 20], seed: 3), w = OpsB.random([32, 16, 3, 3], seed: 4)
        let spun = (a.matmul(b), Tensor.conv2d(x, weight: w, padding: 1))
        Parallel.spinningWorkers = false
        defer { Parallel.spinningWorkers = true }
        let plain = (a.matmul(b), Tensor.conv2d(x, weight: w, padding: 1))
        XCTAssertEqual(spun.0.scalars, plain.0.scalars)
        XCTAssertEqual(spun.1.scalars, plain.1.scalars)
    }
}

/// `TENSOR_WORKERS` (how the test matrix runs the suite on 1 and 2 workers) is read strictly.
final class WorkerCountEnvironmentTests: XCTestCase {
    func testWorkerCountFromEnvironment() {
        XCTAssertEqual(Parallel.defaultWorkers(environment: [:], cores: 2), 2)
        XCTAssertEqual(Parallel.defaultWorkers(environment: [:], cores: 0), 1)
        XCTAssertEqual(Parallel.defaultWorkers(environment: ["TENSOR_WORKERS": "1"], cores: 2), 1)
        XCTAssertEqual(Parallel.defaultWorkers(environment: ["TENSOR_WORKERS": " 3 "], cores: 2), 3)
        for bad in ["0", "-1", "two", "", "1.5", "1025", "99999999999999999999"] {
            XCTAssertNil(Parallel.parseWorkerCount(bad), bad)
        }
        // The configuration this suite ran under, for the logs of a kernel x worker matrix (Tools/run-tests.sh shows it).
        print("test configuration: OpenBLAS kernel \(BLAS.coreName), Parallel.workers \(Parallel.workers)")
        if let text = ProcessInfo.processInfo.environment["TENSOR_WORKERS"] {
            XCTAssertEqual(Parallel.workers, Int(text.trimmingCharacters(in: .whitespaces)), "the suite runs on the workers asked for")
        }
    }
}

import Foundation
import XCTest
import Tensor
import Autodiff

/// Graph mechanics: recording, noGrad, detach, frozen leaves, accumulation, freeing, gradients(of:).
final class CoreTests: XCTestCase {
    func x23() -> Tensor { Tensor(shape: [2, 3], scalars: [1, 2, 3, 4, 5, 6]) }

    func testViewChainGradientIsPermutationOfSeed() {
        let x = Variable(x23(), requiresGrad: true)
        let y = x.transposed(0, 1).reshaped([6]).sliced(axis: 0, start: 1, end: 5)   // [2,5,3,6] positions
        XCTAssertEqual(y.value.scalars, [4, 2, 5, 3])
        y.backward(Tensor([10, 20, 30, 40]))
        XCTAssertEqual(x.grad?.scalars, [0, 20, 40, 10, 30, 0])
        XCTAssertEqual(x.grad?.shape, [2, 3])
    }

    func testExpandSumsOverBroadcastAxes() {
        let x = Variable(Tensor(shape: [3, 1], scalars: [1, 2, 3]), requiresGrad: true)
        let y = x.expanded(to: [2, 3, 4])
        y.backward(Tensor(shape: [2, 3, 4], scalars: (0..<24).map(Float.init)))
        // grad[i] = sum over a, k of (a*12 + i*4 + k)
        XCTAssertEqual(x.grad?.scalars, [60, 92, 124])  // sum over a, k of a*12 + i*4 + k
    }

    func testViewsPassGradientCheck() {
        let x = GradientCheck.uniform([2, 3, 4], seed: 1)
        let report = GradientCheck.check(inputs: [x]) { v in
            v[0].permuted([2, 0, 1]).selecting(axis: 1, index: 1).unsqueezed(0).sliced(axis: 2, start: 0, end: 3, step: 2)
                .squeezed(0).expanded(to: [5, 4, 2]).T.flattened()
        }
        XCTAssertTrue(report.passed, "\(report)")
    }

    func testNoGradRecordsNothing() {
        let x = Variable(x23(), requiresGrad: true)
        let before = GraphStatistics.liveNodes
        let y = GradMode.noGrad { () -> Variable in
            XCTAssertFalse(GradMode.isEnabled)
            let inner = GradMode.enableGrad { x.reshaped([6]) }
            XCTAssertTrue(inner.requiresGrad)
            XCTAssertFalse(GradMode.isEnabled)
            return x.transposed(0, 1)
        }
        XCTAssertTrue(GradMode.isEnabled)
        XCTAssertFalse(y.requiresGrad)
        XCTAssertNil(y.operation)
        XCTAssertTrue(y.isLeaf)
        XCTAssertEqual(GraphStatistics.liveNodes, before)
    }

    func testGradModeIsThreadLocal() {
        let seen = Expectation()
        GradMode.noGrad {
            let t = Thread { seen.value = GradMode.isEnabled; seen.done.signal() }
            t.start()
            seen.done.wait()
        }
        XCTAssertEqual(seen.value, true)
    }

    func testDetachCutsTheGraph() {
        let x = Variable(x23(), requiresGrad: true)
        let a = x.reshaped([6])
        let d = a.detached()
        XCTAssertFalse(d.requiresGrad)
        XCTAssertTrue(d.isLeaf)
        XCTAssertEqual(d.value.scalars, a.value.scalars)
        let y = d.reshaped([3, 2])
        XCTAssertFalse(y.requiresGrad, "ops on a detached value are constants")
        // A sum of a graph path and a detached path only gets gradient through the graph path.
        let both = Variable.concat([a, d], axis: 0)
        both.backward(Tensor(shape: [12], repeating: 1))
        XCTAssertEqual(x.grad?.scalars, [Float](repeating: 1, count: 6))
    }

    func testFrozenLeafKeepsNoGradient() {
        let w = Variable(x23(), requiresGrad: false, name: "frozen")
        let x = Variable(x23(), requiresGrad: true, name: "input")
        let y = Variable.concat([w, x], axis: 1)
        y.backward(Tensor(shape: [2, 6], scalars: (0..<12).map(Float.init)))
        XCTAssertNil(w.grad)
        XCTAssertEqual(x.grad?.scalars, [3, 4, 5, 9, 10, 11])
        // Only frozen inputs: nothing is recorded at all.
        XCTAssertFalse(w.transposed(0, 1).requiresGrad)
    }

    func testGradientsAccumulateAcrossBackwardCalls() {
        let x = Variable(x23(), requiresGrad: true)
        x.reshaped([6]).backward(Tensor([1, 2, 3, 4, 5, 6]))
        x.transposed(0, 1).backward(Tensor(shape: [3, 2], scalars: [10, 40, 20, 50, 30, 60]))
        XCTAssertEqual(x.grad?.scalars, [11, 22, 33, 44, 55, 66])
        x.zeroGrad()
        XCTAssertNil(x.grad)
    }

    func testGraphIsFreedAfterBackward() {
        let baseline = GraphStatistics.liveNodes
        let x = Variable(x23(), requiresGrad: true)
        var y: Variable? = x.transposed(0, 1).reshaped([6]).sliced(axis: 0, start: 2)
        XCTAssertEqual(GraphStatistics.liveNodes, baseline + 3)
        y!.backward(Tensor([1, 1, 1, 1]))
        XCTAssertEqual(GraphStatistics.liveNodes, baseline, "backward frees every node it ran")
        XCTAssertFalse(y!.isLeaf)
        XCTAssertNil(y!.operation)
        y = nil
        // retainGraph keeps the nodes for a second pass, which then frees them.
        let z = x.reshaped([3, 2])
        z.backward(Tensor(shape: [3, 2], repeating: 1), retainGraph: true)
        XCTAssertEqual(GraphStatistics.liveNodes, baseline + 1)
        z.backward(Tensor(shape: [3, 2], repeating: 1))
        XCTAssertEqual(GraphStatistics.liveNodes, baseline)
        XCTAssertEqual(x.grad?.scalars, [2, 3, 3, 2, 3, 3])
    }

    func testSavedTensorsAreReleasedByBackward() {
        weak var saved: TensorStorage?
        let x = Variable(Tensor([0.5, -1, 2]), requiresGrad: true)
        let loss: Variable = {
            let s = x.sigmoid()          // its output is saved by the sigmoid rule and held by the sum node
            saved = s.value.storage
            return s.sum()
        }()
        XCTAssertNotNil(saved, "the graph keeps the saved output alive")
        loss.backward()
        XCTAssertNil(saved, "backward() frees rules and saved tensors even while the loss variable lives on")
        let expected = [0.5, -1, 2].map { (v: Float) -> Float in let s = 1 / (1 + exp(-v)); return s * (1 - s) }
        for (g, e) in zip(x.grad!.scalars, expected) { XCTAssertEqual(g, e, accuracy: 1e-6) }
    }

    func testCustomOpThroughRecordAndCheckerCatchesWrongRule() {
        // A user-defined op: cube with a correct and a deliberately wrong backward rule.
        func cube(_ v: Variable, wrong: Bool) -> Variable {
            let x = v.value
            return Variable.record("cube", x * x * x, inputs: [v]) { g, _ in [g * x * x * (wrong ? 2.9 : 3)] }
        }
        let x = rnd([5], 90, 0.5...1.5)
        XCTAssertTrue(GradientCheck.check(inputs: [x]) { cube($0[0], wrong: false) }.passed)
        let bad = GradientCheck.check(inputs: [x]) { cube($0[0], wrong: true) }
        XCTAssertFalse(bad.passed)
        XCTAssertGreaterThan(bad.maxError, 0.03)
    }

    func testGradientsWithRespectToInputAndIntermediate() {
        let x = Variable(x23(), requiresGrad: true, name: "x")
        let w = Variable(Tensor(shape: [2, 3], repeating: 0), requiresGrad: true, name: "unused")
        let mid = x.transposed(0, 1)
        let y = mid.reshaped([6])
        let seed = Tensor([1, 2, 3, 4, 5, 6])
        let g = gradients(of: y, withRespectTo: [x, mid, w], seed: seed)
        XCTAssertEqual(g[1].shape, [3, 2])
        XCTAssertEqual(g[1].scalars, [1, 2, 3, 4, 5, 6])
        XCTAssertEqual(g[0].scalars, [1, 3, 5, 2, 4, 6])
        XCTAssertEqual(g[2].scalars, [Float](repeating: 0, count: 6))
        XCTAssertNil(x.grad, "gradients(of:) does not accumulate into grad")
    }
}

/// A tiny cross-thread result box for the thread-locality test.
final class Expectation: @unchecked Sendable {
    var value: Bool?
    let done = DispatchSemaphore(value: 0)
}

import Autodiff
import NN
import Tensor
import XCTest

/// 10 full-batch steps on a 4->8->3 GELU MLP with MSE loss, against torch.optim (optim.safetensors).
final class OptimizerTests: XCTestCase {
    final class MLP {
        let fc1: Linear
        let fc2: Linear
        init(_ vb: VarBuilder) {
            fc1 = Linear(vb.pp("fc1"), inFeatures: 4, outFeatures: 8)
            fc2 = Linear(vb.pp("fc2"), inFeatures: 8, outFeatures: 3)
        }
        func callAsFunction(_ x: Variable) -> Variable { fc2(fc1(x).gelu()) }
    }

    static var fixture: [String: Tensor] = [:]
    override class func setUp() { fixture = (try? Fixtures.safetensors("optim.safetensors")) ?? [:] }

    /// A model loaded with the fixture's initial weights through the strict state-dict import.
    private func makeModel() throws -> (ParameterStore, MLP) {
        let store = ParameterStore(initialization: .uninitialized)
        let mlp = MLP(store.root)
        try store.loadStateDict(Fixtures.subdict(Self.fixture, "init"))
        return (store, mlp)
    }

    /// Runs `steps` steps; returns the losses.
    @discardableResult
    private func train(_ mlp: MLP, _ store: ParameterStore, _ opt: Optimizer, steps: Int, clip: Double? = nil) -> [Float] {
        let x = Variable(Self.fixture["data.x"]!), y = Self.fixture["data.y"]!
        var losses: [Float] = []
        for _ in 0..<steps {
            opt.zeroGrad()
            let loss = Variable.mseLoss(mlp(x), y)
            loss.backward()
            if let clip { GradientClipping.clipGradNorm(store.trainableParameters(), maxNorm: clip) }
            opt.step()
            losses.append(loss.value.item())
        }
        return losses
    }

    private func checkFinal(_ store: ParameterStore, _ tag: String, losses: [Float]? = nil,
                            file: StaticString = #filePath, line: UInt = #line) {
        let want = Fixtures.subdict(Self.fixture, tag + ".final")
        XCTAssertEqual(want.count, 4, file: file, line: line)
        for (k, v) in want { assertClose(store[k]!.value, v, atol: 1e-5, "\(tag) \(k)", file: file, line: line) }
        if let losses {
            assertClose(Tensor(losses), Self.fixture[tag + ".losses"]!, atol: 1e-5, rtol: 1e-5, "\(tag) losses", file: file, line: line)
        }
    }

    func testAdamWMatchesPyTorch() throws {
        let (store, mlp) = try makeModel()
        let opt = AdamW(parameters: store.trainableParameters(), learningRate: 1e-2, weightDecay: 0.1)
        checkFinal(store, "adamw", losses: train(mlp, store, opt, steps: 10))
    }

    func testAdamWithL2AndAMSGradMatchPyTorch() throws {
        let (s1, m1) = try makeModel()
        let adam = Adam(parameters: s1.trainableParameters(), learningRate: 1e-2, weightDecay: 0.05)
        checkFinal(s1, "adam", losses: train(m1, s1, adam, steps: 10))
        let (s2, m2) = try makeModel()
        let ams = Adam(parameters: s2.trainableParameters(), learningRate: 2e-2, betas: (0.8, 0.95), amsgrad: true)
        checkFinal(s2, "adam_amsgrad", losses: train(m2, s2, ams, steps: 10))
    }

    func testSGDVariantsMatchPyTorch() throws {
        let (s1, m1) = try makeModel()
        let momentum = SGD(parameters: s1.trainableParameters(), learningRate: 0.1, momentum: 0.9, dampening: 0.1, weightDecay: 0.01)
        checkFinal(s1, "sgd_momentum", losses: train(m1, s1, momentum, steps: 10))
        let (s2, m2) = try makeModel()
        let nesterov = SGD(parameters: s2.trainableParameters(), learningRate: 0.1, momentum: 0.9, weightDecay: 0.01, nesterov: true)
        checkFinal(s2, "sgd_nesterov", losses: train(m2, s2, nesterov, steps: 10))
        let (s3, m3) = try makeModel()
        let plain = SGD(parameters: s3.trainableParameters(), learningRate: 0.2)
        checkFinal(s3, "sgd_plain", losses: train(m3, s3, plain, steps: 10))
    }

    func testAdamWWithCosineWarmupScheduleMatchesPyTorch() throws {
        let (store, mlp) = try makeModel()
        let opt = AdamW(parameters: store.trainableParameters(), learningRate: 1e-2, weightDecay: 0.1)
        let schedule = LRSchedule.cosineWithWarmup(warmupSteps: 3, totalSteps: 10)
        var losses: [Float] = []
        for step in 0..<10 {
            opt.learningRate = schedule.learningRate(baseLR: 1e-2, step: step)
            losses += train(mlp, store, opt, steps: 1)
        }
        checkFinal(store, "adamw_sched", losses: losses)
    }

    func testAdamWWithGradientClippingInTheLoop() throws {
        let (store, mlp) = try makeModel()
        let opt = AdamW(parameters: store.trainableParameters(), learningRate: 1e-2, weightDecay: 0.1)
        checkFinal(store, "adamw_clip", losses: train(mlp, store, opt, steps: 10, clip: 0.1))
    }

    /// 5 steps, save model + optimiser state, restore into fresh objects, 5 more: PyTorch's 10-step result,
    /// and bit for bit the uninterrupted Swift run.
    func testResumeFromSavedStateIsExact() throws {
        let (s0, m0) = try makeModel()
        let o0 = AdamW(parameters: s0.trainableParameters(), learningRate: 1e-2, weightDecay: 0.1)
        train(m0, s0, o0, steps: 10)

        let (s1, m1) = try makeModel()
        let o1 = AdamW(parameters: s1.trainableParameters(), learningRate: 1e-2, weightDecay: 0.1)
        train(m1, s1, o1, steps: 5)
        let modelState = s1.stateDict(), optState = o1.stateDict()
        XCTAssertEqual(optState["fc1.weight.step"]?.item(), 5)
        XCTAssertEqual(optState.count, 4 * 3)

        let (s2, m2) = try makeModel()
        try s2.loadStateDict(modelState)
        let o2 = AdamW(parameters: s2.trainableParameters(), learningRate: 1e-2, weightDecay: 0.1)
        var bad = optState
        bad["fc9.weight.exp_avg"] = Tensor([1])
        bad["fc1.bias.exp_avg"] = Tensor([1, 2])
        bad["fc2.bias.exp_avg_sq"] = nil
        XCTAssertThrowsError(try o2.loadStateDict(bad)) { error in
            let m = "\(error)"
            XCTAssertTrue(m.contains("unexpected key: fc9.weight.exp_avg"), m)
            XCTAssertTrue(m.contains("fc1.bias.exp_avg (model [8], state dict [2])"), m)
            XCTAssertTrue(m.contains("missing key: fc2.bias.exp_avg_sq"), m)
        }
        try o2.loadStateDict(optState)
        XCTAssertEqual(o2.stepCount(of: "fc2.bias"), 5)
        train(m2, s2, o2, steps: 5)
        checkFinal(s2, "adamw")
        for name in s0.stateDictNames() { XCTAssertEqual(s2[name]!.value.scalars, s0[name]!.value.scalars, name) }

        // SGD momentum buffers resume too.
        let (s3, m3) = try makeModel()
        let sgd = SGD(parameters: s3.trainableParameters(), learningRate: 0.1, momentum: 0.9, dampening: 0.1, weightDecay: 0.01)
        train(m3, s3, sgd, steps: 4)
        let (s4, m4) = try makeModel()
        try s4.loadStateDict(s3.stateDict())
        let sgd2 = SGD(parameters: s4.trainableParameters(), learningRate: 0.1, momentum: 0.9, dampening: 0.1, weightDecay: 0.01)
        try sgd2.loadStateDict(sgd.stateDict())
        train(m4, s4, sgd2, steps: 6)
        checkFinal(s4, "sgd_momentum")
    }

    func testClipGradNormMatchesPyTorch() throws {
        for (tag, maxNorm, normType) in [("clip2", 0.5, 2.0), ("clipinf", 0.3, Double.infinity), ("clip_under", 1e3, 2.0)] {
            let (store, _) = try makeModel()
            for p in store.namedParameters() { p.variable.grad = Self.fixture["\(tag).grad_before.\(p.name)"]! }
            let total = GradientClipping.clipGradNorm(store.namedParameters(), maxNorm: maxNorm, normType: normType)
            XCTAssertEqual(total, Self.fixture["\(tag).total_norm"]!.item(), accuracy: 1e-5 * total, tag)
            for p in store.namedParameters() {
                assertClose(p.variable.grad!, Self.fixture["\(tag).grad_after.\(p.name)"]!, atol: 1e-6, rtol: 1e-5, "\(tag) \(p.name)")
            }
        }
    }

    func testFrozenParametersAndMissingGradientsAreSkipped() throws {
        let (store, mlp) = try makeModel()
        store.freeze(prefix: "fc1")
        let opt = AdamW(parameters: store.namedParameters(), learningRate: 1e-2)
        let before = store["fc1.weight"]!.value.scalars
        train(mlp, store, opt, steps: 2)
        XCTAssertEqual(store["fc1.weight"]!.value.scalars, before, "frozen: no gradient, no update, no decay")
        XCTAssertEqual(opt.stepCount(of: "fc1.weight"), 0)
        XCTAssertEqual(opt.stepCount(of: "fc2.weight"), 2)
    }

    /// Large tensors take the multi-core path; it must equal the single-core update of the same elements. Bitwise is
    /// guaranteed: the update is elementwise (each element sees the same correctly rounded operations whatever the
    /// chunking), and no reduction crosses elements.
    func testParallelUpdateEqualsSequentialUpdate() {
        var g = TorchGenerator(seed: 11)
        let n = 50_000, piece = 1_000   // 1,000 elements stay on one core
        let w0 = g.randn([n]), grads = (0..<3).map { _ in g.randn([n]) }
        let makers: [(String, ([NamedParameter]) -> Optimizer)] = [
            ("adamw", { AdamW(parameters: $0, learningRate: 1e-2, weightDecay: 0.1) }),
            ("amsgrad", { Adam(parameters: $0, learningRate: 1e-2, weightDecay: 0.1, amsgrad: true) }),
            ("sgd", { SGD(parameters: $0, learningRate: 0.1, momentum: 0.9, weightDecay: 0.01, nesterov: true) }),
        ]
        for (tag, make) in makers {
            let big = Variable(w0, requiresGrad: true)
            let pieces = (0..<(n / piece)).map { Variable(w0.sliced(axis: 0, start: $0 * piece, end: ($0 + 1) * piece).contiguous(), requiresGrad: true) }
            let o1 = make([NamedParameter(name: "w", variable: big)])
            let o2 = make(pieces.enumerated().map { NamedParameter(name: "w\($0.offset)", variable: $0.element) })
            for grad in grads {
                big.grad = grad
                for (j, p) in pieces.enumerated() { p.grad = grad.sliced(axis: 0, start: j * piece, end: (j + 1) * piece) }
                o1.step()
                o2.step()
            }
            XCTAssertEqual(big.value.scalars, pieces.flatMap { $0.value.scalars }, tag)
        }
    }
    /// A parameter with a learning-rate scale moves exactly as under an optimiser whose rate is scaled (PyTorch's
    /// parameter group with its own lr), decoupled weight decay included; the other parameters are untouched by it.
    func testLearningRateScalesActAsParameterGroups() {
        var g = TorchGenerator(seed: 5)
        let w0 = g.randn([300]), v0 = g.randn([300]), grads = (0..<3).map { _ in (g.randn([300]), g.randn([300])) }
        let a = Variable(w0, requiresGrad: true), b = Variable(v0, requiresGrad: true)
        let scaled = AdamW(parameters: [NamedParameter(name: "a", variable: a), NamedParameter(name: "b", variable: b)],
                           learningRate: 1e-2, weightDecay: 0.1)
        scaled.learningRateScales = ["b": 0.1]
        let a2 = Variable(w0, requiresGrad: true), b2 = Variable(v0, requiresGrad: true)
        let full = AdamW(parameters: [NamedParameter(name: "a", variable: a2)], learningRate: 1e-2, weightDecay: 0.1)
        let low = AdamW(parameters: [NamedParameter(name: "b", variable: b2)], learningRate: 1e-3, weightDecay: 0.1)
        for (ga, gb) in grads {
            a.grad = ga; b.grad = gb; a2.grad = ga; b2.grad = gb
            scaled.step(); full.step(); low.step()
        }
        XCTAssertEqual(a.value.scalars, a2.value.scalars)
        XCTAssertEqual(b.value.scalars, b2.value.scalars)
        XCTAssertNotEqual(b.value.scalars, v0.scalars)
    }
}

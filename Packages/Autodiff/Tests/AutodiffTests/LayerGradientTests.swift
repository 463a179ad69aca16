import XCTest
import Tensor
import Autodiff

/// Finite-difference checks of conv2d, pooling/upsampling, layer/group norm and attention.
final class LayerGradientTests: XCTestCase {
    func testConv2d() {
        let x = rnd([2, 4, 5, 5], 51), w = rnd([6, 2, 3, 3], 52), b = rnd([6], 53)
        assertGradients([x, w, b]) { v in
            Variable.conv2d(v[0], weight: v[1], bias: v[2], stride: (2, 1), padding: (1, 0), dilation: (1, 2), groups: 2)
        }
        assertGradients([rnd([1, 3, 4, 4], 54), rnd([2, 3, 1, 1], 55)]) { v in Variable.conv2d(v[0], weight: v[1]) }
        assertGradients([rnd([1, 2, 5, 4], 56), rnd([3, 2, 3, 3], 57), rnd([3], 58)]) { v in
            Variable.conv2d(v[0], weight: v[1], bias: v[2], stride: 1, padding: 1)
        }
    }

    func testFrozenConvWeightGetsNoGradient() {
        let x = Variable(rnd([1, 2, 4, 4], 59), requiresGrad: true)
        let w = Variable(rnd([3, 2, 3, 3], 60))
        Variable.conv2d(x, weight: w, padding: 1).square().sum().backward()
        XCTAssertNil(w.grad)
        XCTAssertEqual(x.grad?.shape, [1, 2, 4, 4])
    }

    func testPoolingAndUpsampling() {
        let x = rnd([2, 3, 4, 6], 61)
        assertGradients([x]) { v in v[0].avgPool2d(kernel: 2) }
        assertGradients([x]) { v in v[0].avgPool2d(kernel: 3, stride: 1) }
        assertGradients([rnd([1, 2, 3, 2], 62)]) { v in v[0].upsampleNearest2x() }
        assertGradients([rnd([1, 2, 2, 2], 63)]) { v in v[0].upsampleNearest(scale: 3) }
    }

    func testLayerNorm() {
        let x = rnd([2, 3, 6], 64, -2...2), w = rnd([6], 65, 0.5...1.5), b = rnd([6], 66)
        assertGradients([x, w, b]) { v in Variable.layerNorm(v[0], weight: v[1], bias: v[2], eps: 1e-5) }
        assertGradients([x]) { v in Variable.layerNorm(v[0]) }
        assertGradients([x, b]) { v in Variable.layerNorm(v[0], bias: v[1]) }
    }

    func testGroupNorm() {
        let x = rnd([2, 6, 3, 2], 67, -2...2), w = rnd([6], 68, 0.5...1.5), b = rnd([6], 69)
        assertGradients([x, w, b]) { v in Variable.groupNorm(v[0], groups: 3, weight: v[1], bias: v[2]) }
        assertGradients([x]) { v in Variable.groupNorm(v[0], groups: 2) }
        assertGradients([x, w, b]) { v in Variable.groupNorm(v[0], groups: 3, weight: v[1], bias: v[2], silu: true) }
        assertGradients([x]) { v in Variable.groupNorm(v[0], groups: 2, silu: true) }
    }

    /// The fused group norm + SiLU node: the same forward values and gradients as the two nodes, up to rounding.
    func testGroupNormSiLUMatchesComposedOps() {
        let x = rnd([2, 8, 5, 3], 90, -3...3), w = rnd([8], 91, 0.5...1.5), b = rnd([8], 92), s = rnd([2, 8, 5, 3], 93)
        func run(_ fused: Bool) -> (Tensor, [Tensor]) {
            let vars = [x, w, b].map { Variable($0, requiresGrad: true) }
            let y = fused ? Variable.groupNorm(vars[0], groups: 4, weight: vars[1], bias: vars[2], silu: true)
                : Variable.groupNorm(vars[0], groups: 4, weight: vars[1], bias: vars[2]).silu()
            y.backward(s)
            return (y.value, vars.map { $0.grad! })
        }
        let (yf, gf) = run(true), (yc, gc) = run(false)
        // Two kernels: the statistics are sums over a group of 2 x 5 x 3 = 30 values and SiLU adds a few roundings,
        // so the outputs agree within (30 + 8) ulps of their magnitude.
        let magnitude = yc.scalars.reduce(Float(0)) { max($0, abs($1)) }
        let tolerance = Float(30 + 8) * Float.ulpOfOne * max(1, magnitude)
        XCTAssertLessThanOrEqual(zip(yf.scalars, yc.scalars).map { abs($0 - $1) }.max()!, tolerance)
        for (a, c) in zip(gf, gc) {
            XCTAssertLessThan(zip(a.scalars, c.scalars).map { abs($0 - $1) }.max()!, 1e-5)
        }
    }

    func testScaledDotProductAttention() {
        let q = rnd([2, 3, 4], 70), k = rnd([2, 5, 4], 71), v = rnd([2, 5, 3], 72)
        assertGradients([q, k, v]) { x in Variable.scaledDotProductAttention(x[0], x[1], x[2]) }
        let mask = Tensor(shape: [3, 5], scalars: (0..<15).map { $0 % 4 == 1 ? -1e9 : 0 })
        assertGradients([q, k, v]) { x in Variable.scaledDotProductAttention(x[0], x[1], x[2], mask: mask, scale: 0.7) }
        let qs = rnd([1, 2, 4, 4], 73), ks = rnd([1, 2, 4, 4], 74), vs = rnd([1, 2, 4, 2], 75)
        assertGradients([qs, ks, vs]) { x in Variable.scaledDotProductAttention(x[0], x[1], x[2], causal: true) }
    }

    /// The same checks through the backward that recomputes the probabilities from row log-sum-exps (the path long
    /// sequences take), forced by a zero saved-probability limit.
    func testScaledDotProductAttentionRecomputingBackward() {
        let saved = Variable.attentionSavedProbabilityLimit
        Variable.attentionSavedProbabilityLimit = 0
        defer { Variable.attentionSavedProbabilityLimit = saved }
        testScaledDotProductAttention()
    }

    func testAttentionMatchesComposedOps() {
        // The fused attention node and the same computation from matmul/softmax nodes give the same gradients.
        let q = rnd([2, 3, 4], 76), k = rnd([2, 5, 4], 77), v = rnd([2, 5, 3], 78), s = rnd([2, 3, 3], 79)
        func grads(_ fused: Bool) -> [Tensor] {
            let vars = [q, k, v].map { Variable($0, requiresGrad: true) }
            let out = fused ? Variable.scaledDotProductAttention(vars[0], vars[1], vars[2])
                : Variable.matmul((Variable.matmul(vars[0], vars[1], transposeB: true) * 0.5).softmax(axis: -1), vars[2])
            out.backward(s)
            return vars.map { $0.grad! }
        }
        for (a, b) in zip(grads(true), grads(false)) {
            XCTAssertLessThan(zip(a.scalars, b.scalars).map { abs($0 - $1) }.max()!, 1e-5)
        }
    }
}

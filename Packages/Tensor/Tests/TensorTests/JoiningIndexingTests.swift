import Foundation
import Tensor
import XCTest

final class JoiningIndexingTests: XCTestCase {
    func testConcatAlongEveryAxisMatchesBruteForce() {
        var rng = OpsA.Rng(20)
        for axis in 0..<3 {
            var shapes = [[2, 3, 4], [2, 3, 4], [2, 3, 4]]
            shapes[1][axis] = 1
            shapes[2][axis] = 0
            let s1 = shapes[1]
            // The second input is a transposed view with the wanted shape.
            let ts = [rng.tensor(shapes[0]), rng.tensor([s1[0], s1[2], s1[1]]).T, rng.tensor(shapes[2])]
            // Make the first input a strided view of the same values.
            let first = ts[0].permuted([2, 0, 1]).contiguous().permuted([1, 2, 0])
            XCTAssertFalse(first.isContiguous)
            let c = Tensor.concat([first, ts[1], ts[2]], axis: axis)
            var expectedShape = shapes[0]
            expectedShape[axis] = shapes[0][axis] + 1
            XCTAssertEqual(c.shape, expectedShape)
            for idx in OpsA.indices(expectedShape) {
                var i = idx
                let v: Float
                if i[axis] < shapes[0][axis] { v = OpsA.element(ts[0], i) } else { i[axis] -= shapes[0][axis]; v = OpsA.element(ts[1], i) }
                XCTAssertEqual(OpsA.element(c, idx), v)
            }
            // Negative axis.
            XCTAssertEqual(Tensor.concat([first, ts[1]], axis: axis - 3).scalars, c.scalars)
        }
        XCTAssertEqual(Tensor.concat([Tensor([1, 2]), Tensor([3])]).scalars, [1, 2, 3])
        let big = Tensor.concat([Tensor(shape: [300, 200], repeating: 1), Tensor(shape: [300, 100], repeating: 2)], axis: 1)
        XCTAssertEqual(big.sum().item(), 300 * 200 + 300 * 100 * 2)
        XCTAssertEqual(big.sum(axis: 0).scalars, [Float](repeating: 300, count: 200) + [Float](repeating: 600, count: 100))
    }

    func testStackSplitChunk() {
        let a = Tensor([1, 2, 3]), b = Tensor([4, 5, 6])
        XCTAssertEqual(Tensor.stack([a, b]).shape, [2, 3])
        XCTAssertEqual(Tensor.stack([a, b]).scalars, [1, 2, 3, 4, 5, 6])
        XCTAssertEqual(Tensor.stack([a, b], axis: 1).scalars, [1, 4, 2, 5, 3, 6])
        XCTAssertEqual(Tensor.stack([a, b], axis: -1).shape, [3, 2])
        XCTAssertEqual(Tensor.stack([Tensor(scalar: 1), Tensor(scalar: 2)]).scalars, [1, 2])

        let t = Tensor(shape: [2, 5], scalars: (0..<10).map(Float.init))
        let parts = t.split(sizes: [2, 0, 3], axis: 1)
        XCTAssertEqual(parts.map(\.shape), [[2, 2], [2, 0], [2, 3]])
        XCTAssertEqual(parts[0].scalars, [0, 1, 5, 6])
        XCTAssertEqual(parts[2].scalars, [2, 3, 4, 7, 8, 9])
        XCTAssertEqual(Tensor.concat(parts, axis: 1).scalars, t.scalars)

        // torch.chunk: ceil(5/3) = 2 -> sizes [2, 2, 1]; ceil(5/4) = 2 -> only 3 chunks.
        XCTAssertEqual(t.chunk(3, axis: 1).map { $0.shape[1] }, [2, 2, 1])
        XCTAssertEqual(t.chunk(4, axis: 1).map { $0.shape[1] }, [2, 2, 1])
        XCTAssertEqual(t.chunk(5, axis: 1).map { $0.shape[1] }, [1, 1, 1, 1, 1])
        XCTAssertEqual(t.chunk(2, axis: 0).map(\.scalars), [[0, 1, 2, 3, 4], [5, 6, 7, 8, 9]])
        XCTAssertEqual(Tensor(shape: [0, 2], scalars: []).chunk(3, axis: 0).count, 3)
    }

    func testPadded() {
        let t = Tensor(shape: [2, 2], scalars: [1, 2, 3, 4])
        let p = t.padded([(before: 1, after: 0), (before: 0, after: 2)], value: -1)
        XCTAssertEqual(p.shape, [3, 4])
        XCTAssertEqual(p.scalars, [-1, -1, -1, -1, 1, 2, -1, -1, 3, 4, -1, -1])
        XCTAssertEqual(t.T.padded(axis: 1, before: 1, after: 1).scalars, [0, 1, 3, 0, 0, 2, 4, 0])
        XCTAssertEqual(p.sliced(axis: 0, start: 1).sliced(axis: 1, start: 0, end: 2).scalars, t.scalars)
    }

    func testIndexSelectEmbeddingAndIndexAdd() {
        let w = Tensor(shape: [4, 3], scalars: (0..<12).map(Float.init))
        let e = Tensor.embedding(weight: w, ids: [3, 0, 3])
        XCTAssertEqual(e.shape, [3, 3])
        XCTAssertEqual(e.scalars, [9, 10, 11, 0, 1, 2, 9, 10, 11])
        XCTAssertEqual(w.indexSelect(axis: 1, indices: [2, 0]).scalars, [2, 0, 5, 3, 8, 6, 11, 9])
        XCTAssertEqual(w.T.indexSelect(axis: 0, indices: [1]).scalars, [1, 4, 7, 10])
        XCTAssertEqual(w.indexSelect(axis: 0, indices: []).shape, [0, 3])

        // indexAdd is the adjoint of indexSelect: <indexSelect(x), s> == <x, indexAdd(s)>.
        var rng = OpsA.Rng(21)
        let x = rng.tensor([3, 5, 4])
        let ids = [4, 1, 1, 0, 4, 4]
        let s = rng.tensor([3, ids.count, 4])
        let sel = x.indexSelect(axis: 1, indices: ids)
        let back = Tensor.indexAdd(into: x.shape, axis: 1, indices: ids, source: s)
        XCTAssertEqual((sel * s).sum().item(), (x * back).sum().item(), accuracy: 1e-4)
        // Repeated ids accumulate, unused rows stay zero.
        let rows = Tensor.indexAdd(into: [3, 2], axis: 0, indices: [2, 2, 0], source: Tensor(shape: [3, 2], scalars: [1, 2, 3, 4, 5, 6]))
        XCTAssertEqual(rows.scalars, [5, 6, 0, 0, 4, 6])
        // Large enough to split across cores.
        let many = (0..<5000).map { $0 % 7 }
        let ones = Tensor.ones([5000, 64])
        let counts = Tensor.indexAdd(into: [7, 64], axis: 0, indices: many, source: ones)
        XCTAssertEqual(counts.sum(axis: 1).scalars, (0..<7).map { r in Float(many.filter { $0 == r }.count * 64) })
    }

    func testGatherAndScatterAdd() {
        let x = Tensor(shape: [2, 3], scalars: [1, 2, 3, 4, 5, 6])
        // torch.gather(x, 1, [[2, 0], [1, 1]]) = [[3, 1], [5, 5]]
        let g = x.gather(axis: 1, indices: [2, 0, 1, 1], indexShape: [2, 2])
        XCTAssertEqual(g.scalars, [3, 1, 5, 5])
        XCTAssertEqual(x.gather(axis: 0, indices: [1, 0, 1], indexShape: [1, 3]).scalars, [4, 2, 6])
        XCTAssertEqual(x.T.gather(axis: 0, indices: [2, 0], indexShape: [1, 2]).scalars, [3, 4])
        XCTAssertEqual(x.gather(axis: 1, index: Tensor(shape: [2, 1], scalars: [1, 2])).scalars, [2, 6])
        // Cross-entropy style pick of one class per row.
        let logits = Tensor(shape: [3, 4], scalars: (0..<12).map(Float.init))
        XCTAssertEqual(logits.gather(axis: 1, indices: [3, 0, 2], indexShape: [3, 1]).scalars, [3, 4, 10])

        // scatterAdd is the adjoint of gather.
        var rng = OpsA.Rng(22)
        let data = rng.tensor([3, 4, 5])
        let idx = (0..<(3 * 6 * 5)).map { _ in rng.int(4) }
        let src = rng.tensor([3, 6, 5])
        let gathered = data.gather(axis: 1, indices: idx, indexShape: [3, 6, 5])
        let scattered = Tensor.scatterAdd(into: data.shape, axis: 1, indices: idx, indexShape: [3, 6, 5], source: src)
        XCTAssertEqual((gathered * src).sum().item(), (data * scattered).sum().item(), accuracy: 1e-4)
        XCTAssertEqual(Tensor.scatterAdd(into: [2, 3], axis: 1, indices: [2, 2, 0, 1], indexShape: [2, 2],
                                         source: Tensor(shape: [2, 2], scalars: [1, 2, 3, 4])).scalars, [0, 0, 3, 3, 4, 0])
    }

    func testValidationErrorsNameOpShapesAndIndices() {
        XCTAssertThrowsError(try Tensor.concatShape([[2, 3], [2, 4]], axis: 0)) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("concat") && text.contains("[2, 3]") && text.contains("[2, 4]"), text)
        }
        XCTAssertEqual(try Tensor.concatShape([[2, 3], [2, 4]], axis: 1), [2, 7])
        XCTAssertThrowsError(try Tensor.concatShape([[2, 3], [2, 3, 1]], axis: 0))
        XCTAssertThrowsError(try Tensor.concatShape([], axis: 0)) { XCTAssertTrue("\($0)".contains("at least one")) }
        XCTAssertThrowsError(try Tensor.stackShape([[2], [3]], axis: 0)) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("stack") && text.contains("[2]") && text.contains("[3]"), text)
        }
        XCTAssertThrowsError(try Tensor.checkSplit(shape: [2, 5], sizes: [2, 2], axis: 1)) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("split") && text.contains("[2, 2]") && text.contains("[2, 5]"), text)
        }
        XCTAssertThrowsError(try Tensor.checkIndices([0, 7], size: 4, op: "embedding")) { error in
            XCTAssertEqual(error as? TensorError, .indexOutOfRange(op: "embedding", index: 7, size: 4))
            XCTAssertTrue("\(error)".contains("index 7"))
        }
        XCTAssertThrowsError(try Tensor.checkIndices([-1], size: 4, op: "indexSelect"))
        XCTAssertThrowsError(try Tensor.checkGather(dataShape: [2, 3], axis: 1, indices: [0, 0, 0, 0, 0, 0],
                                                     indexShape: [3, 2], op: "gather")) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("gather") && text.contains("[2, 3]") && text.contains("[3, 2]"), text)
        }
        XCTAssertThrowsError(try Tensor.checkGather(dataShape: [2, 3], axis: 1, indices: [0, 1], indexShape: [2, 2], op: "gather")) {
            XCTAssertTrue("\($0)".contains("2 indices given for index shape [2, 2]"))
        }
        XCTAssertThrowsError(try Tensor.checkGather(dataShape: [2, 3], axis: 1, indices: [0, 3], indexShape: [2, 1], op: "gather"))
    }
}

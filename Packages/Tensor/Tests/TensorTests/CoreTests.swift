import XCTest
import Tensor

final class CoreTests: XCTestCase {
    func testCreationAndScalars() {
        let t = Tensor(shape: [2, 3], scalars: [1, 2, 3, 4, 5, 6])
        XCTAssertEqual(t.shape, [2, 3])
        XCTAssertEqual(t.strides, [3, 1])
        XCTAssertEqual(t.count, 6)
        XCTAssertEqual(t[1, 2], 6)
        XCTAssertEqual(Tensor(scalar: 3).item(), 3)
        XCTAssertEqual(Tensor(shape: [0, 4], scalars: []).count, 0)
    }

    func testTransposeIsViewAndContiguousCopies() {
        let t = Tensor(shape: [2, 3], scalars: [1, 2, 3, 4, 5, 6])
        let tt = t.transposed(0, 1)
        XCTAssertTrue(tt.storage === t.storage)
        XCTAssertFalse(tt.isContiguous)
        XCTAssertEqual(tt.shape, [3, 2])
        XCTAssertEqual(tt.scalars, [1, 4, 2, 5, 3, 6])
        XCTAssertEqual(tt.contiguous().strides, [2, 1])
    }

    func testCopyOnWrite() {
        let a = Tensor(shape: [2, 2], scalars: [1, 2, 3, 4])
        var b = a
        b[0, 0] = 10
        XCTAssertEqual(a.scalars, [1, 2, 3, 4])
        XCTAssertEqual(b.scalars, [10, 2, 3, 4])
        var c = Tensor(shape: [3], scalars: [1, 2, 3])
        let id = ObjectIdentifier(c.storage)
        c[1] = 5  // uniquely owned: written in place, no copy
        XCTAssertEqual(ObjectIdentifier(c.storage), id)
        XCTAssertEqual(c.scalars, [1, 5, 3])
    }

    func testSliceSelectExpandPermute() {
        let t = Tensor(shape: [2, 3, 4], scalars: (0..<24).map(Float.init))
        XCTAssertEqual(t.sliced(axis: 2, start: 1, end: 3).scalars, [1, 2, 5, 6, 9, 10, 13, 14, 17, 18, 21, 22])
        XCTAssertEqual(t.sliced(axis: 1, start: -1).shape, [2, 1, 4])
        XCTAssertEqual(t.sliced(axis: 2, start: 0, step: 2).scalars.prefix(4), [0, 2, 4, 6])
        XCTAssertEqual(t.selecting(axis: 0, index: 1).scalars.first, 12)
        let row = Tensor([1, 2, 3]).expanded(to: [2, 3])
        XCTAssertEqual(row.scalars, [1, 2, 3, 1, 2, 3])
        XCTAssertEqual(row.strides, [0, 1])
        let p = t.permuted([2, 0, 1])
        XCTAssertEqual(p.shape, [4, 2, 3])
        XCTAssertEqual(p[1, 1, 2], t[1, 2, 1])
        XCTAssertEqual(t.unsqueezed(0).shape, [1, 2, 3, 4])
        XCTAssertEqual(t.unsqueezed(-1).shape, [2, 3, 4, 1])
        XCTAssertEqual(t.unsqueezed(1).squeezed().shape, [2, 3, 4])
    }

    func testReshape() {
        let t = Tensor(shape: [2, 3], scalars: [1, 2, 3, 4, 5, 6])
        XCTAssertEqual(t.reshaped([3, -1]).shape, [3, 2])
        XCTAssertTrue(t.reshaped([6]).storage === t.storage)
        let tt = t.T.reshaped([6])
        XCTAssertEqual(tt.scalars, [1, 4, 2, 5, 3, 6])
        XCTAssertThrowsError(try Tensor.resolveShape([4, -1], count: 6))
        XCTAssertThrowsError(try Tensor.resolveShape([-1, -1], count: 6))
    }

    func testBroadcastShape() throws {
        XCTAssertEqual(try Tensor.broadcastShape([2, 1, 3], [4, 1]), [2, 4, 3])
        XCTAssertEqual(try Tensor.broadcastShape([], [3]), [3])
        XCTAssertThrowsError(try Tensor.broadcastShape([2, 3], [4, 3], op: "add")) { error in
            XCTAssertTrue("\(error)".contains("add"))
            XCTAssertTrue("\(error)".contains("[2, 3]"))
        }
    }

    func testBLASInfo() {
        XCTAssertFalse(BLAS.coreName.isEmpty)
        XCTAssertGreaterThanOrEqual(BLAS.threads, 1)
    }
}

final class LargeBlockCacheTests: XCTestCase {
    func testLargeBlocksAreReusedAndBounded() {
        let cache = LargeBlockCache.shared
        cache.trim()
        var firstAddress: UnsafeMutablePointer<Float>?
        do {
            let t = Tensor(shape: [1 << 19], repeating: 1)  // 2 MiB
            firstAddress = t.storage.pointer
        }
        XCTAssertGreaterThanOrEqual(cache.cachedBytes, 2 << 20)
        let u = Tensor(shape: [1 << 19], repeating: 2)
        XCTAssertEqual(u.storage.pointer, firstAddress, "a freed block of the same size is reused")
        XCTAssertEqual(u.scalars.prefix(3), [2, 2, 2])
        let saved = cache.capacityBytes
        cache.capacityBytes = 1 << 20
        do { _ = Tensor(shape: [1 << 20], repeating: 0) }  // 4 MiB: over capacity, released
        XCTAssertLessThanOrEqual(cache.cachedBytes, 1 << 20)
        cache.capacityBytes = saved
        cache.trim()
        XCTAssertEqual(cache.cachedBytes, 0)
    }

    func testEmptyTensorsAreContiguous() {
        XCTAssertTrue(Tensor(shape: [2, 0], scalars: []).isContiguous)
        XCTAssertTrue(Tensor.zeros([3, 0, 2]).transposed(0, 2).isContiguous)
    }
}

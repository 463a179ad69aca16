import Foundation

/// An n-dimensional array of Float32 with value semantics.
///
/// A tensor is a view (shape, strides in elements, offset) over a shared `TensorStorage`. Views
/// (transpose, permute, slice, expand, reshape of contiguous data) share storage; any mutation goes through
/// `withMutableBuffer`, which copies first when the storage is shared or the view is not contiguous.
public struct Tensor: @unchecked Sendable {
    public private(set) var storage: TensorStorage
    public private(set) var shape: [Int]
    public private(set) var strides: [Int]
    public private(set) var offset: Int

    /// A view over existing storage. Checks that every reachable element lies inside the storage.
    public init(storage: TensorStorage, shape: [Int], strides: [Int], offset: Int = 0) {
        tensorCheck(shape.count == strides.count, "Tensor.init(storage:)",
                    "shape \(shape) and strides \(strides) differ in rank")
        tensorCheck(shape.allSatisfy { $0 >= 0 }, "Tensor.init(storage:)", "negative dimension in shape \(shape)")
        let n = shape.reduce(1, *)
        if n > 0 {
            var lo = offset, hi = offset
            for (d, s) in zip(shape, strides) where d > 1 {
                if s >= 0 { hi += s * (d - 1) } else { lo += s * (d - 1) }
            }
            tensorCheck(lo >= 0 && hi < storage.count, "Tensor.init(storage:)",
                        "view shape \(shape) strides \(strides) offset \(offset) reaches outside storage of \(storage.count) elements")
        }
        self.storage = storage
        self.shape = shape
        self.strides = strides
        self.offset = offset
    }

    /// A contiguous tensor with uninitialised contents; fill it through `withMutableBuffer`.
    public init(uninitializedShape shape: [Int]) {
        tensorCheck(shape.allSatisfy { $0 >= 0 }, "Tensor", "negative dimension in shape \(shape)")
        let n = shape.reduce(1, *)
        self.storage = TensorStorage(uninitializedCount: n)
        self.shape = shape
        self.strides = Tensor.contiguousStrides(for: shape)
        self.offset = 0
    }

    /// A contiguous tensor of the given shape with every element equal to `value`.
    public init(shape: [Int], repeating value: Float) {
        self.init(uninitializedShape: shape)
        storage.pointer.initialize(repeating: value, count: count)
    }

    /// A tensor from row-major scalars; `scalars.count` must equal the product of `shape`.
    public init(shape: [Int], scalars: [Float]) {
        let n = shape.reduce(1, *)
        tensorCheck(shape.allSatisfy { $0 >= 0 }, "Tensor(shape:scalars:)", "negative dimension in shape \(shape)")
        tensorCheck(n == scalars.count, "Tensor(shape:scalars:)",
                    "shape \(shape) holds \(n) elements but \(scalars.count) scalars were given")
        self.init(uninitializedShape: shape)
        scalars.withUnsafeBufferPointer { src in
            if n > 0 { storage.pointer.initialize(from: src.baseAddress!, count: n) }
        }
    }

    /// A 1-D tensor.
    public init(_ scalars: [Float]) { self.init(shape: [scalars.count], scalars: scalars) }

    /// A 0-d (scalar) tensor.
    public init(scalar: Float) { self.init(shape: [], scalars: [scalar]) }

    // MARK: Properties

    @inlinable public var rank: Int { shape.count }
    /// Number of elements.
    @inlinable public var count: Int { shape.reduce(1, *) }

    /// True when the view is row-major contiguous (dimensions of size 1 may carry any stride).
    public var isContiguous: Bool {
        if shape.contains(0) { return true }
        var expected = 1
        for i in stride(from: shape.count - 1, through: 0, by: -1) {
            if shape[i] == 1 { continue }
            if strides[i] != expected { return false }
            expected *= shape[i]
        }
        return true
    }

    /// Row-major strides for a shape.
    public static func contiguousStrides(for shape: [Int]) -> [Int] {
        var s = [Int](repeating: 1, count: shape.count)
        var acc = 1
        for i in stride(from: shape.count - 1, through: 0, by: -1) {
            s[i] = acc
            acc *= Swift.max(shape[i], 1)
        }
        return s
    }

    /// The elements in row-major order.
    public var scalars: [Float] {
        let c = contiguous()
        return Array(UnsafeBufferPointer(start: c.storage.pointer + c.offset, count: c.count))
    }

    /// The single element of a tensor with one element.
    public func item() -> Float {
        tensorCheck(count == 1, "Tensor.item", "expected a tensor with one element, got shape \(shape)")
        return storage.pointer[offset]
    }

    /// Element access by full index (slow; for tests and small tensors).
    public subscript(_ index: Int...) -> Float {
        get { storage.pointer[elementOffset(index)] }
        set {
            makeUniqueContiguous()
            storage.pointer[elementOffset(index)] = newValue
        }
    }

    private func elementOffset(_ index: [Int]) -> Int {
        tensorCheck(index.count == rank, "Tensor.subscript", "index \(index) has rank \(index.count), tensor shape \(shape)")
        var o = offset
        for (i, (ix, d)) in zip(index, shape).enumerated() {
            tensorCheck(ix >= 0 && ix < d, "Tensor.subscript", "index \(index) out of range for shape \(shape) at axis \(i)")
            o += ix * strides[i]
        }
        return o
    }

    // MARK: Buffer access

    /// A contiguous copy, or `self` when already contiguous.
    public func contiguous() -> Tensor {
        if isContiguous { return self }
        var out = Tensor(uninitializedShape: shape)
        let src = storage.pointer + offset
        let dst = out.storage.pointer
        StridedCopy.copy(shape: shape, srcStrides: strides, src: src, dst: dst)
        out.offset = 0
        return out
    }

    /// Calls `body` with the elements in row-major order (copying first if the view is not contiguous).
    @inlinable
    public func withContiguousBuffer<R>(_ body: (UnsafeBufferPointer<Float>) throws -> R) rethrows -> R {
        let c = contiguous()
        return try withExtendedLifetime(c.storage) {
            try body(UnsafeBufferPointer(start: c.storage.pointer + c.offset, count: c.count))
        }
    }

    /// Calls `body` with a writable, contiguous, uniquely owned buffer of this tensor's elements.
    @inlinable
    public mutating func withMutableBuffer<R>(_ body: (UnsafeMutableBufferPointer<Float>) throws -> R) rethrows -> R {
        makeUniqueContiguous()
        return try body(UnsafeMutableBufferPointer(start: storage.pointer + offset, count: count))
    }

    /// Ensures the storage is uniquely owned and the view is contiguous (copying if needed).
    public mutating func makeUniqueContiguous() {
        if isContiguous && isKnownUniquelyReferenced(&storage) { return }
        let copy = Tensor(copying: self)
        self = copy
    }

    /// A fresh contiguous copy that shares nothing with `other`.
    public init(copying other: Tensor) {
        self.init(uninitializedShape: other.shape)
        if other.isContiguous {
            if count > 0 { storage.pointer.update(from: other.storage.pointer + other.offset, count: count) }
        } else {
            StridedCopy.copy(shape: other.shape, srcStrides: other.strides,
                             src: other.storage.pointer + other.offset, dst: storage.pointer)
        }
    }

    /// Internal constructor for views that have already been validated.
    @usableFromInline
    internal init(unchecked storage: TensorStorage, shape: [Int], strides: [Int], offset: Int) {
        self.storage = storage
        self.shape = shape
        self.strides = strides
        self.offset = offset
    }
}

extension Tensor: CustomStringConvertible {
    public var description: String {
        let s = scalars
        let shown = s.prefix(8).map { String(format: "%.4g", Double($0)) }.joined(separator: ", ")
        return "Tensor(shape: \(shape), [\(shown)\(s.count > 8 ? ", ..." : "")])"
    }
}

/// The reference-counted buffer behind one or more `Tensor` values.
///
/// Storage is a flat run of Float32. Several tensors (views) may share one storage with different shapes,
/// strides and offsets; `Tensor` copies it before a write when it is shared (copy-on-write).
/// Storage either owns its memory (64-byte aligned, freed on deinit) or borrows it from an owner object
/// (for example a memory-mapped file), which it keeps alive.
public final class TensorStorage: @unchecked Sendable {
    public let pointer: UnsafeMutablePointer<Float>
    public let count: Int
    private let owner: AnyObject?
    private let ownsMemory: Bool

    /// Allocates `count` floats, uninitialised.
    public init(uninitializedCount count: Int) {
        precondition(count >= 0, "TensorStorage: negative element count \(count)")
        let bytes = max(count, 1) * MemoryLayout<Float>.stride
        let raw = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
        self.pointer = raw.bindMemory(to: Float.self, capacity: max(count, 1))
        self.count = count
        self.owner = nil
        self.ownsMemory = true
    }

    /// Allocates `count` floats, all equal to `value`.
    public convenience init(count: Int, repeating value: Float) {
        self.init(uninitializedCount: count)
        pointer.initialize(repeating: value, count: count)
    }

    /// Wraps memory owned by `owner`; the storage keeps `owner` alive and never frees the memory itself.
    public init(borrowing pointer: UnsafeMutablePointer<Float>, count: Int, owner: AnyObject) {
        self.pointer = pointer
        self.count = count
        self.owner = owner
        self.ownsMemory = false
    }

    deinit {
        if ownsMemory { UnsafeMutableRawPointer(pointer).deallocate() }
    }

    @inlinable
    public var buffer: UnsafeMutableBufferPointer<Float> {
        UnsafeMutableBufferPointer(start: pointer, count: count)
    }
}

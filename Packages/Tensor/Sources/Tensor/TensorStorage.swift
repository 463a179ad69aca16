import Foundation

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
        let bytes = Swift.max(count, 1) * MemoryLayout<Float>.stride
        let raw = LargeBlockCache.shared.allocate(byteCount: bytes)
        self.pointer = raw.bindMemory(to: Float.self, capacity: Swift.max(count, 1))
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
        if ownsMemory {
            LargeBlockCache.shared.deallocate(UnsafeMutableRawPointer(pointer),
                                              byteCount: Swift.max(count, 1) * MemoryLayout<Float>.stride)
        }
    }

    @inlinable
    public var buffer: UnsafeMutableBufferPointer<Float> {
        UnsafeMutableBufferPointer(start: pointer, count: count)
    }
}

/// Keeps freed large blocks (>= 1 MiB) for reuse by the next allocation of the same size.
///
/// glibc serves blocks above its mmap threshold (at most 32 MiB) with fresh pages on every allocation, and the
/// page faults of touching them cost more than the arithmetic of a cheap op. Training and sampling loops allocate
/// the same sizes step after step, so an exact-size cache removes that cost. The cache holds at most
/// `capacityBytes` (default 512 MiB); `trim()` releases everything.
public final class LargeBlockCache: @unchecked Sendable {
    public static let shared = LargeBlockCache()

    /// Blocks smaller than this go straight to the system allocator.
    public let minimumBytes = 1 << 20
    /// Upper bound on the bytes held in the cache.
    public var capacityBytes: Int {
        get { lock.lock(); defer { lock.unlock() }; return capacity }
        set { lock.lock(); capacity = newValue; lock.unlock(); if newValue < cachedBytes { trim() } }
    }
    /// Bytes currently held for reuse.
    public var cachedBytes: Int { lock.lock(); defer { lock.unlock() }; return cached }

    private let lock = NSLock()
    private var free: [Int: [UnsafeMutableRawPointer]] = [:]
    private var cached = 0
    private var capacity = 512 << 20

    private static func rounded(_ bytes: Int) -> Int { (bytes + 4095) & ~4095 }

    func allocate(byteCount: Int) -> UnsafeMutableRawPointer {
        if byteCount < minimumBytes { return UnsafeMutableRawPointer.allocate(byteCount: byteCount, alignment: 64) }
        let size = LargeBlockCache.rounded(byteCount)
        lock.lock()
        if var list = free[size], let p = list.popLast() {
            free[size] = list.isEmpty ? nil : list
            cached -= size
            lock.unlock()
            return p
        }
        lock.unlock()
        return UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 64)
    }

    func deallocate(_ p: UnsafeMutableRawPointer, byteCount: Int) {
        if byteCount < minimumBytes { p.deallocate(); return }
        let size = LargeBlockCache.rounded(byteCount)
        lock.lock()
        if cached + size <= capacity {
            free[size, default: []].append(p)
            cached += size
            lock.unlock()
        } else {
            lock.unlock()
            p.deallocate()
        }
    }

    /// Returns every cached block to the system.
    public func trim() {
        lock.lock()
        let blocks = free
        free = [:]
        cached = 0
        lock.unlock()
        for (_, list) in blocks { for p in list { p.deallocate() } }
    }
}

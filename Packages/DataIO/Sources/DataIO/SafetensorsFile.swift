import Foundation
import Tensor

/// A safetensors file opened for reading: the header is validated up front, tensor data is read on demand
/// from a memory mapping (the file is never copied whole).
///
/// Float tensors (F32, F16, BF16, F64) load as Float32 `Tensor`s. F32 data that is 4-byte aligned in the file is
/// not copied at all: the tensor borrows the mapping (copy-on-write protects the file and other views).
/// Integer and bool tensors load exactly as `[Int]` (or typed arrays), or as Float32 when every value is exact.
public final class SafetensorsFile: @unchecked Sendable {
    /// The file path (or the name given for in-memory data).
    public var name: String { bytes.name }
    public let header: SafetensorsHeader
    let bytes: FileBytes
    private var borrowed: [String: TensorStorage] = [:]
    private let lock = NSLock()

    /// Opens and validates `url`.
    public convenience init(contentsOf url: URL) throws {
        try self.init(bytes: FileBytes(contentsOf: url))
    }

    /// Validates safetensors bytes held in memory; `name` is used in errors.
    public convenience init(data: Data, name: String = "<memory>") throws {
        try self.init(bytes: FileBytes(data: data, name: name))
    }

    init(bytes: FileBytes) throws {
        self.bytes = bytes
        header = try SafetensorsHeader.parse(bytes.bytes, file: bytes.name)
    }

    /// The `__metadata__` block, or an empty dictionary.
    public var metadata: [String: String] { header.metadata ?? [:] }
    /// Tensor names, sorted.
    public var tensorNames: [String] { header.tensors.keys.sorted() }
    public func contains(_ name: String) -> Bool { header.tensors[name] != nil }

    /// The header entry of `name`.
    public func info(_ name: String) throws -> SafetensorsTensorInfo {
        guard let i = header.tensors[name] else {
            throw DataIOError(.notFound, file: self.name, item: name, "no such tensor (the file holds \(header.tensors.count))")
        }
        return i
    }

    /// Calls `body` with the raw little-endian bytes of `name`.
    public func withRawBytes<R>(_ name: String, _ body: (UnsafeRawBufferPointer) throws -> R) throws -> R {
        let i = try info(name)
        return try withExtendedLifetime(bytes) {
            try body(UnsafeRawBufferPointer(start: bytes.base + header.dataStart + i.dataOffsets.lowerBound,
                                            count: i.dataOffsets.count))
        }
    }

    /// The tensor `name` as Float32. Integer and bool dtypes convert too, but only when every value is exactly
    /// representable in Float32 (otherwise a `wrongDType` error: use `integers(_:)`).
    public func tensor(_ name: String) throws -> Tensor {
        let i = try info(name)
        let n = i.elementCount
        let src = bytes.base + header.dataStart + i.dataOffsets.lowerBound
        if i.dtype == .F32 && Int(bitPattern: src) % MemoryLayout<Float>.alignment == 0 && n > 0 {
            return Tensor(storage: borrowedStorage(i, src), shape: i.shape, strides: Tensor.contiguousStrides(for: i.shape))
        }
        var t = Tensor(uninitializedShape: i.shape)
        var inexact: Int? = nil
        bytes.populate((header.dataStart + i.dataOffsets.lowerBound)..<(header.dataStart + i.dataOffsets.upperBound))
        t.withMutableBuffer { dst in
            guard n > 0, let d = dst.baseAddress else { return }
            adviseHugePages(UnsafeMutableRawPointer(d), byteCount: 4 * n)
            switch i.dtype {
            case .F32: UnsafeMutableRawPointer(d).copyMemory(from: src, byteCount: 4 * n)
            case .F16: SafetensorsFile.parallelConvert(n) { r in HalfPrecision.convertHalfToFloat(src + 2 * r.lowerBound, d + r.lowerBound, count: r.count) }
            case .BF16: SafetensorsFile.parallelConvert(n) { r in HalfPrecision.convertBFloat16ToFloat(src + 2 * r.lowerBound, d + r.lowerBound, count: r.count) }
            case .F64: for k in 0..<n { d[k] = Float(src.loadUnaligned(fromByteOffset: 8 * k, as: Double.self)) }
            case .I64, .I32, .I16, .I8, .U8, .BOOL:
                for k in 0..<n {
                    let v = SafetensorsFile.loadInteger(src, k, i.dtype)
                    guard let f = Float(exactly: v) else { inexact = v; return }
                    d[k] = f
                }
            }
        }
        if let v = inexact {
            throw DataIOError(.wrongDType, file: self.name, item: name,
                              "\(i.dtype.rawValue) value \(v) is not exactly representable as Float32; read it with integers(_:)")
        }
        return t
    }

    /// Every tensor as Float32, by name.
    public func allTensors() throws -> [String: Tensor] {
        var out: [String: Tensor] = [:]
        for n in tensorNames { out[n] = try tensor(n) }
        return out
    }

    /// An integer or bool tensor's values in row-major order (bools as 0/1). Float dtypes are an error.
    public func integers(_ name: String) throws -> [Int] {
        let i = try info(name)
        guard !i.dtype.isFloatingPoint else {
            throw DataIOError(.wrongDType, file: self.name, item: name, "is \(i.dtype.rawValue), not an integer dtype; read it with tensor(_:)")
        }
        let src = bytes.base + header.dataStart + i.dataOffsets.lowerBound
        return withExtendedLifetime(bytes) { (0..<i.elementCount).map { SafetensorsFile.loadInteger(src, $0, i.dtype) } }
    }

    /// An F64 tensor's values exactly (F32/F16/BF16 widen exactly too).
    public func doubles(_ name: String) throws -> [Double] {
        let i = try info(name)
        let src = bytes.base + header.dataStart + i.dataOffsets.lowerBound
        switch i.dtype {
        case .F64: return (0..<i.elementCount).map { src.loadUnaligned(fromByteOffset: 8 * $0, as: Double.self) }
        case .F32, .F16, .BF16: return try tensor(name).scalars.map(Double.init)
        default:
            throw DataIOError(.wrongDType, file: self.name, item: name, "is \(i.dtype.rawValue), not a float dtype; read it with integers(_:)")
        }
    }

    /// Typed access to integer tensors of exactly the matching dtype.
    public func int64s(_ name: String) throws -> [Int64] { try typed(name, .I64, Int64.self) }
    public func int32s(_ name: String) throws -> [Int32] { try typed(name, .I32, Int32.self) }
    public func int16s(_ name: String) throws -> [Int16] { try typed(name, .I16, Int16.self) }
    public func int8s(_ name: String) throws -> [Int8] { try typed(name, .I8, Int8.self) }
    public func uint8s(_ name: String) throws -> [UInt8] { try typed(name, .U8, UInt8.self) }
    public func bools(_ name: String) throws -> [Bool] { try integers(name).map { $0 != 0 } }

    private func typed<T: FixedWidthInteger>(_ name: String, _ dtype: SafetensorsDType, _: T.Type) throws -> [T] {
        let i = try info(name)
        guard i.dtype == dtype else {
            throw DataIOError(.wrongDType, file: self.name, item: name, "is \(i.dtype.rawValue), expected \(dtype.rawValue)")
        }
        let src = bytes.base + header.dataStart + i.dataOffsets.lowerBound
        return withExtendedLifetime(bytes) {
            (0..<i.elementCount).map { T(littleEndian: src.loadUnaligned(fromByteOffset: MemoryLayout<T>.size * $0, as: T.self)) }
        }
    }

    @inline(__always)
    static func loadInteger(_ src: UnsafeRawPointer, _ k: Int, _ dtype: SafetensorsDType) -> Int {
        switch dtype {
        case .I64: return Int(Int64(littleEndian: src.loadUnaligned(fromByteOffset: 8 * k, as: Int64.self)))
        case .I32: return Int(Int32(littleEndian: src.loadUnaligned(fromByteOffset: 4 * k, as: Int32.self)))
        case .I16: return Int(Int16(littleEndian: src.loadUnaligned(fromByteOffset: 2 * k, as: Int16.self)))
        case .I8: return Int(src.load(fromByteOffset: k, as: Int8.self))
        case .U8: return Int(src.load(fromByteOffset: k, as: UInt8.self))
        case .BOOL: return src.load(fromByteOffset: k, as: UInt8.self) != 0 ? 1 : 0
        default: return 0
        }
    }

    /// One storage per tensor name, kept by this reader, so that repeated loads share it (copy-on-write then copies
    /// before any write, since the reader holds a reference).
    private func borrowedStorage(_ i: SafetensorsTensorInfo, _ src: UnsafeMutableRawPointer) -> TensorStorage {
        lock.lock()
        defer { lock.unlock() }
        if let s = borrowed[i.name] { return s }
        let s = TensorStorage(borrowing: src.assumingMemoryBound(to: Float.self), count: i.elementCount, owner: bytes)
        borrowed[i.name] = s
        return s
    }

    /// Splits a conversion over cores in chunks of whole cache-friendly blocks.
    static func parallelConvert(_ n: Int, _ body: (Range<Int>) -> Void) {
        let block = 1 << 16
        let blocks = (n + block - 1) / block
        Parallel.forEachChunk(blocks, costPerItem: block) { br in
            body((br.lowerBound * block)..<min(n, br.upperBound * block))
        }
    }
}

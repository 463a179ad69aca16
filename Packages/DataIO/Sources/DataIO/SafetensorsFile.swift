import Foundation
import Tensor

/// A safetensors file opened for reading: the header is validated up front, tensor data is read on demand
/// from a memory mapping (the file is never copied whole).
///
/// Every dtype of safetensors 0.8 but C64 and F6 loads as a Float32 `Tensor`, converted as PyTorch's `.float()` does
/// (F8 and F4 included). F32 data that is 4-byte aligned in the file is not copied at all: the tensor borrows the
/// mapping (copy-on-write protects the file and other views). Integer and bool tensors also load exactly as `[Int]`
/// (or typed arrays).
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

    /// Elements of all tensors together (each validated against its bytes, so at most 8 per file byte): the most
    /// parameters a strict load from this file can fill, the budget a loader builds its model within.
    public var totalElements: Int { header.tensors.values.reduce(0) { $0 + $1.elementCount } }

    /// The parameter elements a loader may allocate before it reads this file in a strict load (every parameter
    /// must come from the file): twice `totalElements` plus 2^24 (64 MB of Float32), so an ordinary mismatch still
    /// reaches the load's detailed report of missing and mis-shaped keys while a hostile config asking for
    /// terabytes is refused unallocated. None for a non-strict load.
    public func elementBudget(strict: Bool) -> Int? { strict ? 2 * totalElements + (1 << 24) : nil }
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

    /// The tensor `name` as Float32, converted as PyTorch's `.float()` converts it: floats exactly (F64 rounds to
    /// nearest), integers and bools rounded to nearest even where Float32 cannot hold them (large I64/U64/I32/U32).
    /// C64 and the F6 formats have no Float32 form: an `unsupportedDType` error naming the tensor (use `withRawBytes`).
    public func tensor(_ name: String) throws -> Tensor {
        let i = try info(name)
        guard i.dtype.convertsToFloat32 else {
            let why = i.dtype == .C64 ? "complex values have no Float32 form"
                : "6-bit floats have no bit packing that PyTorch or safetensors defines"
            throw DataIOError(.unsupportedDType, file: self.name, item: name,
                              "dtype \(i.dtype.rawValue) cannot be read as Float32 (\(why)); read its bytes with withRawBytes(_:_:)")
        }
        let n = i.elementCount
        let src = bytes.base + header.dataStart + i.dataOffsets.lowerBound
        if i.dtype == .F32 && Int(bitPattern: src) % MemoryLayout<Float>.alignment == 0 && n > 0 {
            return Tensor(storage: borrowedStorage(i, src), shape: i.shape, strides: Tensor.contiguousStrides(for: i.shape))
        }
        // The allocation is sized by a shape that the header check matched against the bytes in the file.
        var t = Tensor(uninitializedShape: i.shape)
        bytes.populate((header.dataStart + i.dataOffsets.lowerBound)..<(header.dataStart + i.dataOffsets.upperBound))
        withExtendedLifetime(bytes) {
            t.withMutableBuffer { dst in
                guard n > 0, let d = dst.baseAddress else { return }
                adviseHugePages(UnsafeMutableRawPointer(d), byteCount: 4 * n)
                let dtype = i.dtype
                switch dtype {
                case .F32: UnsafeMutableRawPointer(d).copyMemory(from: src, byteCount: 4 * n)
                case .F16: SafetensorsFile.parallelConvert(n) { r in HalfPrecision.convertHalfToFloat(src + 2 * r.lowerBound, d + r.lowerBound, count: r.count) }
                case .BF16: SafetensorsFile.parallelConvert(n) { r in HalfPrecision.convertBFloat16ToFloat(src + 2 * r.lowerBound, d + r.lowerBound, count: r.count) }
                case .F8_E4M3, .F8_E5M2, .F8_E4M3FNUZ, .F8_E5M2FNUZ, .F8_E8M0:
                    let format = SafetensorsFile.float8Format(dtype)
                    SafetensorsFile.parallelConvert(n) { r in
                        HalfPrecision.convertFloat8ToFloat(src + r.lowerBound, d + r.lowerBound, count: r.count, format: format)
                    }
                case .F4:
                    // Chunks start at multiples of 2^16 elements: always on a byte boundary.
                    SafetensorsFile.parallelConvert(n) { r in
                        HalfPrecision.convertFloat4ToFloat(src, d + r.lowerBound, first: r.lowerBound, count: r.count)
                    }
                case .F64: for k in 0..<n { d[k] = Float(src.loadUnaligned(fromByteOffset: 8 * k, as: Double.self)) }
                case .U64: for k in 0..<n { d[k] = Float(UInt64(littleEndian: src.loadUnaligned(fromByteOffset: 8 * k, as: UInt64.self))) }
                case .I64, .I32, .I16, .I8, .U32, .U16, .U8, .BOOL:
                    for k in 0..<n { d[k] = Float(SafetensorsFile.loadInteger(src, k, dtype)) }
                case .C64, .F6_E2M3, .F6_E3M2: break  // refused above
                }
            }
        }
        return t
    }

    static func float8Format(_ dtype: SafetensorsDType) -> Float8Format {
        switch dtype {
        case .F8_E5M2: return .e5m2
        case .F8_E4M3FNUZ: return .e4m3fnuz
        case .F8_E5M2FNUZ: return .e5m2fnuz
        case .F8_E8M0: return .e8m0fnu
        default: return .e4m3fn
        }
    }

    /// Every tensor as Float32, by name.
    public func allTensors() throws -> [String: Tensor] {
        var out: [String: Tensor] = [:]
        for n in tensorNames { out[n] = try tensor(n) }
        return out
    }

    /// An integer or bool tensor's values in row-major order (bools as 0/1), exactly. Float dtypes are an error, and
    /// so is a U64 value above Int.max (read those with `uint64s`).
    public func integers(_ name: String) throws -> [Int] {
        let i = try info(name)
        guard i.dtype.isInteger else {
            throw DataIOError(.wrongDType, file: self.name, item: name, "is \(i.dtype.rawValue), not an integer dtype; read it with tensor(_:)")
        }
        if i.dtype == .U64 {
            let values = try uint64s(name)
            if let big = values.first(where: { $0 > UInt64(Int.max) }) {
                throw DataIOError(.wrongDType, file: self.name, item: name, "U64 value \(big) exceeds Int.max; read it with uint64s(_:)")
            }
            return values.map { Int($0) }
        }
        let src = bytes.base + header.dataStart + i.dataOffsets.lowerBound
        return withExtendedLifetime(bytes) { (0..<i.elementCount).map { SafetensorsFile.loadInteger(src, $0, i.dtype) } }
    }

    /// A float tensor's values as Double: F64 exactly, the narrower float dtypes widened exactly from Float32.
    public func doubles(_ name: String) throws -> [Double] {
        let i = try info(name)
        let src = bytes.base + header.dataStart + i.dataOffsets.lowerBound
        guard i.dtype.isFloatingPoint else {
            throw DataIOError(.wrongDType, file: self.name, item: name, "is \(i.dtype.rawValue), not a float dtype; read it with integers(_:)")
        }
        if i.dtype == .F64 {
            return withExtendedLifetime(bytes) { (0..<i.elementCount).map { src.loadUnaligned(fromByteOffset: 8 * $0, as: Double.self) } }
        }
        return try tensor(name).scalars.map(Double.init)
    }

    /// Typed access to integer tensors of exactly the matching dtype.
    public func int64s(_ name: String) throws -> [Int64] { try typed(name, .I64, Int64.self) }
    public func int32s(_ name: String) throws -> [Int32] { try typed(name, .I32, Int32.self) }
    public func int16s(_ name: String) throws -> [Int16] { try typed(name, .I16, Int16.self) }
    public func int8s(_ name: String) throws -> [Int8] { try typed(name, .I8, Int8.self) }
    public func uint64s(_ name: String) throws -> [UInt64] { try typed(name, .U64, UInt64.self) }
    public func uint32s(_ name: String) throws -> [UInt32] { try typed(name, .U32, UInt32.self) }
    public func uint16s(_ name: String) throws -> [UInt16] { try typed(name, .U16, UInt16.self) }
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
        case .U16: return Int(UInt16(littleEndian: src.loadUnaligned(fromByteOffset: 2 * k, as: UInt16.self)))
        case .U32: return Int(UInt32(littleEndian: src.loadUnaligned(fromByteOffset: 4 * k, as: UInt32.self)))
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

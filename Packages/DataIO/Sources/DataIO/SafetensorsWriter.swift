import Foundation
import Tensor

/// Builds a safetensors file: Float32 tensors stored as F32, F16 or BF16, integer arrays as any integer dtype,
/// and a `__metadata__` block. Files open in Python's `safetensors` (numpy and torch) unchanged.
///
/// Layout as the reference writer: tensors ordered by element size (largest first) then name, so every tensor
/// stays aligned to its element size; the header is padded with spaces to a multiple of 8 bytes.
public struct SafetensorsWriter {
    enum Payload {
        case tensor(Tensor)
        case integers([Int])
    }
    struct Entry {
        let name: String
        let dtype: SafetensorsDType
        let shape: [Int]
        let payload: Payload
    }

    private var entries: [String: Entry] = [:]
    /// String metadata written as `__metadata__` (omitted when empty).
    public var metadata: [String: String]

    public init(metadata: [String: String] = [:]) { self.metadata = metadata }

    public var count: Int { entries.count }

    /// Adds a Float32 tensor, stored as `dtype` (F32, F16, BF16 or F64; the 8-, 6- and 4-bit formats are read only).
    public mutating func add(_ name: String, _ tensor: Tensor, as dtype: SafetensorsDType = .F32) throws {
        try checkName(name)
        guard [.F32, .F16, .BF16, .F64].contains(dtype) else {
            throw DataIOError(.invalidArgument, file: "<writer>", item: name,
                              "a Float32 tensor cannot be stored as \(dtype.rawValue) (writable: F32, F16, BF16, F64)")
        }
        entries[name] = Entry(name: name, dtype: dtype, shape: tensor.shape, payload: .tensor(tensor))
    }

    /// Adds integer values of `shape`, stored as an integer dtype (or BOOL, values 0/1); checks the range.
    public mutating func add(_ name: String, integers: [Int], shape: [Int], as dtype: SafetensorsDType = .I64) throws {
        try checkName(name)
        guard dtype.isInteger else {
            throw DataIOError(.invalidArgument, file: "<writer>", item: name, "integers cannot be stored as \(dtype.rawValue)")
        }
        let count = shape.allSatisfy({ $0 >= 0 })
            ? shape.reduce(Optional(1)) { acc, d in acc.flatMap { a in let (m, o) = a.multipliedReportingOverflow(by: d); return o ? nil : m } }
            : nil
        guard count == integers.count else {
            throw DataIOError(.invalidArgument, file: "<writer>", item: name, "shape \(shape) does not hold \(integers.count) values")
        }
        let range: ClosedRange<Int>
        switch dtype {
        case .I64: range = Int.min...Int.max
        case .I32: range = Int(Int32.min)...Int(Int32.max)
        case .I16: range = Int(Int16.min)...Int(Int16.max)
        case .I8: range = Int(Int8.min)...Int(Int8.max)
        case .U8: range = 0...255
        case .U16: range = 0...Int(UInt16.max)
        case .U32: range = 0...Int(UInt32.max)
        case .U64: range = 0...Int.max
        default: range = 0...1
        }
        if let bad = integers.first(where: { !range.contains($0) }) {
            throw DataIOError(.invalidArgument, file: "<writer>", item: name, "value \(bad) does not fit \(dtype.rawValue)")
        }
        entries[name] = Entry(name: name, dtype: dtype, shape: shape, payload: .integers(integers))
    }

    private func checkName(_ name: String) throws {
        guard name != "__metadata__", !name.isEmpty else {
            throw DataIOError(.invalidArgument, file: "<writer>", item: name, "is not a valid tensor name")
        }
        guard entries[name] == nil else {
            throw DataIOError(.invalidArgument, file: "<writer>", item: name, "added twice")
        }
    }

    private var ordered: [Entry] {
        entries.values.sorted { ($1.dtype.byteSize, $0.name) < ($0.dtype.byteSize, $1.name) }
    }

    /// The header bytes (length prefix excluded), padded with spaces to a multiple of 8.
    func headerBytes() -> [UInt8] {
        var obj: [String: JSONValue] = [:]
        var offset = 0
        for e in ordered {
            let n = e.shape.reduce(1, *) * e.dtype.byteSize
            obj[e.name] = .object(["dtype": .string(e.dtype.rawValue), "shape": .array(e.shape.map { .int($0) }),
                                   "data_offsets": .array([.int(offset), .int(offset + n)])])
            offset += n
        }
        var text = ""
        if !metadata.isEmpty {
            text = "{\"__metadata__\":" + JSONValue.object(metadata.mapValues { .string($0) }).serialized()
        }
        // Tensors in data order after the metadata.
        for e in ordered {
            text += text.isEmpty ? "{" : ","
            JSONValue.writeString(e.name, to: &text)
            text += ":" + obj[e.name]!.serialized()
        }
        text += text.isEmpty ? "{}" : "}"
        var b = Array(text.utf8)
        while (b.count + 8) % 8 != 0 { b.append(0x20) }
        return b
    }

    /// The whole file in memory.
    public func encoded() throws -> Data {
        var sinkData = Data()
        try stream { sinkData.append(contentsOf: $0) }
        return sinkData
    }

    /// Writes the file atomically (temporary file in the same folder, fsync, rename, folder fsync).
    public func write(to url: URL) throws {
        try AtomicFile.write(to: url) { sink in try stream { try sink.write($0) } }
    }

    /// Streams the file through `emit` in chunks of at most 1 MB of tensor data (no whole-file buffer).
    func stream(_ emit: (UnsafeRawBufferPointer) throws -> Void) throws {
        let header = headerBytes()
        var len = UInt64(header.count).littleEndian
        try withUnsafeBytes(of: &len) { try emit($0) }
        try header.withUnsafeBytes { try emit($0) }
        let chunkElements = 1 << 18
        let scratch = UnsafeMutableRawPointer.allocate(byteCount: chunkElements * 8, alignment: 64)
        defer { scratch.deallocate() }
        for e in ordered {
            switch e.payload {
            case let .tensor(t):
                try t.withContiguousBuffer { buf in
                    var start = 0
                    while start < buf.count {
                        let m = min(chunkElements, buf.count - start)
                        let src = buf.baseAddress! + start
                        switch e.dtype {
                        case .F32:
                            let d = scratch.assumingMemoryBound(to: UInt32.self)
                            for k in 0..<m { d[k] = src[k].bitPattern.littleEndian }
                        case .F16: HalfPrecision.convertFloatToHalf(src, scratch.assumingMemoryBound(to: UInt16.self), count: m)
                        case .BF16: HalfPrecision.convertFloatToBFloat16(src, scratch.assumingMemoryBound(to: UInt16.self), count: m)
                        default:
                            let d = scratch.assumingMemoryBound(to: UInt64.self)
                            for k in 0..<m { d[k] = Double(src[k]).bitPattern.littleEndian }
                        }
                        try emit(UnsafeRawBufferPointer(start: scratch, count: m * e.dtype.byteSize))
                        start += m
                    }
                }
            case let .integers(values):
                var bytes: [UInt8] = []
                bytes.reserveCapacity(values.count * e.dtype.byteSize)
                for v in values {
                    switch e.dtype {
                    case .I64: withUnsafeBytes(of: Int64(v).littleEndian) { bytes.append(contentsOf: $0) }
                    case .I32: withUnsafeBytes(of: Int32(v).littleEndian) { bytes.append(contentsOf: $0) }
                    case .I16: withUnsafeBytes(of: Int16(v).littleEndian) { bytes.append(contentsOf: $0) }
                    case .I8: bytes.append(UInt8(bitPattern: Int8(v)))
                    case .U64: withUnsafeBytes(of: UInt64(v).littleEndian) { bytes.append(contentsOf: $0) }
                    case .U32: withUnsafeBytes(of: UInt32(v).littleEndian) { bytes.append(contentsOf: $0) }
                    case .U16: withUnsafeBytes(of: UInt16(v).littleEndian) { bytes.append(contentsOf: $0) }
                    default: bytes.append(UInt8(v))
                    }
                }
                try bytes.withUnsafeBytes { try emit($0) }
            }
        }
    }
}

extension SafetensorsFile {
    /// Writes Float32 tensors (stored as `dtype`) and metadata to `url` atomically.
    public static func write(_ tensors: [String: Tensor], metadata: [String: String] = [:],
                             as dtype: SafetensorsDType = .F32, to url: URL) throws {
        var w = SafetensorsWriter(metadata: metadata)
        for (k, v) in tensors { try w.add(k, v, as: dtype) }
        do { try w.write(to: url) } catch let e as DataIOError where e.file == "<writer>" {
            throw DataIOError(e.kind, file: url.path, item: e.item, e.message)
        }
    }
}

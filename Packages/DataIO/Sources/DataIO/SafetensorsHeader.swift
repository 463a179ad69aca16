/// The element types of the safetensors format, all 22 that safetensors 0.8 defines.
///
/// Every real dtype but the 6-bit floats converts to Float32 as PyTorch's `.float()` does (`SafetensorsFile.tensor`);
/// F4 packs two elements per byte (the first in the low nibble, as PyTorch's `float4_e2m1fn_x2`), F6 four per three
/// bytes (no framework defines that bit order, so F6 and the complex C64 are read as raw bytes only).
public enum SafetensorsDType: String, CaseIterable, Sendable {
    case F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL
    case U64, U32, U16
    /// PyTorch `float8_e4m3fn` (no infinities; 0x7F/0xFF are NaN) and `float8_e5m2` (IEEE-like: infinities, NaNs).
    case F8_E4M3, F8_E5M2
    /// PyTorch `float8_e4m3fnuz` / `float8_e5m2fnuz`: no negative zero, 0x80 is the only NaN, no infinities.
    case F8_E4M3FNUZ, F8_E5M2FNUZ
    /// PyTorch `float8_e8m0fnu`: a power of two 2^(bits - 127); 0xFF is NaN (the MX scale format).
    case F8_E8M0
    /// MXFP4 (E2M1), two per byte.
    case F4
    /// MXFP6 (E2M3 and E3M2), six bits each.
    case F6_E2M3, F6_E3M2
    /// Complex numbers of two Float32 parts.
    case C64

    /// Bits per element (4 for F4, 6 for F6: a tensor's bit count must be a whole number of bytes).
    public var bitSize: Int {
        switch self {
        case .F4: return 4
        case .F6_E2M3, .F6_E3M2: return 6
        case .I8, .U8, .BOOL, .F8_E4M3, .F8_E5M2, .F8_E4M3FNUZ, .F8_E5M2FNUZ, .F8_E8M0: return 8
        case .F16, .BF16, .I16, .U16: return 16
        case .F32, .I32, .U32: return 32
        case .F64, .I64, .U64, .C64: return 64
        }
    }

    /// Bytes per element, rounded up for the sub-byte F4 and F6 (use `bitSize` for those).
    public var byteSize: Int { (bitSize + 7) / 8 }

    /// A real floating-point dtype (every F* and BF16; not the complex C64).
    public var isFloatingPoint: Bool {
        switch self {
        case .F64, .F32, .F16, .BF16, .F8_E4M3, .F8_E5M2, .F8_E4M3FNUZ, .F8_E5M2FNUZ, .F8_E8M0, .F4, .F6_E2M3, .F6_E3M2:
            return true
        default: return false
        }
    }

    /// A signed or unsigned integer dtype, or BOOL.
    public var isInteger: Bool {
        switch self {
        case .I64, .I32, .I16, .I8, .U64, .U32, .U16, .U8, .BOOL: return true
        default: return false
        }
    }

    /// Whether `SafetensorsFile.tensor(_:)` converts this dtype to Float32 (all but C64 and the F6 formats).
    public var convertsToFloat32: Bool {
        switch self {
        case .C64, .F6_E2M3, .F6_E3M2: return false
        default: return true
        }
    }
}

/// One tensor's entry in a safetensors header.
public struct SafetensorsTensorInfo: Equatable, Sendable {
    public let name: String
    public let dtype: SafetensorsDType
    public let shape: [Int]
    /// Byte range relative to the start of the data section (after the header).
    public let dataOffsets: Range<Int>

    /// Number of elements (1 for a 0-d tensor; F4 and F6 count elements, not bytes).
    public var elementCount: Int { shape.reduce(1, *) }
}

/// A parsed and validated safetensors header.
public struct SafetensorsHeader: Sendable {
    /// Tensors by name.
    public let tensors: [String: SafetensorsTensorInfo]
    /// The `__metadata__` block (string to string), when present.
    public let metadata: [String: String]?
    /// Byte offset of the data section in the file: 8 + header length.
    public let dataStart: Int

    /// The largest header this reader accepts, as in the reference implementation.
    public static let maxHeaderLength = 100_000_000

    /// Parses and validates the header of a whole safetensors file held in `bytes`.
    ///
    /// Checks everything the reference implementation checks: the length prefix against the size limit and the file
    /// size (before anything is allocated from it), UTF-8 JSON starting with '{', each entry's dtype, shape and offsets,
    /// that the bit size of each shape is whole bytes and matches its range without overflow, and that the ranges
    /// tile the data section exactly (no overlap, no gap, nothing outside the file). `file` names the file in errors.
    public static func parse(_ bytes: UnsafeRawBufferPointer, file: String) throws -> SafetensorsHeader {
        let fileSize = bytes.count
        guard fileSize >= 8 else {
            throw DataIOError(.truncated, file: file,
                              "truncated: \(fileSize) bytes, shorter than the 8-byte header length prefix")
        }
        let n64 = UInt64(littleEndian: bytes.loadUnaligned(as: UInt64.self))
        guard n64 <= UInt64(maxHeaderLength) else {
            throw DataIOError(.headerTooLarge, file: file, "header length \(n64) exceeds the limit of \(maxHeaderLength) bytes")
        }
        let n = Int(n64)
        guard n <= fileSize - 8 else {
            throw DataIOError(.headerTooLarge, file: file,
                              "header length \(n) is larger than the \(fileSize - 8) bytes that follow the length prefix (truncated file?)")
        }
        let headerBytes = UnsafeRawBufferPointer(rebasing: bytes[8..<(8 + n)])
        guard n > 0, headerBytes[0] == UInt8(ascii: "{") else {
            throw DataIOError(.invalidJSON, file: file, "header does not start with '{'")
        }
        let json: JSONValue
        do {
            json = try JSONValue.parse(headerBytes)
        } catch let e as JSONValue.ParseError {
            throw DataIOError(e.exceedsDepthLimit ? .limitExceeded : .invalidJSON, file: file,
                              "header is not valid JSON: \(e.message) at header byte \(e.offset)")
        }
        guard case let .object(obj) = json else {
            throw DataIOError(.invalidHeader, file: file, "header is not a JSON object")
        }
        let dataLength = fileSize - 8 - n

        var metadata: [String: String]? = nil
        var infos: [String: SafetensorsTensorInfo] = [:]
        for (name, value) in obj {
            if name == "__metadata__" {
                guard case let .object(m) = value else {
                    throw DataIOError(.invalidHeader, file: file, item: name, "__metadata__ must be an object of strings")
                }
                var md: [String: String] = [:]
                for (k, v) in m {
                    guard case let .string(s) = v else {
                        throw DataIOError(.invalidHeader, file: file, item: "__metadata__",
                                          "value of key '\(k)' is not a string")
                    }
                    md[k] = s
                }
                metadata = md
                continue
            }
            infos[name] = try parseEntry(name: name, value: value, dataLength: dataLength, file: file)
        }

        // The byte ranges must tile [0, dataLength) in order.
        let sorted = infos.values.sorted {
            ($0.dataOffsets.lowerBound, $0.dataOffsets.upperBound, $0.name) < ($1.dataOffsets.lowerBound, $1.dataOffsets.upperBound, $1.name)
        }
        var expected = 0
        var previous: String? = nil
        for info in sorted {
            let r = info.dataOffsets
            if r.lowerBound < expected {
                throw DataIOError(.invalidOffsets, file: file, item: info.name,
                                  "data_offsets [\(r.lowerBound), \(r.upperBound)] overlap the bytes of '\(previous ?? "")' (which end at \(expected))")
            }
            if r.lowerBound > expected {
                throw DataIOError(.invalidOffsets, file: file, item: info.name,
                                  "data_offsets [\(r.lowerBound), \(r.upperBound)] leave a gap: the previous tensor ends at \(expected)")
            }
            expected = r.upperBound
            previous = info.name
        }
        if expected != dataLength {
            throw DataIOError(.invalidOffsets, file: file, item: previous,
                              "tensor data ends at byte \(expected) of the data section but the file holds \(dataLength) data bytes")
        }
        return SafetensorsHeader(tensors: infos, metadata: metadata, dataStart: 8 + n)
    }

    private static func parseEntry(name: String, value: JSONValue, dataLength: Int, file: String) throws -> SafetensorsTensorInfo {
        guard case let .object(e) = value else {
            throw DataIOError(.invalidHeader, file: file, item: name, "entry is not an object")
        }
        guard case let .string(dtypeName)? = e["dtype"] else {
            throw DataIOError(.invalidHeader, file: file, item: name, "missing or non-string 'dtype'")
        }
        guard let dtype = SafetensorsDType(rawValue: dtypeName) else {
            throw DataIOError(.unknownDType, file: file, item: name,
                              "unknown dtype '\(dtypeName)' (known: \(SafetensorsDType.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        guard case let .array(shapeValues)? = e["shape"] else {
            throw DataIOError(.invalidHeader, file: file, item: name, "missing or non-array 'shape'")
        }
        // Every dimension is checked before any product is formed; the element count, the bit count and the product
        // of the non-zero dimensions (which sizes the strides of an empty tensor) must all fit in Int.
        var shape: [Int] = []
        shape.reserveCapacity(shapeValues.count)
        var elements = 1, nonZero = 1
        var overflow = false
        for v in shapeValues {
            guard case let .int(d) = v, d >= 0 else {
                throw DataIOError(.invalidHeader, file: file, item: name, "shape \(JSONValue.array(shapeValues).serialized()) must hold non-negative integers")
            }
            shape.append(d)
            let (m, o) = elements.multipliedReportingOverflow(by: d)
            let (z, oz) = nonZero.multipliedReportingOverflow(by: Swift.max(d, 1))
            elements = m
            nonZero = z
            overflow = overflow || o || oz
        }
        guard case let .array(offsetValues)? = e["data_offsets"], offsetValues.count == 2,
              case let .int(begin) = offsetValues[0], case let .int(end) = offsetValues[1] else {
            throw DataIOError(.invalidHeader, file: file, item: name, "'data_offsets' must be an array of two integers")
        }
        guard begin >= 0, begin <= end else {
            throw DataIOError(.invalidOffsets, file: file, item: name, "data_offsets [\(begin), \(end)] are not an ordered, non-negative range")
        }
        guard end <= dataLength else {
            throw DataIOError(.invalidOffsets, file: file, item: name,
                              "data_offsets [\(begin), \(end)] reach past the end of the data section (\(dataLength) bytes)")
        }
        let (bits, o2) = elements.multipliedReportingOverflow(by: dtype.bitSize)
        guard !overflow, !o2 else {
            throw DataIOError(.sizeMismatch, file: file, item: name,
                              "shape \(shape) of \(dtype.rawValue) overflows: its element count or size exceeds Int.max")
        }
        guard bits % 8 == 0 else {
            throw DataIOError(.sizeMismatch, file: file, item: name,
                              "shape \(shape) of \(dtype.rawValue) holds \(bits) bits, not a whole number of bytes")
        }
        guard bits / 8 == end - begin else {
            throw DataIOError(.sizeMismatch, file: file, item: name,
                              "shape \(shape) of \(dtype.rawValue) needs \(bits / 8) bytes but data_offsets [\(begin), \(end)] hold \(end - begin)")
        }
        return SafetensorsTensorInfo(name: name, dtype: dtype, shape: shape, dataOffsets: begin..<end)
    }
}

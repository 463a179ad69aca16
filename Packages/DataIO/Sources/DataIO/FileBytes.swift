#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// Read-only bytes of a whole file, memory-mapped (or an owned copy for in-memory data).
///
/// The mapping is private and writable: tensors that borrow it (zero-copy Float32) stay correct if they are
/// ever written in place, because the kernel copies the touched pages; the file itself is never modified.
public final class FileBytes: @unchecked Sendable {
    public let base: UnsafeMutableRawPointer
    public let count: Int
    /// The file path, or a name given for in-memory data; used in error messages.
    public let name: String
    private let mapped: Bool

    /// Maps the file at `url`.
    public init(contentsOf url: URL) throws {
        let path = url.path
        name = path
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            let e = errno
            throw DataIOError(e == ENOENT ? .notFound : .io, file: path, "cannot open: \(String(cString: strerror(e)))")
        }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw DataIOError(.io, file: path, "fstat failed: \(String(cString: strerror(errno)))") }
        guard (st.st_mode & S_IFMT) == S_IFREG else { throw DataIOError(.io, file: path, "not a regular file") }
        count = Int(st.st_size)
        if count == 0 {
            base = UnsafeMutableRawPointer.allocate(byteCount: 1, alignment: 64)
            mapped = false
            return
        }
        let p = mmap(nil, count, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0)
        guard let p, p != MAP_FAILED else {
            throw DataIOError(.io, file: path, "mmap of \(count) bytes failed: \(String(cString: strerror(errno)))")
        }
        base = p
        mapped = true
    }

    /// An owned, 64-byte aligned copy of `data`.
    public init(data: Data, name: String) {
        self.name = name
        count = data.count
        let b = UnsafeMutableRawPointer.allocate(byteCount: max(data.count, 1), alignment: 64)
        data.withUnsafeBytes { if $0.count > 0 { b.copyMemory(from: $0.baseAddress!, byteCount: $0.count) } }
        base = b
        mapped = false
    }

    deinit {
        if mapped { munmap(base, count) } else { base.deallocate() }
    }

    public var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: count) }

    /// Maps the pages of `range` in one call (MADV_POPULATE_READ, Linux 5.14+) instead of one page fault per
    /// page during conversion; a no-op where unsupported.
    func populate(_ range: Range<Int>) {
        #if os(Linux)
        guard mapped, range.count >= 1 << 20 else { return }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let lo = range.lowerBound / page * page
        _ = madvise(base + lo, range.upperBound - lo, 22 /* MADV_POPULATE_READ */)
        #endif
    }
}

extension FileBytes {
    /// The largest config or run-settings JSON file read (diffusers' configs are a few KB).
    public static let maxConfigFileSize = 16 << 20

    /// The whole contents of a regular file of at most `limit` bytes, copied out of a mapping: a larger file is a
    /// `limitExceeded` error naming it and its size, raised before anything is read or allocated from it.
    public static func readSmallFile(_ url: URL, limit: Int = maxConfigFileSize) throws -> Data {
        let f = try FileBytes(contentsOf: url)
        guard f.count <= limit else {
            throw DataIOError(.limitExceeded, file: f.name, "file of \(f.count) bytes exceeds the limit of \(limit) bytes for this kind of file")
        }
        return Data(f.bytes)
    }
}

/// Asks for transparent huge pages on a large fresh allocation before it is first written (fewer page faults
/// when the system's THP mode is "madvise"); a no-op elsewhere.
func adviseHugePages(_ p: UnsafeMutableRawPointer, byteCount: Int) {
    #if os(Linux)
    let huge = 2 << 20
    guard byteCount >= 2 * huge else { return }
    let start = (Int(bitPattern: p) + huge - 1) / huge * huge
    let end = (Int(bitPattern: p) + byteCount) / huge * huge
    if end > start { _ = madvise(UnsafeMutableRawPointer(bitPattern: start), end - start, 14 /* MADV_HUGEPAGE */) }
    #endif
}

/// A file descriptor opened for writing, with buffered, error-checked writes.
final class FileSink {
    let fd: Int32
    let path: String
    private var buffer: UnsafeMutableRawPointer
    private let capacity = 1 << 20
    private var used = 0

    init(fd: Int32, path: String) {
        self.fd = fd
        self.path = path
        buffer = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 64)
    }

    deinit { buffer.deallocate() }

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard bytes.count > 0 else { return }
        if used + bytes.count > capacity { try flush() }
        if bytes.count >= capacity {
            try writeAll(bytes.baseAddress!, bytes.count)
        } else {
            (buffer + used).copyMemory(from: bytes.baseAddress!, byteCount: bytes.count)
            used += bytes.count
        }
    }

    func write(_ data: Data) throws { try data.withUnsafeBytes { try write($0) } }

    /// A writable region of up to `capacity` bytes inside the buffer; `body` returns how many bytes it filled.
    func withReservedSpace(_ size: Int, _ body: (UnsafeMutableRawPointer) -> Void) throws {
        precondition(size <= capacity)
        if used + size > capacity { try flush() }
        body(buffer + used)
        used += size
    }

    var chunkCapacity: Int { capacity }

    func flush() throws {
        if used > 0 { try writeAll(buffer, used) }
        used = 0
    }

    private func writeAll(_ p: UnsafeRawPointer, _ n: Int) throws {
        var done = 0
        while done < n {
            let r = posixWrite(fd, p + done, n - done)
            if r < 0 {
                if errno == EINTR { continue }
                throw DataIOError(.io, file: path, "write failed: \(String(cString: strerror(errno)))")
            }
            done += r
        }
    }
}

#if canImport(Glibc)
let posixWrite = Glibc.write
#elseif canImport(Darwin)
let posixWrite = Darwin.write
#endif

#if canImport(Glibc)
let posixClose = Glibc.close
#elseif canImport(Darwin)
let posixClose = Darwin.close
#endif

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// Appends metrics as JSON Lines: one JSON object per line, written with one `write` call each, so that
/// another process reading the file while the run goes on sees whole lines (and at worst one unfinished last line,
/// which `MetricsLog.read` skips).
public final class MetricsLogWriter {
    public let url: URL
    private var fd: Int32
    private let lock = NSLock()

    /// Opens `url` for appending (creating it); `truncate` starts a fresh file instead.
    public init(url: URL, truncate: Bool = false) throws {
        self.url = url
        fd = open(url.path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | (truncate ? O_TRUNC : 0), 0o644)
        guard fd >= 0 else { throw DataIOError(.io, file: url.path, "cannot open metrics log: \(String(cString: strerror(errno)))") }
    }

    deinit { close() }

    /// Writes one record as a line.
    public func log(_ record: [String: JSONValue]) throws {
        let line = Array((JSONValue.object(record).serialized() + "\n").utf8)
        lock.lock()
        defer { lock.unlock() }
        guard fd >= 0 else { throw DataIOError(.io, file: url.path, "metrics log is closed") }
        try line.withUnsafeBytes { b in
            var done = 0
            while done < b.count {
                let r = posixWrite(fd, b.baseAddress! + done, b.count - done)
                if r < 0 {
                    if errno == EINTR { continue }
                    throw DataIOError(.io, file: url.path, "write failed: \(String(cString: strerror(errno)))")
                }
                done += r
            }
        }
    }

    /// Writes `{"step": step, ...values, ...extra}`.
    public func log(step: Int, _ values: [String: Double], extra: [String: JSONValue] = [:]) throws {
        var r = extra
        for (k, v) in values { r[k] = .double(v) }
        r["step"] = .int(step)
        try log(r)
    }

    /// Flushes to disk (fsync).
    public func sync() throws {
        lock.lock()
        defer { lock.unlock() }
        if fd >= 0 && fsync(fd) != 0 { throw DataIOError(.io, file: url.path, "fsync failed: \(String(cString: strerror(errno)))") }
    }

    public func close() {
        lock.lock()
        defer { lock.unlock() }
        if fd >= 0 { _ = posixClose(fd); fd = -1 }
    }
}

/// Reading JSON Lines metrics logs.
public enum MetricsLog {
    /// The records of a log. A last line without its newline (a write in progress) is skipped; any other line that
    /// is not a JSON object is an error naming the line number (one nested deeper than 64: `limitExceeded`). The file
    /// is mapped, not read: the records are sized by what the lines hold.
    public static func read(_ url: URL) throws -> [[String: JSONValue]] {
        let bytes = try FileBytes(contentsOf: url)
        var out: [[String: JSONValue]] = []
        let b = bytes.bytes
        var start = 0
        var line = 1
        while start < b.count {
            guard let nl = b[start...].firstIndex(of: 0x0A) else { break }  // unfinished last line
            let slice = UnsafeRawBufferPointer(rebasing: b[start..<nl])
            if !slice.allSatisfy({ $0 == 0x20 || $0 == 0x0D || $0 == 0x09 }) {
                do {
                    guard case let .object(o) = try JSONValue.parse(slice) else {
                        throw DataIOError(.invalidJSON, file: url.path, item: "line \(line)", "not a JSON object")
                    }
                    out.append(o)
                } catch let e as JSONValue.ParseError {
                    throw DataIOError(e.exceedsDepthLimit ? .limitExceeded : .invalidJSON, file: url.path, item: "line \(line)",
                                      "invalid JSON: \(e)")
                }
            }
            start = nl + 1
            line += 1
        }
        return out
    }

    /// The (x, y) pairs of records holding numeric `key` (and numeric `x`, "step" by default), in file order.
    public static func series(_ records: [[String: JSONValue]], key: String, x: String = "step") -> (x: [Double], y: [Double]) {
        var xs: [Double] = [], ys: [Double] = []
        for r in records {
            if let xv = r[x]?.doubleValue, let yv = r[key]?.doubleValue {
                xs.append(xv)
                ys.append(yv)
            }
        }
        return (xs, ys)
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// Crash-safe file replacement: write a temporary file in the same folder, fsync it, rename it over the target,
/// then fsync the folder. A reader sees either the old complete file or the new complete file, never a partial one.
public enum AtomicFile {
    /// The prefix of temporary files; discovery functions skip files that start with it.
    public static let temporaryPrefix = ".tmp-"

    /// Atomically replaces `url` with `data`.
    public static func write(_ data: Data, to url: URL) throws {
        try write(to: url) { sink in try sink.write(data) }
    }

    /// Atomically replaces `url` with what `body` writes to the sink.
    static func write(to url: URL, _ body: (FileSink) throws -> Void) throws {
        let dir = url.deletingLastPathComponent().path
        let template = dir + "/" + temporaryPrefix + url.lastPathComponent + ".XXXXXX"
        var tmpl = Array(template.utf8CString)
        let fd = tmpl.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else {
            throw DataIOError(.io, file: url.path, "cannot create a temporary file in \(dir): \(String(cString: strerror(errno)))")
        }
        let tmpPath = String(cString: tmpl)
        var ok = false
        defer {
            if !ok { unlink(tmpPath) }
        }
        do {
            defer { close(fd) }
            _ = fchmod(fd, 0o644)
            let sink = FileSink(fd: fd, path: url.path)
            try body(sink)
            try sink.flush()
            guard fsync(fd) == 0 else { throw DataIOError(.io, file: url.path, "fsync failed: \(String(cString: strerror(errno)))") }
        }
        guard rename(tmpPath, url.path) == 0 else {
            throw DataIOError(.io, file: url.path, "rename from \(tmpPath) failed: \(String(cString: strerror(errno)))")
        }
        ok = true
        try syncDirectory(dir)
    }

    /// fsyncs a folder so that a rename inside it is durable.
    public static func syncDirectory(_ path: String) throws {
        let dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard dfd >= 0 else { throw DataIOError(.io, file: path, "cannot open folder: \(String(cString: strerror(errno)))") }
        defer { close(dfd) }
        guard fsync(dfd) == 0 || errno == EINVAL else {
            throw DataIOError(.io, file: path, "fsync of folder failed: \(String(cString: strerror(errno)))")
        }
    }
}

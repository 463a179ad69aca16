import CZlib
import Foundation

/// Gzip decompression through zlib (Foundation cannot gunzip on Linux).
enum Gzip {
    /// Inflates a complete gzip (or zlib) stream of at most `limit` bytes (a bomb fails once it passes the limit,
    /// before more is allocated); `path` only names the source in errors.
    static func decompress(_ data: [UInt8], path: String, limit: Int) throws -> [UInt8] {
        var stream = z_stream()
        // 15 window bits + 32: detect gzip or zlib headers automatically.
        guard inflateInit2_(&stream, 15 + 32, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw TokenizerError.unreadableFile(path: path, reason: "zlib inflateInit2 failed")
        }
        defer { inflateEnd(&stream) }
        var output = [UInt8]()
        output.reserveCapacity(min(max(data.count * 4, 1 << 16), limit))
        var chunk = [UInt8](repeating: 0, count: 1 << 18)
        var input = data
        var overLimit = false
        let status: Int32 = input.withUnsafeMutableBufferPointer { inBuf in
            stream.next_in = inBuf.baseAddress
            stream.avail_in = uInt(inBuf.count)
            var status = Z_OK
            repeat {
                chunk.withUnsafeMutableBufferPointer { outBuf in
                    stream.next_out = outBuf.baseAddress
                    stream.avail_out = uInt(outBuf.count)
                    status = inflate(&stream, Z_NO_FLUSH)
                    let produced = outBuf.count - Int(stream.avail_out)
                    if output.count + produced > limit {
                        overLimit = true
                        return
                    }
                    if output.count + produced > output.capacity {  // grow without overshooting the limit
                        output.reserveCapacity(min(max(output.capacity * 2, output.count + produced), limit))
                    }
                    output.append(contentsOf: outBuf[0..<produced])
                }
                if overLimit { break }
                // A gzip file may hold several members: continue after each one's end.
                if status == Z_STREAM_END && stream.avail_in > 0 {
                    status = inflateReset(&stream)
                }
            } while status == Z_OK
            return status
        }
        guard !overLimit else {
            throw TokenizerError.malformed(path: path, reason: "gzip data inflates to more than the \(limit)-byte limit")
        }
        guard status == Z_STREAM_END else {
            throw TokenizerError.unreadableFile(path: path, reason: "gzip data is corrupt or truncated (zlib status \(status))")
        }
        return output
    }

    /// True when the bytes start with the gzip magic number.
    static func isGzip(_ data: [UInt8]) -> Bool { data.count >= 2 && data[0] == 0x1f && data[1] == 0x8b }
}

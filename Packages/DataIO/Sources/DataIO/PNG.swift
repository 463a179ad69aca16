import CPNG
import CPNGDecode
import Foundation

/// PNG decoding and encoding with libpng.
///
/// Decoding accepts every PNG colour type and bit depth (gray, gray+alpha, RGB, RGBA, palette with or without
/// transparency, 1 to 16 bits, interlaced) and returns 8-bit RGB, or RGBA when the file has an alpha channel or
/// transparency. 16-bit samples keep their high byte (`v >> 8`), as Pillow decodes 16-bit colour and gray+alpha;
/// gamma and colour chunks are ignored, as in Pillow. Decoding uses libpng's full API from a small C file that owns
/// the setjmp (see CPNGDecode/decode.c for why not the simplified API); encoding uses the simplified `png_image` API.
///
/// Hostile input: before libpng sees the bytes, every chunk's declared length is checked against the bytes left,
/// ancillary chunks are capped, and the image size against `maxPixels` and against what its IDAT bytes can hold;
/// libpng then skips every ancillary chunk but tRNS unread and works within a memory budget. A decode allocates at
/// most the output (width x height x channels bytes) plus libpng's budget (1 MiB + three rows of 16-bit RGBA).
public enum PNG {
    private static let formatRGB: UInt32 = 0x02
    private static let formatRGBA: UInt32 = 0x03

    /// Images with more pixels than this are refused before any pixel memory is allocated. The default, 2048 x 2048,
    /// bounds one decode to 16 MiB of output (RGBA), so that no input can make it take more than the memory goal
    /// (64 MB resident); raise it to read larger images.
    nonisolated(unsafe) public static var maxPixels = 1 << 22
    /// The largest ancillary chunk (text, metadata, colour profile; all skipped unread) a file may hold.
    public static let maxAncillaryChunkBytes = 16 << 20
    /// The most ancillary chunk bytes a file may hold in all.
    public static let maxAncillaryBytes = 64 << 20
    /// Deflate's largest expansion: 258 bytes from 2 bits. IDAT data smaller than 1/1032 of the image cannot hold it.
    static let maxDeflateRatio = 1032

    /// What one decode cost: the most bytes libpng held at once and the bytes of the output pixel buffer (allocated
    /// only for a file that passed every check above). For tests and the fuzz target's memory bound.
    public struct DecodeCost: Sendable, Equatable {
        public var libpngPeakBytes = 0
        public var pixelBytes = 0
        public init() {}
    }

    /// Decodes PNG bytes; `name` identifies the source in errors.
    public static func decode(_ data: Data, name: String = "<memory>") throws -> RasterImage {
        try data.withUnsafeBytes { try decode($0, name: name) }
    }

    /// Decodes PNG bytes; `name` identifies the source in errors.
    public static func decode(_ bytes: UnsafeRawBufferPointer, name: String = "<memory>") throws -> RasterImage {
        var cost = DecodeCost()
        return try decode(bytes, name: name, cost: &cost)
    }

    /// Decodes PNG bytes and reports what the decode allocated in `cost` (also when it throws).
    public static func decode(_ bytes: UnsafeRawBufferPointer, name: String = "<memory>",
                              cost: inout DecodeCost) throws -> RasterImage {
        cost = DecodeCost()
        let header = try checkChunks(bytes, name: name)
        // libpng's buffers: struct, zlib state and an 8 KiB read buffer (well under 1 MiB), plus two rows at
        // the widest intermediate pixel (8 bytes, 16-bit RGBA) and slack.
        let budget = (1 << 20) + 3 * (8 * header.width + 64)
        var status = dataio_png_status()
        let reader = dataio_png_open(bytes.baseAddress, bytes.count, maxPixels, budget, &status)
        cost.libpngPeakBytes = status.libpng_peak_bytes
        guard let reader else { throw failure(&status, name: name) }
        let n = Int(status.width) * Int(status.height) * Int(status.channels)
        cost.pixelBytes = n
        var ok: Int32 = 0
        // Decoded straight into the array's storage: no second copy of the pixels.
        let pixels = [UInt8](unsafeUninitializedCapacity: n) { buf, count in
            ok = dataio_png_read(reader, buf.baseAddress, &status)
            count = ok != 0 ? n : 0
        }
        cost.libpngPeakBytes = status.libpng_peak_bytes
        guard ok != 0 else { throw failure(&status, name: name) }
        return try RasterImage(width: Int(status.width), height: Int(status.height), channels: Int(status.channels),
                               pixels: pixels)
    }

    private static func failure(_ status: inout dataio_png_status, name: String) -> DataIOError {
        let msg = withUnsafeBytes(of: &status.message) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        return DataIOError(.image, file: name, msg.hasPrefix("not a PNG") ? msg : "corrupt PNG: \(msg)")
    }

    /// The IHDR fields the checks need.
    struct Header {
        var width = 0, height = 0, bitDepth = 0, colorType = 0, interlaced = false
    }

    /// Walks the chunk list without trusting it: every declared length must fit in the bytes left (before libpng
    /// would allocate for it), ancillary chunks stay under their caps, and IHDR's image must fit `maxPixels` and be
    /// one the IDAT bytes can hold at deflate's largest expansion. Errors name the chunk type and its length.
    static func checkChunks(_ bytes: UnsafeRawBufferPointer, name: String) throws -> Header {
        let signature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
        guard bytes.count >= 8, bytes.prefix(8).elementsEqual(signature) else {
            throw DataIOError(.image, file: name, "not a PNG file (missing the PNG signature)")
        }
        func u32(_ at: Int) -> Int {
            Int(bytes[at]) << 24 | Int(bytes[at + 1]) << 16 | Int(bytes[at + 2]) << 8 | Int(bytes[at + 3])
        }
        func corrupt(_ type: String?, _ message: String) -> DataIOError {
            DataIOError(.image, file: name, item: type, "corrupt PNG: \(message)")
        }
        func overLimit(_ type: String, _ message: String) -> DataIOError {
            DataIOError(.image, file: name, item: type, "PNG over a decoder limit: \(message)")
        }
        var header = Header()
        var pos = 8, idatBytes = 0, ancillaryBytes = 0, sawIHDR = false
        while true {
            let left = bytes.count - pos
            guard left > 0 else { throw corrupt(nil, "the data ends before the IEND chunk (truncated file)") }
            guard left >= 12 else {
                throw corrupt(nil, "\(left) bytes left at offset \(pos), too few for a chunk (12 bytes at least; truncated file)")
            }
            let length = u32(pos)
            let typeBytes = bytes[(pos + 4)..<(pos + 8)]
            guard typeBytes.allSatisfy({ (0x41...0x5A).contains($0) || (0x61...0x7A).contains($0) }) else {
                let hex = typeBytes.map { String(format: "%02x", $0) }.joined()
                throw corrupt(nil, "invalid chunk type 0x\(hex) at offset \(pos)")
            }
            let type = String(decoding: typeBytes, as: UTF8.self)
            guard length <= 0x7FFF_FFFF else { throw corrupt(type, "chunk declares \(length) bytes, over the PNG limit of 2^31 - 1") }
            guard length <= left - 12 else {
                throw corrupt(type, "chunk declares \(length) bytes of data, but only \(left - 12) are left in the input (truncated or corrupt)")
            }
            if !sawIHDR {
                guard type == "IHDR", length == 13 else {
                    throw corrupt(type, "the first chunk must be IHDR of 13 bytes, found '\(type)' of \(length) bytes")
                }
                let d = pos + 8
                header = Header(width: u32(d), height: u32(d + 4), bitDepth: Int(bytes[d + 8]), colorType: Int(bytes[d + 9]),
                                interlaced: bytes[d + 12] != 0)
                sawIHDR = true
            }
            if typeBytes.first! & 0x20 != 0 {  // ancillary: lower-case first letter
                guard length <= maxAncillaryChunkBytes else {
                    throw overLimit(type, "ancillary chunk declares \(length) bytes, over the limit of \(maxAncillaryChunkBytes)")
                }
                ancillaryBytes += length
                guard ancillaryBytes <= maxAncillaryBytes else {
                    throw overLimit(type, "ancillary chunks hold \(ancillaryBytes) bytes by this one, over the limit of \(maxAncillaryBytes)")
                }
            }
            if type == "IDAT" { idatBytes += length }
            pos += 12 + length
            if type == "IEND" { break }
        }
        let (w, h) = (header.width, header.height)
        guard w > 0, h > 0, w <= 0x7FFF_FFFF, h <= 0x7FFF_FFFF else {
            throw corrupt("IHDR", "invalid image size \(w)x\(h)")
        }
        guard w * h <= maxPixels else {
            throw overLimit("IHDR", "a \(w)x\(h) image (\(w * h) pixels) is over the limit of PNG.maxPixels = \(maxPixels) (raise it to read larger images)")
        }
        let samples = [0: 1, 2: 3, 3: 1, 4: 2, 6: 4][header.colorType]
        if let samples, [1, 2, 4, 8, 16].contains(header.bitDepth) {  // otherwise libpng names the bad field
            let raw = filteredBytes(width: w, height: h, bitsPerPixel: samples * header.bitDepth, interlaced: header.interlaced)
            guard raw <= maxDeflateRatio * idatBytes else {
                throw corrupt("IDAT", "IDAT chunks hold \(idatBytes) bytes, too few for a \(w)x\(h) image of \(raw) bytes (deflate expands at most \(maxDeflateRatio):1)")
            }
        }
        return header
    }

    /// Bytes of the filtered image stream libpng inflates: one filter byte per row, per Adam7 pass when interlaced.
    static func filteredBytes(width w: Int, height h: Int, bitsPerPixel bpp: Int, interlaced: Bool) -> Int {
        func rows(_ width: Int, _ height: Int) -> Int { width == 0 || height == 0 ? 0 : height * (1 + (width * bpp + 7) / 8) }
        guard interlaced else { return rows(w, h) }
        let passes = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]
        return passes.reduce(0) { sum, p in
            sum + rows((w - p.0 + p.2 - 1) / p.2, (h - p.1 + p.3 - 1) / p.3)
        }
    }

    /// Reads and decodes a PNG file.
    public static func read(_ url: URL) throws -> RasterImage {
        let bytes = try FileBytes(contentsOf: url)
        return try decode(bytes.bytes, name: url.path)
    }

    /// Encodes an 8-bit RGB or RGBA image.
    public static func encode(_ img: RasterImage) throws -> Data {
        var image = png_image()
        image.version = UInt32(PNG_IMAGE_VERSION)
        image.width = UInt32(img.width)
        image.height = UInt32(img.height)
        image.format = img.channels == 4 ? formatRGBA : formatRGB
        var size = 0
        let stride = Int32(img.width * img.channels)
        let sized = img.pixels.withUnsafeBytes { png_image_write_to_memory(&image, nil, &size, 0, $0.baseAddress, stride, nil) }
        guard sized != 0, size > 0 else {
            let msg = message(&image)
            png_image_free(&image)
            throw DataIOError(.image, file: "<png encoder>", "encoding failed: \(msg)")
        }
        var out = Data(count: size)
        let ok = out.withUnsafeMutableBytes { dst in
            img.pixels.withUnsafeBytes { png_image_write_to_memory(&image, dst.baseAddress, &size, 0, $0.baseAddress, stride, nil) }
        }
        png_image_free(&image)
        guard ok != 0 else { throw DataIOError(.image, file: "<png encoder>", "encoding failed") }
        return out.prefix(size)
    }

    /// Encodes and writes atomically.
    public static func write(_ image: RasterImage, to url: URL) throws {
        try AtomicFile.write(encode(image), to: url)
    }

    private static func message(_ image: inout png_image) -> String {
        withUnsafeBytes(of: &image.message) { raw in
            let b = raw.prefix { $0 != 0 }
            let s = String(decoding: b, as: UTF8.self)
            return s.isEmpty ? "unknown libpng error" : s
        }
    }
}

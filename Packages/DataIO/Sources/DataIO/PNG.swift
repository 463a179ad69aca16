import CPNG
import CPNGDecode
import Foundation

/// PNG decoding and encoding with libpng.
///
/// Decoding accepts every PNG colour type and bit depth (gray, gray+alpha, RGB, RGBA, palette with or without
/// transparency, 1 to 16 bits, interlaced) and returns 8-bit RGB, or RGBA when the file has an alpha channel or
/// transparency. 16-bit samples are scaled to 8 bits (round(v / 257)); gamma chunks are ignored, as in Pillow.
/// Decoding uses libpng's full API from a small C file that owns the setjmp (see CPNGDecode/decode.c for why not
/// the simplified API); encoding uses the simplified `png_image` API.
public enum PNG {
    private static let formatRGB: UInt32 = 0x02
    private static let formatRGBA: UInt32 = 0x03

    /// Images with more pixels than this are refused (a corrupt header must not trigger a huge allocation).
    nonisolated(unsafe) public static var maxPixels = 1 << 28

    /// Decodes PNG bytes; `name` identifies the source in errors.
    public static func decode(_ data: Data, name: String = "<memory>") throws -> RasterImage {
        try data.withUnsafeBytes { try decode($0, name: name) }
    }

    /// Decodes PNG bytes; `name` identifies the source in errors.
    public static func decode(_ bytes: UnsafeRawBufferPointer, name: String = "<memory>") throws -> RasterImage {
        var r = dataio_png_result()
        guard dataio_png_decode(bytes.baseAddress, bytes.count, maxPixels, &r) != 0 else {
            let msg = withUnsafeBytes(of: &r.message) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            throw DataIOError(.image, file: name, msg.hasPrefix("not a PNG") ? msg : "corrupt PNG: \(msg)")
        }
        defer { dataio_png_free(&r) }
        let n = Int(r.width) * Int(r.height) * Int(r.channels)
        let pixels = Array(UnsafeBufferPointer(start: r.pixels, count: n))
        return try RasterImage(width: Int(r.width), height: Int(r.height), channels: Int(r.channels), pixels: pixels)
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

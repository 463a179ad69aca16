import DataIO
import Foundation
import Tensor
import XCTest

final class PNGTests: XCTestCase {
    static let fixtureNames = ["pil_1bit", "pil_gray", "pil_gray16", "pil_gray_alpha", "pil_palette", "pil_palette_trns",
                               "pil_rgb", "pil_rgba", "raw_gray16_interlaced", "raw_gray2", "raw_gray_alpha16",
                               "raw_palette4_interlaced_trns", "raw_rgb16", "raw_rgb16_trns", "raw_rgb8_interlaced", "raw_rgba16"]

    /// Files written by Pillow (and the script's encoder for 16-bit colour, 2/4-bit and interlaced) decode to the
    /// pixels Pillow / NumPy expect (16-bit: Pillow's high byte; see dataio_png.py for gray 16 and 16-bit tRNS).
    func testDecodesEveryColourTypeLikePillow() throws {
        let expected = try SafetensorsFile(contentsOf: fixtureURL("png/png_expected.safetensors"))
        XCTAssertEqual(Set(expected.tensorNames), Set(Self.fixtureNames))
        for name in Self.fixtureNames {
            let img = try PNG.read(fixtureURL("png/\(name).png"))
            let info = try expected.info(name)
            XCTAssertEqual([img.height, img.width, img.channels], info.shape, name)
            XCTAssertEqual(img.pixels, try expected.uint8s(name), name)
        }
    }

    static func swiftPattern(width: Int, height: Int, channels: Int) -> RasterImage {
        var p = [UInt8]()
        for y in 0..<height {
            for x in 0..<width {
                let c = [(x * 37 + y * 11) % 256, (x * y * 7) % 256, (255 - x * 5 + y * 3 + 256) % 256, (x * 13 + y * 29) % 256]
                p += c.prefix(channels).map { UInt8($0) }
            }
        }
        return try! RasterImage(width: width, height: height, channels: channels, pixels: p)
    }

    /// PNGs written here open in Pillow with the same pixels (`dataio_png.py --verify` checks the committed copies);
    /// here: the committed files still decode to the pattern and a fresh encoding round-trips.
    func testSwiftWrittenPNGsAreCommitted() throws {
        for (file, ch) in [("swift_rgb.png", 3), ("swift_rgba.png", 4)] {
            let img = Self.swiftPattern(width: 23, height: 17, channels: ch)
            let data = try PNG.encode(img)
            if let out = ProcessInfo.processInfo.environment["DATAIO_FIXTURE_OUT"] {
                try PNG.write(img, to: URL(fileURLWithPath: out).appendingPathComponent(file))
            }
            XCTAssertEqual(try PNG.decode(data), img)
            XCTAssertEqual(try PNG.read(fixtureURL("png/\(file)")), img, file)
        }
    }

    func testCorruptInputIsAClearError() throws {
        let good = try Data(contentsOf: fixtureURL("png/pil_rgb.png"))
        assertDataIOError(.image, file: "empty.png") { try PNG.decode(Data(), name: "empty.png") }
        assertDataIOError(.image, file: "text.png") { try PNG.decode(Data("hello, not a png".utf8), name: "text.png") }
        assertDataIOError(.image, file: "cut.png") { try PNG.decode(good.prefix(good.count / 2), name: "cut.png") }
        assertDataIOError(.image, file: "header-only.png") { try PNG.decode(good.prefix(33), name: "header-only.png") }
        var badCRC = good
        badCRC[30] ^= 0xFF  // inside IHDR's CRC
        assertDataIOError(.image, file: "crc.png") { try PNG.decode(badCRC, name: "crc.png") }
        var badData = good
        for i in 60..<min(90, good.count - 12) { badData[i] = 0xA5 }  // inside IDAT
        assertDataIOError(.image, file: "idat.png") { try PNG.decode(badData, name: "idat.png") }
        assertDataIOError(.notFound, file: "missing.png") { try PNG.read(URL(fileURLWithPath: "/nonexistent/missing.png")) }
        // Every truncation fails cleanly.
        for cut in stride(from: 0, to: good.count, by: 7) {
            XCTAssertThrowsError(try PNG.decode(good.prefix(cut), name: "cut"))
        }
    }

    /// The reproducer of the out-of-memory the fuzzer found: an 11x9 RGB image whose tEXt chunk declares
    /// 2,113,929,266 bytes. libpng 1.6.39 allocated and zeroed 2 GB for it (9 s) before failing; now the chunk
    /// walk rejects it before libpng runs, naming the chunk and its length.
    func testChunkLengthPastTheEndIsRejectedBeforeAnyAllocation() throws {
        let hostile = TestPNG.hostileTextLength()
        XCTAssertEqual(hostile, try Data(contentsOf: fixtureURL("png/hostile_text_length.png")), "the committed fixture")
        let start = Date()
        var cost = PNG.DecodeCost()
        assertDataIOError(.image, file: "hostile.png", item: "tEXt") {
            try hostile.withUnsafeBytes { try PNG.decode($0, name: "hostile.png", cost: &cost) }
        }
        XCTAssertLessThan(Date().timeIntervalSince(start), 1, "fails fast (measured: well under 1 ms)")
        XCTAssertEqual(cost, PNG.DecodeCost(), "nothing allocated: libpng never ran")
        XCTAssertThrowsError(try PNG.decode(hostile)) { e in
            XCTAssertTrue("\(e)".contains("declares 2113929266 bytes of data"), "\(e)")
        }
        // The same for every chunk of a good file, at every hostile length.
        let good = TestPNG.make(width: 11, height: 9, colorType: 2, bitDepth: 8, samples: TestPNG.pattern(11 * 9 * 3),
                                extra: [("tEXt", Array("Comment\0hello".utf8))])
        let chunks = TestPNG.chunks(good)
        XCTAssertEqual(chunks.map(\.type), ["IHDR", "tEXt", "IDAT", "IEND"])
        XCTAssertNoThrow(try PNG.decode(good))
        for c in chunks {
            let pastTheEnd = UInt32(good.count - c.offset - 12 + 1)  // one byte more than is left
            for length in [pastTheEnd, UInt32(good.count), 2_113_929_266, 0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFF] {
                var bad = good
                withUnsafeBytes(of: length.bigEndian) { bad.replaceSubrange(c.offset..<(c.offset + 4), with: $0) }
                var cost = PNG.DecodeCost()
                assertDataIOError(.image, file: "bad", item: c.type, {
                    try bad.withUnsafeBytes { try PNG.decode($0, name: "bad", cost: &cost) }
                }, "\(c.type) declaring \(length)")
                XCTAssertEqual(cost, PNG.DecodeCost(), "\(c.type) declaring \(length)")
            }
        }
    }

    /// Ancillary chunks are capped (each and in all) and, under the caps, skipped by libpng without being buffered.
    func testAncillaryChunksAreCappedAndNeverBuffered() throws {
        let samples = TestPNG.pattern(11 * 9 * 3)
        let big = [UInt8](repeating: 0x41, count: 4 << 20)
        for type in ["tEXt", "zTXt", "iTXt", "iCCP", "eXIf", "prIv"] {
            let file = TestPNG.make(width: 11, height: 9, colorType: 2, bitDepth: 8, samples: samples, extra: [(type, big)])
            var cost = PNG.DecodeCost()
            let img = try file.withUnsafeBytes { try PNG.decode($0, name: type, cost: &cost) }
            XCTAssertEqual(img.pixels, samples, type)
            XCTAssertLessThan(cost.libpngPeakBytes, 256 << 10, "\(type): libpng skipped 4 MiB without buffering it")
        }
        // Over the per-chunk cap: the declared length is within the file, the cap still refuses it.
        let one = TestPNG.make(width: 11, height: 9, colorType: 2, bitDepth: 8, samples: samples,
                               extra: [("tEXt", [UInt8](repeating: 0, count: PNG.maxAncillaryChunkBytes + 1))])
        assertDataIOError(.image, file: "one", item: "tEXt") { try PNG.decode(one, name: "one") }
        // Over the total cap: five chunks each under the per-chunk cap.
        let chunk = [UInt8](repeating: 0, count: PNG.maxAncillaryChunkBytes)
        let many = TestPNG.make(width: 11, height: 9, colorType: 2, bitDepth: 8, samples: samples,
                                extra: Array(repeating: ("zTXt", chunk), count: PNG.maxAncillaryBytes / chunk.count + 1))
        assertDataIOError(.image, file: "many", item: "zTXt") { try PNG.decode(many, name: "many") }
    }

    /// IHDR is checked before any pixel memory exists: against `maxPixels`, and against what the IDAT bytes could
    /// hold at deflate's largest expansion (1032:1), which no valid file exceeds.
    func testImageSizeIsCheckedAgainstTheLimitAndTheIDATBytes() throws {
        var cost = PNG.DecodeCost()
        let huge = TestPNG.withIHDRSize(TestPNG.make(width: 1, height: 1, colorType: 6, bitDepth: 16, samples: [1, 2, 3, 4, 5, 6, 7, 8]),
                                        width: 40_000, height: 40_000)
        assertDataIOError(.image, file: "huge", item: "IHDR") { try huge.withUnsafeBytes { try PNG.decode($0, name: "huge", cost: &cost) } }
        XCTAssertEqual(cost, PNG.DecodeCost())
        // 2000x2000 RGBA is under maxPixels, but 16 bytes of IDAT cannot inflate to its 16 MB.
        let big = TestPNG.withIHDRSize(TestPNG.make(width: 1, height: 1, colorType: 6, bitDepth: 8, samples: [1, 2, 3, 4]),
                                       width: 2000, height: 2000)
        assertDataIOError(.image, file: "big", item: "IDAT") { try big.withUnsafeBytes { try PNG.decode($0, name: "big", cost: &cost) } }
        XCTAssertEqual(cost, PNG.DecodeCost())
        let noData = Data(TestPNG.chunks(big).filter { $0.type != "IDAT" }.flatMap { Array(big[$0.offset..<($0.offset + 12 + $0.length)]) })
        assertDataIOError(.image, file: "no-idat", item: "IDAT") { try PNG.decode(Data(big.prefix(8)) + noData, name: "no-idat") }
        // Near the ratio bound, a valid file still decodes: zlib's best on a blank 2048x2048 RGBA image.
        let blank = RasterImage(width: 2048, height: 2048, color: [0, 0, 0, 0])
        let encoded = try PNG.encode(blank)
        let ratio = Double(2048 * (1 + 2048 * 4)) / Double(TestPNG.chunks(encoded).filter { $0.type == "IDAT" }.reduce(0) { $0 + $1.length })
        XCTAssertGreaterThan(ratio, 500, "zlib compresses a blank image close to deflate's bound")
        let start = Date()
        XCTAssertEqual(try encoded.withUnsafeBytes { try PNG.decode($0, cost: &cost) }, blank)
        XCTAssertLessThan(Date().timeIntervalSince(start), 1)
        XCTAssertEqual(cost.pixelBytes, 2048 * 2048 * 4)
        XCTAssertLessThan(cost.libpngPeakBytes, 512 << 10, "libpng's rows, zlib state and read buffer")
        // The pixel limit is adjustable.
        let saved = PNG.maxPixels
        PNG.maxPixels = 2048 * 2048 - 1
        defer { PNG.maxPixels = saved }
        assertDataIOError(.image, file: "<memory>", item: "IHDR") { try PNG.decode(encoded) }
    }

    /// The goal for hostile input: every input below 1 MB that is not an image fails fast and allocates little.
    /// Here: every single-byte corruption of the chunk headers and IHDR of a small file, every truncation, and the
    /// fuzz corpus; each must cost under 64 MB (output + libpng's peak), all together well under a second each.
    func testHostileInputsFailFastWithinTheMemoryGoal() throws {
        let good = TestPNG.make(width: 33, height: 17, colorType: 6, bitDepth: 16, samples: TestPNG.pattern(33 * 17 * 4 * 2),
                                extra: [("tEXt", Array("k\0v".utf8))], interlaced: true)
        var inputs = [Data]()
        for c in TestPNG.chunks(good) {
            for i in c.offset..<min(c.offset + 8 + (c.type == "IHDR" ? 13 : 0), good.count) {
                for v: UInt8 in [0x00, 0x7F, 0x80, 0xFF] { var d = good; d[i] = v; inputs.append(d) }
            }
        }
        inputs += stride(from: 0, to: good.count, by: 5).map { good.prefix($0) }
        inputs.append(TestPNG.hostileTextLength())
        var worst = 0.0, worstCost = 0
        for d in inputs {
            var cost = PNG.DecodeCost()
            let start = Date()
            _ = try? d.withUnsafeBytes { try PNG.decode($0, cost: &cost) }
            worst = max(worst, Date().timeIntervalSince(start))
            worstCost = max(worstCost, cost.libpngPeakBytes + cost.pixelBytes)
        }
        XCTAssertLessThan(worst, 1, "slowest of \(inputs.count) hostile inputs (measured: under 1 ms)")
        XCTAssertLessThan(worstCost, 64 << 20)
    }

    /// 16-bit samples keep their high byte, as Pillow decodes 16-bit RGB, RGBA and gray+alpha to 8 bits (not
    /// round(v / 257): 0x01FF is 1, not 2); tRNS compares the full 16-bit samples, as the PNG specification says.
    func testSixteenBitSamplesKeepTheirHighByte() throws {
        let values: [UInt16] = [0x0000, 0x00FF, 0x0100, 0x01FF, 0x7FFF, 0x8000, 0x80FF, 0xFE80, 0xFFFF, 0x012C]
        let bytes = values.flatMap { [UInt8($0 >> 8), UInt8($0 & 0xFF)] }
        let high = values.map { UInt8($0 >> 8) }
        for (colorType, channels) in [(0, 1), (4, 2), (2, 3), (6, 4)] {
            let n = values.count / channels * channels
            let file = TestPNG.make(width: n / channels, height: 1, colorType: colorType, bitDepth: 16, samples: Array(bytes.prefix(2 * n)))
            let img = try PNG.decode(file)
            let want: [UInt8] = switch channels {
            case 1: high.prefix(n).flatMap { [$0, $0, $0] }
            case 2: stride(from: 0, to: n, by: 2).flatMap { [high[$0], high[$0], high[$0], high[$0 + 1]] }
            default: Array(high.prefix(n))
            }
            XCTAssertEqual(img.pixels, want, "colour type \(colorType)")
        }
        // Gray 16 with tRNS 0x012C: only the exact 16-bit sample is transparent (0x01FF has the same high byte).
        let trns = TestPNG.make(width: values.count, height: 1, colorType: 0, bitDepth: 16, samples: bytes,
                                before: [("tRNS", [0x01, 0x2C])])
        let img = try PNG.decode(trns)
        XCTAssertEqual(img.channels, 4)
        XCTAssertEqual((0..<values.count).map { img.pixel(x: $0, y: 0)[3] }, values.map { $0 == 0x012C ? 0 : 255 })
    }

    func testImageTensorConversionMatchesDiffusersFormula() throws {
        let img = Self.swiftPattern(width: 5, height: 3, channels: 4)
        let t = img.tensor()
        XCTAssertEqual(t.shape, [4, 3, 5])
        // Independent reference: numpy's 2 * (p / 255) - 1 in float32, pixel by pixel.
        for c in 0..<4 { for y in 0..<3 { for x in 0..<5 {
            let p = Float(img.pixel(x: x, y: y)[c])
            XCTAssertEqual(t[c, y, x], 2 * (p / 255) - 1)
        } } }
        XCTAssertEqual(try RasterImage(tensor: t), img, "image -> tensor -> image is exact")
        // Rounding (half to even) and clamping.
        let values: [Float] = [-2, -1, -0.99, 0, 1 / 255, 0.5, 1, 3, -Float.infinity, .infinity, 2 * (0.5 / 255) - 1, 2 * (1.5 / 255) - 1]
        let back = try RasterImage(tensor: Tensor(shape: [1, 1, values.count], scalars: values))
        let want: [UInt8] = values.map { x in
            let v = Double(min(max(x / 2 + 0.5, 0), 1) * 255)
            return UInt8(v.rounded(.toNearestOrEven))
        }
        XCTAssertEqual(back.channels, 3)
        XCTAssertEqual((0..<values.count).map { back.pixel(x: $0, y: 0)[0] }, want)
        XCTAssertEqual(Array(want.prefix(7)), [0, 0, 1, 128, 128, 191, 255])
        assertDataIOError(.invalidArgument, file: "<tensor>") { try RasterImage(tensor: Tensor(shape: [1, 1, 1], scalars: [.nan])) }
        assertDataIOError(.invalidArgument, file: "<tensor>") { try RasterImage(tensor: Tensor(shape: [2, 1, 1], scalars: [0, 0])) }
    }

    func testGridPlacesEachImageWithMargins() throws {
        var batch = [Float]()
        let n = 5, h = 3, w = 4
        for i in 0..<n { for c in 0..<3 { for k in 0..<(h * w) { batch.append(Float(i) / 5 - Float(c) / 10 + Float(k) / 100) } } }
        let bt = Tensor(shape: [n, 3, h, w], scalars: batch)
        let grid = try ImageGrid.make(batch: bt, columns: 2, margin: 3, background: [10, 20, 30])
        XCTAssertEqual(grid.width, 2 * w + 3 * 3)
        XCTAssertEqual(grid.height, 3 * h + 4 * 3)
        let singles = try RasterImage.images(batch: bt)
        for i in 0..<n {
            let x0 = 3 + (i % 2) * (w + 3), y0 = 3 + (i / 2) * (h + 3)
            for y in 0..<h { for x in 0..<w { XCTAssertEqual(grid.pixel(x: x0 + x, y: y0 + y), singles[i].pixel(x: x, y: y)) } }
        }
        XCTAssertEqual((grid.pixel(x: 0, y: 0)), [10, 20, 30])
        XCTAssertEqual((grid.pixel(x: grid.width - 1, y: grid.height - 1)), [10, 20, 30], "the empty 6th cell is background")
        XCTAssertEqual((grid.pixel(x: 3 + w + 1, y: 3)), [10, 20, 30], "margin between columns")
        assertDataIOError(.invalidArgument, file: "<grid>") {
            try ImageGrid.make([RasterImage(width: 2, height: 2, color: [0, 0, 0]), RasterImage(width: 3, height: 2, color: [0, 0, 0])], columns: 2)
        }
    }
}

/// A small PNG writer for tests: chunks with real CRCs, IDAT as stored (uncompressed) deflate blocks.
enum TestPNG {
    struct Chunk { var offset: Int; var length: Int; var type: String }

    static let crcTable: [UInt32] = (0..<256).map { n in
        var c = UInt32(n)
        for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }

    static func crc32(_ bytes: [UInt8]) -> UInt32 {
        var c: UInt32 = 0xFFFF_FFFF
        for b in bytes { c = crcTable[Int((c ^ UInt32(b)) & 0xFF)] ^ (c >> 8) }
        return ~c
    }

    static func be32(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8((v >> 16) & 0xFF), UInt8((v >> 8) & 0xFF), UInt8(v & 0xFF)] }

    /// One chunk; those over 1 MiB get a zero CRC (they test limits that refuse them before any CRC check).
    static func chunk(_ type: String, _ data: [UInt8], into png: inout [UInt8]) {
        png += be32(UInt32(data.count))
        png += Array(type.utf8)
        png += data
        png += data.count > 1 << 20 ? [0, 0, 0, 0] : be32(crc32(Array(type.utf8) + data))
    }

    /// A zlib stream of stored blocks.
    static func zlibStored(_ raw: [UInt8]) -> [UInt8] {
        var out: [UInt8] = [0x78, 0x01]
        var i = 0
        repeat {
            let n = min(65535, raw.count - i)
            out.append(i + n == raw.count ? 1 : 0)
            out += [UInt8(n & 0xFF), UInt8(n >> 8), UInt8(~n & 0xFF), UInt8((~n >> 8) & 0xFF)]
            out += raw[i..<(i + n)]
            i += n
        } while i < raw.count
        var a: UInt32 = 1, b: UInt32 = 0
        for x in raw { a = (a + UInt32(x)) % 65521; b = (b + a) % 65521 }
        return out + be32(b << 16 | a)
    }

    /// A PNG of `samples` (big-endian bytes for 16 bits) in rows with filter 0; `before` chunks go between IHDR and
    /// IDAT, as do `extra` ones (after `before`). Interlaced files reorder the samples into the Adam7 passes (8 bits
    /// per sample or more only).
    static func make(width: Int, height: Int, colorType: Int, bitDepth: Int, samples: [UInt8],
                     before: [(String, [UInt8])] = [], extra: [(String, [UInt8])] = [], interlaced: Bool = false) -> Data {
        let channels = [0: 1, 2: 3, 3: 1, 4: 2, 6: 4][colorType]!
        let pixelBytes = channels * bitDepth / 8
        var raw = [UInt8]()
        let passes = interlaced ? [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]
                                : [(0, 0, 1, 1)]
        for (x0, y0, dx, dy) in passes where x0 < width && y0 < height {
            for y in stride(from: y0, to: height, by: dy) {
                raw.append(0)
                for x in stride(from: x0, to: width, by: dx) {
                    let o = (y * width + x) * pixelBytes
                    raw += samples[o..<(o + pixelBytes)]
                }
            }
        }
        var png: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
        png.reserveCapacity(raw.count + (before + extra).reduce(256) { $0 + 12 + $1.1.count })
        chunk("IHDR", be32(UInt32(width)) + be32(UInt32(height)) + [UInt8(bitDepth), UInt8(colorType), 0, 0, interlaced ? 1 : 0], into: &png)
        for (t, d) in before + extra { chunk(t, d, into: &png) }
        chunk("IDAT", zlibStored(raw), into: &png)
        chunk("IEND", [], into: &png)
        return Data(png)
    }

    /// Deterministic bytes.
    static func pattern(_ n: Int) -> [UInt8] { (0..<n).map { UInt8(($0 * 37 + $0 / 7) & 0xFF) } }

    /// The chunk list of a well-formed file.
    static func chunks(_ d: Data) -> [Chunk] {
        let b = [UInt8](d)
        var out = [Chunk](), pos = 8
        while pos + 12 <= b.count {
            let n = Int(b[pos]) << 24 | Int(b[pos + 1]) << 16 | Int(b[pos + 2]) << 8 | Int(b[pos + 3])
            out.append(Chunk(offset: pos, length: n, type: String(decoding: b[(pos + 4)..<(pos + 8)], as: UTF8.self)))
            pos += 12 + n
        }
        return out
    }

    /// The file with IHDR's size replaced (and its CRC recomputed).
    static func withIHDRSize(_ d: Data, width: Int, height: Int) -> Data {
        var b = [UInt8](d)
        b.replaceSubrange(16..<24, with: be32(UInt32(width)) + be32(UInt32(height)))
        b.replaceSubrange(29..<33, with: be32(crc32(Array(b[12..<29]))))
        return Data(b)
    }

    /// An 11x9 RGB image whose tEXt chunk declares 2,113,929,266 bytes (what the fuzzer found; also committed as
    /// Fixtures/png/hostile_text_length.png, written by dataio_png.py).
    static func hostileTextLength() -> Data {
        var d = make(width: 11, height: 9, colorType: 2, bitDepth: 8, samples: pattern(11 * 9 * 3),
                     extra: [("tEXt", Array("Comment\0hello".utf8))])
        let t = chunks(d)[1]
        d.replaceSubrange(t.offset..<(t.offset + 4), with: be32(2_113_929_266))
        return d
    }
}

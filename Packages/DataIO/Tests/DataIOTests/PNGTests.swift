import DataIO
import Foundation
import Tensor
import XCTest

final class PNGTests: XCTestCase {
    static let fixtureNames = ["pil_1bit", "pil_gray", "pil_gray16", "pil_gray_alpha", "pil_palette", "pil_palette_trns",
                               "pil_rgb", "pil_rgba", "raw_gray16_interlaced", "raw_gray2", "raw_gray_alpha16",
                               "raw_palette4_interlaced_trns", "raw_rgb16", "raw_rgb8_interlaced", "raw_rgba16"]

    /// Files written by Pillow (and the script's encoder for 16-bit colour, 2/4-bit and interlaced) decode to the
    /// pixels Pillow / NumPy expect.
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

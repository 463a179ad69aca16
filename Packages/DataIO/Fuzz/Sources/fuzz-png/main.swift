// libFuzzer target: the PNG decoder (libpng behind DataIO's C shim) and the image -> tensor conversion.
// SwiftPM gives executables their own main, so this one hands control to libFuzzer's driver.
import CFuzzerDriver
import DataIO
import Foundation

func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data else { return 0 }
    var cost = PNG.DecodeCost()
    let image = try? PNG.decode(UnsafeRawBufferPointer(start: data, count: size), name: "fuzz", cost: &cost)
    // The memory goal, checked on every input rather than through the (ASan-inflated) RSS.
    precondition(cost.libpngPeakBytes + cost.pixelBytes < 48 << 20, "decode allocated \(cost)")
    guard let image else { return 0 }
    precondition(image.pixels.count == image.width * image.height * image.channels)
    let t = image.tensor()
    precondition(t.shape == [image.channels, image.height, image.width])
    return 0
}

PNG.maxPixels = 1 << 20  // bounded memory per input
var argc = CommandLine.argc
var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
exit(LLVMFuzzerRunDriver(&argc, &argv) { fuzzOne($0, $1) })

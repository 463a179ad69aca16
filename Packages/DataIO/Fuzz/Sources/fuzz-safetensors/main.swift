// libFuzzer target: the safetensors header parser and the tensor readers of any file it accepts.
// SwiftPM gives executables their own main, so this one hands control to libFuzzer's driver.
import CFuzzerDriver
import DataIO
import Foundation

func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data else { return 0 }
    let bytes = Data(bytes: data, count: size)
    _ = try? JSONValue.parse(bytes)
    guard let file = try? SafetensorsFile(data: bytes, name: "fuzz") else { return 0 }
    for name in file.tensorNames {
        guard let info = try? file.info(name) else { continue }
        precondition(file.header.dataStart + info.dataOffsets.upperBound <= size, "accepted a range outside the file")
        if info.elementCount > 1 << 22 { continue }  // keep runs fast; sizes are already validated against the file
        _ = try? file.tensor(name)
        _ = try? file.integers(name)
        _ = try? file.doubles(name)
    }
    return 0
}

var argc = CommandLine.argc
var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
exit(LLVMFuzzerRunDriver(&argc, &argv) { fuzzOne($0, $1) })

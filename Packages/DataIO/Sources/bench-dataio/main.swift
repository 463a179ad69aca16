// Benchmark: reading a ~100 MB F16 safetensors file into Float32 tensors.
// Usage: swift run -c release --package-path Packages/DataIO bench-dataio [megabytes] [repeats]
// Throughput counts the file's bytes (F16 input) per second; the file is in the page cache (one untimed warm-up).
import DataIO
import Foundation
import Tensor

let args = CommandLine.arguments
let megabytes = args.count > 1 ? Int(args[1]) ?? 100 : 100
let repeats = args.count > 2 ? Int(args[2]) ?? 7 : 7

let dir = FileManager.default.temporaryDirectory.appendingPathComponent("bench-dataio-\(getpid())")
try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
defer { try? FileManager.default.removeItem(at: dir) }
let url = dir.appendingPathComponent("bench_f16.safetensors")

// Shapes like a U-Net's: a mix of conv kernels, linear weights and vectors, ~`megabytes` MB in F16.
var writer = SafetensorsWriter(metadata: ["format": "pt"])
var total = 0
var index = 0
let shapes: [[Int]] = [[1280, 1280, 3, 3], [640, 640, 3, 3], [1280, 1280], [320, 320, 3, 3], [1280], [5120, 1280]]
while total < megabytes * 1_000_000 {
    let shape = shapes[index % shapes.count]
    let n = shape.reduce(1, *)
    var t = Tensor(uninitializedShape: shape)
    t.withMutableBuffer { b in for k in 0..<n { b[k] = Float((k &* 2654435761) % 20001 - 10000) * 1e-4 } }
    try writer.add("layer.\(index).weight", t, as: .F16)
    total += 2 * n
    index += 1
}
try writer.write(to: url)
let fileSize = (try FileManager.default.attributesOfItem(atPath: url.path)[.size] as? NSNumber)?.intValue ?? 0

func loadAll() throws -> Int {
    let file = try SafetensorsFile(contentsOf: url)
    var elements = 0
    for name in file.tensorNames { elements += try file.tensor(name).count }
    return elements
}

_ = try loadAll()  // warm-up: page cache, allocator
var times: [Double] = []
for _ in 0..<repeats {
    let t0 = DispatchTime.now().uptimeNanoseconds
    let n = try loadAll()
    let t1 = DispatchTime.now().uptimeNanoseconds
    precondition(n * 2 <= fileSize)
    times.append(Double(t1 - t0) / 1e9)
}
times.sort()
let best = times.first!, median = times[times.count / 2]
print(String(format: "bench-dataio: %d tensors, %.1f MB F16 -> Float32 tensors, workers=%d: best %.1f ms (%.2f GB/s), median %.1f ms (%.2f GB/s)",
             index, Double(fileSize) / 1e6, Parallel.workers, best * 1e3, Double(fileSize) / best / 1e9,
             median * 1e3, Double(fileSize) / median / 1e9))

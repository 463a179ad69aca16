// Throughput of generation and judging on one core: `swift run -c release bench-shapesworld [count] [side]`.
// Rates are per second of this thread's CPU time (the machine may be shared); wall-clock rates are printed too.
import Foundation
#if canImport(Glibc)
import Glibc
#endif

func cpuSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
}
import ShapesWorld

let args = CommandLine.arguments
let count = args.count > 1 ? Int(args[1]) ?? 20000 : 20000
let side = args.count > 2 ? Int(args[2]) ?? 32 : 32
let gen = SampleGenerator(seed: 7, config: .square(side))

func time(_ label: String, _ n: Int, _ body: () -> Int) {
    let t0 = Date(), c0 = cpuSeconds()
    let sink = body()
    let dt = Date().timeIntervalSince(t0), dc = cpuSeconds() - c0
    print(label.padding(toLength: 40, withPad: " ", startingAt: 0) + String(format: " %8.0f /s CPU  %8.0f /s wall  (%d in %.2f s CPU, checksum %d)", Double(n) / dc, Double(n) / dt, n, dc, sink))
}

time("positives: caption + layout + render", count) {
    var s = 0
    for i in 0..<count {
        let p = gen.positive(split: .train, index: i)
        s &+= Int(Renderer.render(p.scene).pixels[i % 100]) &+ p.caption.count
    }
    return s
}
time("full samples, all images rendered", count / 4) {
    var s = 0
    for i in 0..<(count / 4) {
        let x = gen.sample(split: .train, index: i)
        s &+= Int(Renderer.render(x.scene).pixels[0]) &+ x.expressions.count
        for n in x.negatives { s &+= Int(Renderer.render(n.scene).pixels[1]) }
    }
    return s
}
let images = (0..<min(count, 5000)).map { (gen.positive(split: .testID, index: $0).meaning, gen.image(split: .testID, index: $0)) }
let judge = Judge(config: .square(side))
time("judge: parse + check (clean)", images.count) {
    var s = 0
    for (m, img) in images { s &+= judge.judge(img, m).allPassed ? 1 : 0 }
    return s
}
var r = WorldRandom(seed: 1, stream: 9, index: 0)
let degraded = images.map { ($0.0, ImageDegradation.generatedLike.apply($0.1, rng: &r)) }
time("judge: parse + check (degraded)", degraded.count) {
    var s = 0
    for (m, img) in degraded { s &+= judge.judge(img, m).allPassed ? 1 : 0 }
    return s
}

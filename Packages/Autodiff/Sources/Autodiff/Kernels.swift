import Foundation
import Tensor

/// Gradient accumulation (in place when the running sum is uniquely owned).
internal enum GradientAccumulation {
    /// `slot += g`, or `slot = g` when empty. `contiguous` stores a contiguous tensor (for leaves' `grad`).
    static func add(_ g: Tensor, into slot: inout Tensor?, contiguous: Bool = false) {
        guard var acc = slot else {
            slot = contiguous ? g.contiguous() : g
            return
        }
        slot = nil  // release our extra reference so that `acc` can be written in place
        tensorCheck(acc.shape == g.shape, "backward", "accumulating gradient of shape \(g.shape) into \(acc.shape)")
        acc.withMutableBuffer { dst in
            g.withContiguousBuffer { src in
                Kernels.addInPlace(dst.baseAddress!, src.baseAddress!, dst.count)
            }
        }
        slot = acc
    }
}

/// Small private kernels for backward rules: fused elementwise maps over same-shape tensors, strided stores, and
/// reductions to a broadcast source shape.
internal enum Kernels {
    static func addInPlace(_ dst: UnsafeMutablePointer<Float>, _ src: UnsafePointer<Float>, _ n: Int) {
        Parallel.forEachChunk(n) { r in
            for i in r { dst[i] += src[i] }
        }
    }

    /// `out[i] = f(a[i])` (same shape; `f` is inlined into the loop).
    @inline(__always)
    static func map(_ a: Tensor, _ f: (Float) -> Float) -> Tensor {
        var out = Tensor(uninitializedShape: a.shape)
        let n = a.count
        a.withContiguousBuffer { pa in
            out.withMutableBuffer { po in
                let x = pa.baseAddress!, o = po.baseAddress!
                Parallel.forEachChunk(n) { r in for i in r { o[i] = f(x[i]) } }
            }
        }
        return out
    }

    /// `out[i] = f(a[i], b[i])` for tensors of the same shape.
    @inline(__always)
    static func map(_ a: Tensor, _ b: Tensor, op: String, _ f: (Float, Float) -> Float) -> Tensor {
        tensorCheck(a.shape == b.shape, op, "backward kernel expects equal shapes, got \(a.shape) and \(b.shape)")
        var out = Tensor(uninitializedShape: a.shape)
        let n = a.count
        a.withContiguousBuffer { pa in
            b.withContiguousBuffer { pb in
                out.withMutableBuffer { po in
                    let x = pa.baseAddress!, y = pb.baseAddress!, o = po.baseAddress!
                    Parallel.forEachChunk(n) { r in for i in r { o[i] = f(x[i], y[i]) } }
                }
            }
        }
        return out
    }

    /// `out[i] = f(a[i], b[i], c[i])` for tensors of the same shape.
    @inline(__always)
    static func map(_ a: Tensor, _ b: Tensor, _ c: Tensor, op: String, _ f: (Float, Float, Float) -> Float) -> Tensor {
        tensorCheck(a.shape == b.shape && a.shape == c.shape, op,
                    "backward kernel expects equal shapes, got \(a.shape), \(b.shape) and \(c.shape)")
        var out = Tensor(uninitializedShape: a.shape)
        let n = a.count
        a.withContiguousBuffer { pa in
            b.withContiguousBuffer { pb in
                c.withContiguousBuffer { pc in
                    out.withMutableBuffer { po in
                        let x = pa.baseAddress!, y = pb.baseAddress!, z = pc.baseAddress!, o = po.baseAddress!
                        Parallel.forEachChunk(n) { r in for i in r { o[i] = f(x[i], y[i], z[i]) } }
                    }
                }
            }
        }
        return out
    }

    /// For each element of a contiguous `src` of `shape`, `dst[offset(i)] (+)= src[i]` where offsets follow
    /// `dstStrides` (which may contain zeros: then `accumulate` must be true). Innermost axis in a tight loop.
    static func stridedStore(shape: [Int], dstStrides: [Int], dst: UnsafeMutablePointer<Float>,
                             src: UnsafePointer<Float>, accumulate: Bool) {
        let n = shape.reduce(1, *)
        if n == 0 { return }
        var dims: [(size: Int, stride: Int)] = []
        for (d, s) in zip(shape, dstStrides) where d != 1 {
            if let last = dims.last, last.stride == s * d { dims[dims.count - 1] = (last.size * d, s) }
            else { dims.append((d, s)) }
        }
        if dims.isEmpty {
            if accumulate { dst[0] += src[0] } else { dst[0] = src[0] }
            return
        }
        let inner = dims[dims.count - 1]
        let outer = Array(dims.dropLast())
        var counter = [Int](repeating: 0, count: outer.count)
        var base = 0
        var s = src
        for _ in 0..<(n / inner.size) {
            let d = dst + base
            if accumulate {
                if inner.stride == 0 {
                    var acc: Float = 0
                    for j in 0..<inner.size { acc += s[j] }
                    d[0] += acc
                } else {
                    for j in 0..<inner.size { d[j * inner.stride] += s[j] }
                }
            } else {
                for j in 0..<inner.size { d[j * inner.stride] = s[j] }
            }
            s += inner.size
            var k = outer.count - 1
            while k >= 0 {
                counter[k] += 1
                base += outer[k].stride
                if counter[k] < outer[k].size { break }
                base -= outer[k].stride * outer[k].size
                counter[k] = 0
                k -= 1
            }
        }
    }

    /// Sums `g` over the axes along which `shape` was broadcast to `g.shape` (no copy when the shapes agree).
    static func sumToShape(_ g: Tensor, _ shape: [Int], op: String) -> Tensor {
        if g.shape == shape { return g }
        tensorCheck(shape.count <= g.rank, op, "cannot reduce gradient of shape \(g.shape) to shape \(shape)")
        return g.sumToShape(shape)
    }
}

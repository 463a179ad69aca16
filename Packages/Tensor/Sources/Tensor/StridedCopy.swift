/// Copies a strided view into contiguous memory, innermost dimension in a tight loop.
public enum StridedCopy {
    public static func copy(shape: [Int], srcStrides: [Int], src: UnsafePointer<Float>, dst: UnsafeMutablePointer<Float>) {
        let n = shape.reduce(1, *)
        if n == 0 { return }
        // Collapse: drop size-1 dims, merge dims that are contiguous with each other in the source.
        var dims: [(size: Int, stride: Int)] = []
        for (d, s) in zip(shape, srcStrides) where d != 1 {
            if let last = dims.last, last.stride == s * d {
                dims[dims.count - 1] = (last.size * d, s)
            } else {
                dims.append((d, s))
            }
        }
        if dims.isEmpty { dst[0] = src[0]; return }
        let inner = dims[dims.count - 1]
        let outerDims = Array(dims.dropLast())
        let outerCount = n / inner.size
        var counter = [Int](repeating: 0, count: outerDims.count)
        var srcBase = 0
        var d = dst
        for _ in 0..<outerCount {
            var s = src + srcBase
            if inner.stride == 1 {
                d.update(from: s, count: inner.size)
                d += inner.size
            } else {
                for _ in 0..<inner.size { d.pointee = s.pointee; d += 1; s += inner.stride }
            }
            // advance the outer counter
            var k = outerDims.count - 1
            while k >= 0 {
                counter[k] += 1
                srcBase += outerDims[k].stride
                if counter[k] < outerDims[k].size { break }
                srcBase -= outerDims[k].stride * outerDims[k].size
                counter[k] = 0
                k -= 1
            }
        }
    }
}

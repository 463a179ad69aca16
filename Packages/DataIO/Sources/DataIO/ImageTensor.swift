import Tensor

/// Conversions between images and CHW Float32 tensors in [-1, 1], the diffusion convention, computed exactly as
/// diffusers' `VaeImageProcessor` does in Float32: `x = 2 * (p / 255) - 1` and `p = round(clamp(x / 2 + 0.5, 0, 1) * 255)`
/// (round half to even, like NumPy).
extension RasterImage {
    /// A `[channels, height, width]` tensor in [-1, 1] (alpha, if any, is the 4th channel).
    public func tensor() -> Tensor {
        var t = Tensor(uninitializedShape: [channels, height, width])
        let hw = width * height
        t.withMutableBuffer { dst in
            pixels.withUnsafeBufferPointer { src in
                for c in 0..<channels {
                    for i in 0..<hw { dst[c * hw + i] = 2 * (Float(src[i * channels + c]) / 255) - 1 }
                }
            }
        }
        return t
    }

    /// An image from a `[C, H, W]` tensor in [-1, 1] with C = 1 (gray, written as RGB), 3 (RGB) or 4 (RGBA).
    /// Values outside [-1, 1] are clamped; NaN is an error.
    public init(tensor: Tensor) throws {
        guard tensor.rank == 3, [1, 3, 4].contains(tensor.shape[0]), tensor.shape[1] > 0, tensor.shape[2] > 0 else {
            throw DataIOError(.invalidArgument, file: "<tensor>", "RasterImage(tensor:) needs shape [C, H, W] with C in 1, 3, 4 and H, W > 0; got \(tensor.shape)")
        }
        let c = tensor.shape[0], h = tensor.shape[1], w = tensor.shape[2]
        let outC = c == 1 ? 3 : c
        var pixels = [UInt8](repeating: 0, count: h * w * outC)
        var nans = 0
        tensor.withContiguousBuffer { src in
            pixels.withUnsafeMutableBufferPointer { dst in
                let hw = h * w
                for k in 0..<outC {
                    let plane = src.baseAddress! + (c == 1 ? 0 : k) * hw
                    for i in 0..<hw {
                        let x = plane[i]
                        if x.isNaN { nans += 1; continue }
                        let v = min(max(x / 2 + 0.5, 0), 1) * 255
                        dst[i * outC + k] = UInt8(v.rounded(.toNearestOrEven))
                    }
                }
            }
        }
        if nans > 0 {
            throw DataIOError(.invalidArgument, file: "<tensor>", "tensor of shape \(tensor.shape) holds \(nans) NaN values; cannot make an image")
        }
        try self.init(width: w, height: h, channels: outC, pixels: pixels)
    }

    /// Images from a `[N, C, H, W]` batch.
    public static func images(batch: Tensor) throws -> [RasterImage] {
        guard batch.rank == 4 else {
            throw DataIOError(.invalidArgument, file: "<tensor>", "images(batch:) needs shape [N, C, H, W]; got \(batch.shape)")
        }
        return try (0..<batch.shape[0]).map { try RasterImage(tensor: batch.selecting(axis: 0, index: $0)) }
    }
}

/// Lays images out in a grid.
public enum ImageGrid {
    /// `images` (all the same size) in rows of `columns`, `margin` pixels between cells and around the border,
    /// over `background` (RGB or RGBA; the output has 4 channels if any input or the background has alpha).
    public static func make(_ images: [RasterImage], columns: Int, margin: Int = 2,
                            background: [UInt8] = [255, 255, 255]) throws -> RasterImage {
        guard let first = images.first, columns > 0, margin >= 0 else {
            throw DataIOError(.invalidArgument, file: "<grid>", "need at least one image, columns > 0 and margin >= 0")
        }
        guard images.allSatisfy({ $0.width == first.width && $0.height == first.height }) else {
            throw DataIOError(.invalidArgument, file: "<grid>", "images differ in size: \(Set(images.map { "\($0.width)x\($0.height)" }).sorted())")
        }
        let cols = min(columns, images.count)
        let rows = (images.count + columns - 1) / columns
        let ch = images.contains { $0.channels == 4 } || background.count == 4 ? 4 : 3
        let w = cols * first.width + (cols + 1) * margin
        let h = rows * first.height + (rows + 1) * margin
        var out = RasterImage(width: w, height: h, color: ch == 4 && background.count == 3 ? background + [255] : Array(background.prefix(ch)))
        for (n, im) in images.enumerated() {
            let img = im.withChannels(ch)
            let x0 = margin + (n % columns) * (first.width + margin)
            let y0 = margin + (n / columns) * (first.height + margin)
            let rowBytes = img.width * ch
            for y in 0..<img.height {
                let dst = ((y0 + y) * w + x0) * ch
                out.pixels.replaceSubrange(dst..<(dst + rowBytes), with: img.pixels[(y * rowBytes)..<((y + 1) * rowBytes)])
            }
        }
        return out
    }

    /// A grid of a `[N, C, H, W]` batch in [-1, 1].
    public static func make(batch: Tensor, columns: Int, margin: Int = 2,
                            background: [UInt8] = [255, 255, 255]) throws -> RasterImage {
        try make(RasterImage.images(batch: batch), columns: columns, margin: margin, background: background)
    }
}

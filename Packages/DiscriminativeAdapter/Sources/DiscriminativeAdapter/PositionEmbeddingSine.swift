import Foundation
import Tensor

/// DETR's 2-D sine position code (`PositionEmbeddingSine(d/2, normalize=True)`, scale 2π, temperature 10000)
/// for an unpadded H x W map: channels [0, d/2) encode the row, [d/2, d) the column; within each half the
/// channels alternate sin, cos of position / 10000^(2⌊i/2⌋/(d/2)), positions 1...H (or W) scaled to (0, 2π].
/// Computed in float32 with the operation order of the PyTorch module. Returns [d, H, W] (a constant).
public func sinePositionEmbedding(dim: Int, height: Int, width: Int, temperature: Float = 10000,
                                  scale: Float = 2 * .pi) -> Tensor {
    tensorCheck(dim > 0 && dim % 2 == 0, "sinePositionEmbedding", "dimension \(dim) must be positive and even")
    tensorCheck(height > 0 && width > 0, "sinePositionEmbedding", "map size \(height)x\(width) must be positive")
    let npf = dim / 2
    let eps: Float = 1e-6
    var dimT = [Float](repeating: 0, count: npf)
    for i in 0..<npf {
        let exponent = Float(2 * (i / 2)) / Float(npf)
        dimT[i] = Foundation.powf(temperature, exponent)
    }
    func code(_ position: Int, _ extent: Int) -> [Float] {
        let p = Float(position) / (Float(extent) + eps) * scale
        return (0..<npf).map { i in
            let a = p / dimT[i]
            return i % 2 == 0 ? Foundation.sinf(a) : Foundation.cosf(a)
        }
    }
    let rows = (1...height).map { code($0, height) }
    let cols = (1...width).map { code($0, width) }
    var out = Tensor(uninitializedShape: [dim, height, width])
    out.withMutableBuffer { buf in
        let plane = height * width
        for c in 0..<npf {
            for y in 0..<height {
                for x in 0..<width {
                    buf[c * plane + y * width + x] = rows[y][c]
                    buf[(npf + c) * plane + y * width + x] = cols[x][c]
                }
            }
        }
    }
    return out
}

/// Exact shape geometry in the unit frame (centre 0, radius 1, y downwards), shared by the renderer and the judge's
/// template fit. Distances are Lipschitz-1 bounds, exact enough to skip super-sampling away from edges.
public enum ShapeGeometry {
    /// Half-thickness of the cross's arms, in radii.
    public static let crossArm = 0.36

    /// Area in units of r^2.
    public static func areaFactor(_ s: ShapeKind) -> Double {
        switch s {
        case .circle: return Double.pi
        case .square: return 4
        case .triangle: return 2
        case .cross: return 8 * crossArm - 4 * crossArm * crossArm
        }
    }

    /// Vertical offset of the area centroid from the box centre, in radii (the triangle's mass sits low).
    public static func centroidOffsetY(_ s: ShapeKind) -> Double { s == .triangle ? 1.0 / 3.0 : 0 }

    /// A signed distance bound: negative inside; `d > h` means the point is at least h outside, `d < -h` at least h inside.
    @inline(__always) public static func distance(_ s: ShapeKind, _ x: Double, _ y: Double) -> Double {
        switch s {
        case .circle:
            return (x * x + y * y).squareRoot() - 1
        case .square:
            return max(abs(x), abs(y)) - 1
        case .triangle:
            // Apex (0,-1), base corners (-1,1), (1,1): inside when y <= 1 and |x| <= (y + 1) / 2.
            // Side half-plane: 2|x| - y - 1 <= 0, normal length sqrt(5).
            let side = (2 * abs(x) - y - 1) * 0.4472135954999579
            return max(y - 1, side)
        case .cross:
            let a = crossArm
            let h = max(abs(x) - 1, abs(y) - a), v = max(abs(x) - a, abs(y) - 1)
            return min(h, v)
        }
    }

    /// Coverage of the pixel [px, px+1) x [py, py+1) by a shape centred at (cx, cy) with radius r, using s*s samples.
    @inline(__always) public static func coverage(_ shape: ShapeKind, cx: Double, cy: Double, radius r: Double,
                                                  px: Int, py: Int, samples s: Int) -> Double {
        let inv = 1 / r
        let ux = (Double(px) + 0.5 - cx) * inv, uy = (Double(py) + 0.5 - cy) * inv
        let d = distance(shape, ux, uy)
        let halfDiag = 0.7072 * inv
        if d > halfDiag { return 0 }
        if d < -halfDiag { return 1 }
        var inside = 0
        let step = 1 / Double(s)
        for j in 0..<s {
            let sy = (Double(py) + (Double(j) + 0.5) * step - cy) * inv
            for i in 0..<s {
                let sx = (Double(px) + (Double(i) + 0.5) * step - cx) * inv
                if distance(shape, sx, sy) <= 0 { inside += 1 }
            }
        }
        return Double(inside) / Double(s * s)
    }
}

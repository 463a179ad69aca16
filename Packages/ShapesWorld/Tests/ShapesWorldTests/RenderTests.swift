import XCTest
import ShapesWorld

final class RenderTests: XCTestCase {
    /// Rendered coverage mass matches each shape's analytic area (pi r^2, 4 r^2, 2 r^2, the cross's two arms minus their
    /// overlap) to within the supersampling quantisation bound: perimeter / (2 s) pixels for s x s samples.
    func testCoverageMatchesAnalyticArea() {
        for s in [4, 16] {
            var cfg = WorldConfig.square(64)
            cfg.supersampling = s
            let bg = cfg.background
            for shape in ShapeKind.allCases {
                for (x, y) in [(31.3, 30.8), (20.0, 40.5), (40.77, 22.13)] {
                    let r = cfg.radius(.large)
                    let scene = Scene(config: cfg, objects: [SceneObject(shape: shape, color: .white, size: .large, x: x, y: y, radius: r)])
                    let img = Renderer.render(scene)
                    var mass = 0.0
                    for i in 0..<(64 * 64) { mass += (Double(img.pixels[3 * i]) - Double(bg.r)) / (235 - Double(bg.r)) }
                    let area: Double, perimeter: Double
                    switch shape {
                    case .circle: area = Double.pi * r * r; perimeter = 2 * Double.pi * r
                    case .square: area = 4 * r * r; perimeter = 8 * r
                    case .triangle: area = 2 * r * r; perimeter = (2 + 2 * 5.0.squareRoot()) * r
                    case .cross: area = 2 * (2 * r) * (0.72 * r) - (0.72 * r) * (0.72 * r); perimeter = 8 * r
                    }
                    // + rounding to 8 bits: at most half a level per pixel of the edge band.
                    XCTAssertEqual(mass, area, accuracy: perimeter / Double(2 * s) + 0.01 * perimeter, "\(shape) s=\(s)")
                }
            }
        }
    }

    func testObjectsDoNotTouchAndStayInside() {
        let g = SampleGenerator(seed: 1)
        for i in 0..<300 {
            let s = g.sample(split: .train, index: i)
            XCTAssertTrue(s.scene.isValid)
            for o in s.scene.objects {
                XCTAssertGreaterThanOrEqual(o.x - o.radius, 0); XCTAssertLessThanOrEqual(o.x + o.radius, 32)
            }
            for a in 0..<s.scene.objects.count {
                for b in (a + 1)..<s.scene.objects.count {
                    let p = s.scene.objects[a], q = s.scene.objects[b]
                    let sep = max(abs(p.x - q.x), abs(p.y - q.y)) - p.radius - q.radius
                    XCTAssertGreaterThanOrEqual(sep, 0.07 * 32 - 1e-9)
                }
            }
        }
    }

    func testTensorRoundTripAndRange() throws {
        let img = SampleGenerator(seed: 2).image(split: .val, index: 3)
        let t = img.tensor()
        XCTAssertEqual(t.shape, [3, 32, 32])
        XCTAssertTrue(t.scalars.allSatisfy { $0 >= -1 && $0 <= 1 })
        XCTAssertEqual(t.scalars[0], Float(img.pixels[0]) / 127.5 - 1)                 // R of pixel 0
        XCTAssertEqual(t.scalars[32 * 32 + 5], Float(img.pixels[3 * 5 + 1]) / 127.5 - 1) // G of pixel 5
        XCTAssertEqual(try RGBImage(tensor: t), img)
        XCTAssertThrowsError(try RGBImage(tensor: t.reshaped([3, 1024])))
    }

    func testLargerWorldScales() {
        let g = SampleGenerator(seed: 4, config: .square(64))
        let s = g.sample(split: .train, index: 0)
        XCTAssertEqual(Renderer.render(s.scene).width, 64)
        XCTAssertEqual(s.scene.objects[0].radius, s.scene.objects[0].size == .small ? 0.11 * 64 : 0.19 * 64, accuracy: 1e-9)
    }
}

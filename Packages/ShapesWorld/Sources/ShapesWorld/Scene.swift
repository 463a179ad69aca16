/// A scene: objects with attributes and positions, the ground truth an image is rendered from.

/// An axis-aligned box, normalised to the image: centre (cx, cy) and size (w, h), all in [0, 1].
public struct Box: Codable, Hashable, Sendable {
    public var cx: Double, cy: Double, w: Double, h: Double
    public init(cx: Double, cy: Double, w: Double, h: Double) { self.cx = cx; self.cy = cy; self.w = w; self.h = h }

    /// Intersection over union with another box.
    public func iou(_ o: Box) -> Double {
        let ix = max(0, min(cx + w / 2, o.cx + o.w / 2) - max(cx - w / 2, o.cx - o.w / 2))
        let iy = max(0, min(cy + h / 2, o.cy + o.h / 2) - max(cy - h / 2, o.cy - o.h / 2))
        let inter = ix * iy, union = w * h + o.w * o.h - inter
        return union > 0 ? inter / union : 0
    }
}

/// One object of a scene. Position and radius in pixels; the object fills the square [x-r, x+r] x [y-r, y+r].
public struct SceneObject: Codable, Hashable, Sendable {
    public var shape: ShapeKind
    public var color: ColorName
    public var size: SizeClass
    public var x: Double
    public var y: Double
    public var radius: Double

    public init(shape: ShapeKind, color: ColorName, size: SizeClass, x: Double, y: Double, radius: Double) {
        self.shape = shape; self.color = color; self.size = size; self.x = x; self.y = y; self.radius = radius
    }
    public var pair: ColorShape { ColorShape(color, shape) }
}

/// The objects of one image and the image geometry they live in.
public struct Scene: Codable, Hashable, Sendable {
    public var config: WorldConfig
    public var objects: [SceneObject]
    public init(config: WorldConfig, objects: [SceneObject]) { self.config = config; self.objects = objects }

    /// The normalised bounding box of object `i`.
    public func box(_ i: Int) -> Box {
        let o = objects[i], w = Double(config.width), h = Double(config.height)
        return Box(cx: o.x / w, cy: o.y / h, w: 2 * o.radius / w, h: 2 * o.radius / h)
    }

    /// Whether an object at this place keeps the border margin and the gap to every other object (except `skip`).
    public func fits(_ o: SceneObject, skipping skip: Int? = nil) -> Bool {
        let b = config.borderPixels
        if o.x - o.radius < b || o.y - o.radius < b || o.x + o.radius > Double(config.width) - b
            || o.y + o.radius > Double(config.height) - b { return false }
        let g = config.gapPixels
        for (i, p) in objects.enumerated() where i != skip {
            let need = o.radius + p.radius + g
            if abs(o.x - p.x) < need && abs(o.y - p.y) < need { return false }
        }
        return true
    }

    /// Whether every object keeps the border margin and the gaps.
    public var isValid: Bool { objects.indices.allSatisfy { fits(objects[$0], skipping: $0) } }

    /// The scene mirrored left-right (`horizontal`) or top-bottom: a valid scene maps to a valid scene.
    public func mirrored(horizontal: Bool) -> Scene {
        var s = self
        for i in s.objects.indices {
            if horizontal { s.objects[i].x = Double(config.width) - s.objects[i].x } else { s.objects[i].y = Double(config.height) - s.objects[i].y }
        }
        return s
    }

    /// The scene's objects as the judge would ideally see them.
    public var observed: [ObservedObject] {
        objects.map { ObservedObject(color: $0.color, shape: $0.shape, size: $0.size, x: $0.x, y: $0.y) }
    }
}

/// The pipeline index of a diffusers-layout folder. Component configs live beside their models (the U-Net's and
/// VAE's in Diffusion, CLIP's in TextEncoder), built on this package's `ConfigReader`/`ConfigWriter`.

/// `model_index.json`: the pipeline class and, per component, its library and class (`[null, null]` when absent).
public struct ModelIndex: Codable, Equatable, Sendable {
    public var className: String?
    public var diffusersVersion: String?
    /// Component name -> [library, class] (either may be null).
    public var components: [String: [String?]]
    /// Every other key (e.g. `requires_safety_checker`).
    public var extras: [String: JSONValue]

    public init(className: String?, components: [String: [String?]], diffusersVersion: String? = nil, extras: [String: JSONValue] = [:]) {
        self.className = className
        self.components = components
        self.diffusersVersion = diffusersVersion
        self.extras = extras
    }

    public init(from decoder: Decoder) throws {
        var r = try ConfigReader(decoder)
        className = try r.optional("_class_name")
        diffusersVersion = try r.optional("_diffusers_version")
        components = [:]
        extras = [:]
        for (k, v) in try r.extras() {
            if case let .array(a) = v, a.count == 2, a.allSatisfy({ $0 == .null || $0.stringValue != nil }) {
                components[k] = a.map(\.stringValue)
            } else {
                extras[k] = v
            }
        }
    }

    public func encode(to encoder: Encoder) throws {
        var w = ConfigWriter(encoder)
        try w("_class_name", className)
        try w("_diffusers_version", diffusersVersion)
        for (k, v) in components { try w(k, v) }
        try w.extras(extras)
    }

    /// The components that are present (class not null), sorted.
    public var presentComponents: [String] { components.filter { $0.value.count == 2 && $0.value[1] != nil }.keys.sorted() }
}

/// Dataset splits. train / val / test-id share one distribution (no held-out colour-shape pair, no held-out template)
/// and differ only in their random streams; every test-ood sample contains a held-out colour-shape pair, and half of
/// test-ood captions use a held-out template.
public enum Split: String, CaseIterable, Codable, Hashable, Sendable {
    case train, val
    case testID = "test-id"
    case testOOD = "test-ood"

    public var stream: UInt64 {
        switch self {
        case .train: return 1
        case .val: return 2
        case .testID: return 3
        case .testOOD: return 4
        }
    }
    public var isOOD: Bool { self == .testOOD }
}

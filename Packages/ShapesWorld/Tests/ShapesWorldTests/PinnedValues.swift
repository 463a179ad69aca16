/// Values pinned from a reference run (see the tests that use them for when to regenerate).
enum PinnedValues {
    static let generationHash: UInt64 = 7625714851819860121
}

import Foundation

/// Byte-level BPE with `</w>` word ends on token ids: CLIP's `bpe()` (repeatedly merge every occurrence, left to
/// right, of the adjacent pair with the lowest merge rank) plus a bounded cache of encoded words.
final class BytePairEncoder: @unchecked Sendable {
    /// Base token of each byte, without and with `</w>`; -1 where the vocabulary lacks it.
    let byteID: [Int32]
    let byteEndOfWordID: [Int32]
    /// (left id << 32 | right id) -> (rank << 32 | merged id).
    let merges: [UInt64: UInt64]
    /// Emitted for a byte without a base token; nil makes such text an error.
    let unknownID: Int32?
    let cacheLimit: Int

    private var cache: [[UInt8]: [Int32]] = [:]
    private let lock = NSLock()

    init(byteID: [Int32], byteEndOfWordID: [Int32], merges: [UInt64: UInt64], unknownID: Int32?, cacheLimit: Int = 1 << 17) {
        self.byteID = byteID
        self.byteEndOfWordID = byteEndOfWordID
        self.merges = merges
        self.unknownID = unknownID
        self.cacheLimit = cacheLimit
    }

    @inline(__always) static func pairKey(_ a: Int32, _ b: Int32) -> UInt64 { UInt64(UInt32(bitPattern: a)) << 32 | UInt64(UInt32(bitPattern: b)) }

    /// Appends the token ids of one pre-token (its UTF-8 bytes) to `out`.
    func encodeWord(_ word: [UInt8], into out: inout [Int]) throws {
        lock.lock()
        if let hit = cache[word] {
            lock.unlock()
            for id in hit { out.append(Int(id)) }
            return
        }
        lock.unlock()
        let ids = try merge(word)
        lock.lock()
        if cache.count >= cacheLimit { cache.removeAll(keepingCapacity: true) }
        cache[word] = ids
        lock.unlock()
        for id in ids { out.append(Int(id)) }
    }

    /// Number of cached words (for tests and diagnostics).
    var cacheCount: Int { lock.lock(); defer { lock.unlock() }; return cache.count }

    private func merge(_ word: [UInt8]) throws -> [Int32] {
        let n = word.count
        precondition(n > 0, "BytePairEncoder: empty word")
        // Symbols: base ids, or -1 - byte for a byte without a base token (never part of a merge).
        var symbols = [Int32](repeating: 0, count: n)
        for k in 0..<n {
            let b = Int(word[k])
            let id = k == n - 1 ? byteEndOfWordID[b] : byteID[b]
            symbols[k] = id >= 0 ? id : -1 - Int32(b)
        }
        var scratch = [Int32]()
        scratch.reserveCapacity(n)
        while symbols.count > 1 {
            var bestRank = UInt32.max
            var bestPair: (Int32, Int32, Int32) = (0, 0, 0)
            for k in 0..<(symbols.count - 1) {
                let a = symbols[k], b = symbols[k + 1]
                guard a >= 0, b >= 0, let entry = merges[Self.pairKey(a, b)] else { continue }
                let rank = UInt32(truncatingIfNeeded: entry >> 32)
                if rank < bestRank {
                    bestRank = rank
                    bestPair = (a, b, Int32(truncatingIfNeeded: Int64(entry & 0xFFFF_FFFF)))
                }
            }
            if bestRank == UInt32.max { break }
            let (first, second, merged) = bestPair
            scratch.removeAll(keepingCapacity: true)
            var k = 0
            while k < symbols.count {
                if symbols[k] == first, k + 1 < symbols.count, symbols[k + 1] == second {
                    scratch.append(merged)
                    k += 2
                } else {
                    scratch.append(symbols[k])
                    k += 1
                }
            }
            swap(&symbols, &scratch)
        }
        for k in 0..<symbols.count where symbols[k] < 0 {
            guard let unknownID else {
                throw TokenizerError.unencodableByte(UInt8(-1 - symbols[k]), word: String(decoding: word, as: UTF8.self))
            }
            symbols[k] = unknownID
        }
        return symbols
    }
}

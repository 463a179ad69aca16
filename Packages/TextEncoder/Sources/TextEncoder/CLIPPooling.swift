/// Where `pooler_output` is read, as transformers' `CLIPTextModel.forward` decides from `eos_token_id`.
public enum CLIPPooling: Equatable, Sendable {
    /// `eos_token_id == 2` (the value in every SD 1.x/2.x config, from before transformers PR #24773): the
    /// position of the highest token id in each row (the first one on ties), which is CLIP's end token 49407 when
    /// the vocabulary puts it last.
    case highestTokenID
    /// The first position holding this id in each row; a row without it pools at position 0 (argmax of zeros).
    case firstToken(Int)

    /// The rule transformers applies for a config's `eos_token_id`; nil is an error (transformers fails too).
    public init(eosTokenID: Int?) throws {
        guard let eos = eosTokenID else {
            throw TextEncoderError.invalidConfig("eos_token_id is missing; the pooled output needs it (pass pooling:)")
        }
        self = eos == 2 ? .highestTokenID : .firstToken(eos)
    }

    /// The pooled position of each row of `ids` ([batch·length], row-major).
    public func endTokenIndices(ids: [Int], batch: Int, length: Int) -> [Int] {
        (0..<batch).map { b in
            let row = ids[(b * length)..<((b + 1) * length)]
            switch self {
            case .highestTokenID:
                var best = row.startIndex
                for i in row.indices where row[i] > row[best] { best = i }
                return best - row.startIndex
            case .firstToken(let id):
                return (row.firstIndex(of: id) ?? row.startIndex) - row.startIndex
            }
        }
    }
}

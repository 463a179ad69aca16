import Autodiff

/// The MLP activations of transformers' `ACT2FN` that CLIP configs use (`hidden_act`).
public enum CLIPActivation: String, CaseIterable, Sendable {
    /// x·σ(1.702x): OpenAI CLIP, SD 1.x (`quick_gelu`).
    case quickGelu = "quick_gelu"
    /// Exact (erf) GELU: OpenCLIP ViT-H/bigG, SD 2.x, SDXL (`gelu`; also `gelu_python`).
    case gelu = "gelu"
    /// tanh-approximated GELU (`gelu_new`, `gelu_pytorch_tanh`, `gelu_python_tanh`).
    case geluTanh = "gelu_pytorch_tanh"
    case relu = "relu"
    /// x·σ(x) (`silu`, `swish`).
    case silu = "silu"

    /// Maps a config's `hidden_act` (names as in transformers' `ACT2FN`); nil when unsupported.
    public init?(configName: String) {
        switch configName {
        case "quick_gelu": self = .quickGelu
        case "gelu", "gelu_python": self = .gelu
        case "gelu_new", "gelu_pytorch_tanh", "gelu_python_tanh": self = .geluTanh
        case "relu": self = .relu
        case "silu", "swish": self = .silu
        default: return nil
        }
    }

    func callAsFunction(_ x: Variable) -> Variable {
        switch self {
        case .quickGelu: return x.quickGelu()
        case .gelu: return x.gelu()
        case .geluTanh: return x.gelu(approximate: .tanh)
        case .relu: return x.relu()
        case .silu: return x.silu()
        }
    }
}

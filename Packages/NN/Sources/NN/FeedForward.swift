import Autodiff
import Tensor

/// diffusers `GELU`: a projection `<path>.proj` followed by GELU (exact or tanh approximation).
public final class GELUProjection: Module {
    public let path: String
    public let proj: Linear
    public let approximate: Bool

    public init(_ vb: VarBuilder, dimIn: Int, dimOut: Int, approximate: Bool = false, bias: Bool = true) {
        path = vb.path
        proj = Linear(vb.pp("proj"), inFeatures: dimIn, outFeatures: dimOut, bias: bias)
        self.approximate = approximate
        vb.register(self)
    }

    public func callAsFunction(_ x: Variable) -> Variable {
        proj(x).gelu(approximate: approximate ? .tanh : .none)
    }
}

/// diffusers `GEGLU`: `<path>.proj` maps to 2·dimOut; the first half is gated by GELU of the second half.
public final class GEGLU: Module {
    public let path: String
    public let proj: Linear
    public let dimOut: Int

    public init(_ vb: VarBuilder, dimIn: Int, dimOut: Int, bias: Bool = true) {
        path = vb.path
        self.dimOut = dimOut
        proj = Linear(vb.pp("proj"), inFeatures: dimIn, outFeatures: dimOut * 2, bias: bias)
        vb.register(self)
    }

    public func callAsFunction(_ x: Variable) -> Variable {
        let halves = proj(x).chunk(2, axis: -1)
        return halves[0] * halves[1].gelu()
    }
}

/// diffusers `FeedForward`: `net.0` (GELU or GEGLU projection to dim·mult), `net.1` dropout, `net.2` Linear.
public final class FeedForward: Module {
    public enum Activation {
        /// "gelu": exact GELU.
        case gelu
        /// "gelu-approximate": tanh GELU.
        case geluTanh
        /// "geglu" (diffusers' default).
        case geglu
    }

    public let path: String
    public let activation: Activation
    public let geluProjection: GELUProjection?
    public let geglu: GEGLU?
    public let dropout: Dropout
    public let out: Linear

    public init(_ vb: VarBuilder, dim: Int, dimOut: Int? = nil, mult: Int = 4, innerDim: Int? = nil,
                activation: Activation = .geglu, dropout: Float = 0, bias: Bool = true) {
        path = vb.path
        self.activation = activation
        let inner = innerDim ?? dim * mult
        let net = vb.pp("net")
        switch activation {
        case .gelu, .geluTanh:
            geluProjection = GELUProjection(net.pp(0), dimIn: dim, dimOut: inner, approximate: activation == .geluTanh, bias: bias)
            geglu = nil
        case .geglu:
            geglu = GEGLU(net.pp(0), dimIn: dim, dimOut: inner, bias: bias)
            geluProjection = nil
        }
        self.dropout = Dropout(net.pp(1), p: dropout)
        out = Linear(net.pp(2), inFeatures: inner, outFeatures: dimOut ?? dim, bias: bias)
        vb.register(self)
    }

    public func callAsFunction<G: RandomNumberGenerator>(_ x: Variable, generator: inout G) -> Variable {
        let h = geglu.map { $0(x) } ?? geluProjection!(x)
        return out(dropout(h, generator: &generator))
    }

    /// The call without a generator (no active dropout).
    public func callAsFunction(_ x: Variable) -> Variable {
        var g = NoRandomness()
        return self(x, generator: &g)
    }
}

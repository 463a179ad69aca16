import Autodiff
import DataIO
import Diffusion
import Tensor

/// Reading the adapter's input from U-Net block outputs.
///
/// Several taps are concatenated along channels in the order given. Maps of different sizes are brought to the
/// finest (largest) resolution among them by nearest-neighbour upsampling with an integer factor (SD's blocks
/// differ by powers of two); a size that is not an integer multiple of the others is an error. One tap passes
/// through unchanged.
public enum FeatureTaps {
    /// Parses "up1", "down2+mid" or "down2_mid" (the release's spelling) into tap names.
    public static func parse(_ spec: String) throws -> [String] {
        let names = spec.split(whereSeparator: { $0 == "+" || $0 == "_" || $0 == "," }).map(String.init)
        guard !names.isEmpty, Set(names).count == names.count else {
            throw AdapterError.config("feature tap list '\(spec)' must name at least one tap, each once")
        }
        return names
    }

    /// The alias of the method's default tap: the first up block with cross-attention (`up1` in Stable Diffusion
    /// 1.x/2.x, `up0` in the bundled model, whose first up block already has cross-attention).
    public static let firstCrossAttentionUp = "cross-up"

    /// `taps` with the `cross-up` alias replaced by the U-Net's first `CrossAttn*` up block (`up<i>`).
    public static func resolve(_ taps: [String], unet config: UNet2DConditionConfig) throws -> [String] {
        try taps.map { name in
            guard name == firstCrossAttentionUp else { return name }
            guard let i = config.upBlockTypes.firstIndex(where: { $0.hasPrefix("CrossAttn") }) else {
                throw AdapterError.config("tap '\(firstCrossAttentionUp)': this U-Net has no cross-attention up block (up_block_types \(config.upBlockTypes))")
            }
            return "up\(i)"
        }
    }

    /// Output channels of each tap, as the denoiser reports them (`Denoiser.tapChannels`); errors name an unknown
    /// tap and list the valid ones.
    public static func channels(of taps: [String], denoiser: any Denoiser) throws -> [Int] {
        try taps.map { name in
            guard let c = denoiser.tapChannels(name) else {
                throw AdapterError.config("unknown feature tap '\(name)'; valid taps: \(denoiser.tapNames)")
            }
            return c
        }
    }

    /// Total channels of the concatenated taps.
    public static func featureChannels(of taps: [String], denoiser: any Denoiser) throws -> Int {
        try channels(of: taps, denoiser: denoiser).reduce(0, +)
    }

    /// Concatenates `features[taps]` ([B, C_i, H_i, W_i]) along channels at the finest resolution.
    public static func combine(_ features: [String: Variable], taps: [String]) -> Variable {
        let maps = taps.map { name -> Variable in
            guard let f = features[name] else {
                tensorCheck(false, "FeatureTaps.combine", "tap '\(name)' missing from the U-Net outputs \(features.keys.sorted())")
                fatalError()
            }
            tensorCheck(f.rank == 4, "FeatureTaps.combine", "tap '\(name)' has shape \(f.shape), expected [B, C, H, W]")
            return f
        }
        if maps.count == 1 { return maps[0] }
        let h = maps.map { $0.shape[2] }.max()!, w = maps.map { $0.shape[3] }.max()!
        let resized = zip(taps, maps).map { name, f -> Variable in
            let fh = f.shape[2], fw = f.shape[3]
            tensorCheck(h % fh == 0 && w % fw == 0 && h / fh == w / fw, "FeatureTaps.combine",
                        "tap '\(name)' is \(fh)x\(fw); it must divide the finest tap size \(h)x\(w) by one integer factor")
            return h == fh ? f : f.upsampleNearest(scale: h / fh)
        }
        return Variable.concat(resized, axis: 1)
    }
}

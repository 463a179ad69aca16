import DataIO
import T2ITraining
import XCTest

/// `T2IConfig.validate` names the key of every real-valued setting that is NaN or infinite (an infinity passes
/// "must be positive"), and of seeds a JSON config cannot hold.
final class T2IConfigRangeTests: XCTestCase {
    func testNonFiniteValuesAreRejectedNamingTheKey() throws {
        let keys: [(String, WritableKeyPath<T2IConfig, Double>)] = [
            ("text_encoder_lr_scale", \.textEncoderLRScale), ("text_parse_weight", \.textParseWeight), ("snr_gamma", \.snrGamma),
            ("beta_start", \.betaStart), ("beta_end", \.betaEnd), ("learning_rate", \.learningRate),
            ("weight_decay", \.weightDecay), ("adam_beta1", \.adamBeta1), ("adam_beta2", \.adamBeta2),
            ("grad_clip_norm", \.gradClipNorm), ("ema_decay", \.emaDecay), ("caption_dropout", \.captionDropout),
            ("guidance_scale", \.guidanceScale),
        ]
        XCTAssertNoThrow(try T2IConfig().validate())
        for (key, path) in keys {
            for v in [Double.nan, .infinity, -.infinity] {
                var c = T2IConfig()
                c[keyPath: path] = v
                XCTAssertThrowsError(try c.validate(), "\(key) = \(v)") { XCTAssertTrue("\($0)".contains("config: \(key)"), "\($0)") }
            }
        }
    }

    func testOutOfRangeValuesAreRejectedNamingTheKey() throws {
        func expect(_ key: String, _ change: (inout T2IConfig) -> Void) {
            var c = T2IConfig()
            change(&c)
            XCTAssertThrowsError(try c.validate(), key) { XCTAssertTrue("\($0)".contains("config: \(key)"), "\($0)") }
        }
        expect("seed") { $0.seed = UInt64(Int.max) + 1 }
        expect("weight_decay") { $0.weightDecay = -0.1 }
        expect("adam_beta1") { $0.adamBeta1 = 1 }
        expect("adam_beta2") { $0.adamBeta2 = -0.5 }
        expect("beta_start") { $0.betaStart = 0 }
        expect("beta_start") { $0.betaEnd = $0.betaStart / 2 }
        expect("guidance_scale") { $0.guidanceScale = -1 }
        // Values that used to trap the validation arithmetic itself (a modulo by zero, a shift past the word size).
        expect("norm_num_groups") { $0.normNumGroups = 0 }
        expect("attention_heads") { $0.attentionHeads = 0 }
        expect("block_out_channels") { $0.blockOutChannels = Array(repeating: 32, count: 65) }
        expect("block_out_channels") { $0.blockOutChannels = Array(repeating: 32, count: 20) }
    }

    /// Sizes from a file or `--set` are checked against `integerLimits` before the config is built.
    func testHostileSizesFromOverridesAreRefusedNamingTheKey() throws {
        for (key, value) in [("text_hidden_size", 1_000_000_000_000_000), ("norm_num_groups", 0), ("attention_heads", 0),
                             ("num_train_timesteps", 1 << 40), ("vocab_size", -3), ("layers_per_block", 1 << 40)] {
            XCTAssertThrowsError(try T2IConfig.decode(overrides: .object([key: .int(value)])), key) { e in
                XCTAssertTrue("\(e)".contains("key '\(key)' = \(value) is outside"), "\(e)")
            }
        }
        XCTAssertThrowsError(try T2IConfig.decode(overrides: .object(["block_out_channels": .array([.int(32), .int(1 << 40)])]))) { e in
            XCTAssertTrue("\(e)".contains("key 'block_out_channels.1'"), "\(e)")
        }
    }
}

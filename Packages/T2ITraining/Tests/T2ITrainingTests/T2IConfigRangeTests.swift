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
    }
}

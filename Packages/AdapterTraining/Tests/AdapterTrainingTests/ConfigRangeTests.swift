import AdapterTraining
import XCTest

/// Both stage configs name the key of a NaN or infinite real-valued setting (an infinity passes "must be
/// positive") and of seeds a JSON config cannot hold.
final class ConfigRangeTests: XCTestCase {
    func expectRejected<C: AdapterRunConfig>(_ config: C, _ key: String, validate: (C) throws -> Void,
                                              file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try validate(config), key, file: file, line: line) {
            XCTAssertTrue("\($0)".contains("config: \(key)"), "\($0)", file: file, line: line)
        }
    }

    func testSharedKeysRejectNonFiniteValuesAndLargeSeeds() {
        let keys: [(String, WritableKeyPath<ProbeConfig, Double>, WritableKeyPath<TuneConfig, Double>)] = [
            ("learning_rate", \.learningRate, \.learningRate), ("weight_decay", \.weightDecay, \.weightDecay),
            ("adam_beta1", \.adamBeta1, \.adamBeta1), ("adam_beta2", \.adamBeta2, \.adamBeta2),
            ("grad_clip_norm", \.gradClipNorm, \.gradClipNorm),
        ]
        for (key, probePath, tunePath) in keys {
            for v in [Double.nan, .infinity, -.infinity] {
                var p = ProbeConfig()
                p[keyPath: probePath] = v
                expectRejected(p, key) { try $0.validate() }
                var t = TuneConfig()
                t[keyPath: tunePath] = v
                expectRejected(t, key) { try $0.validate() }
            }
        }
        var p = ProbeConfig()
        p.worldSeed = UInt64(Int.max) + 1
        expectRejected(p, "world_seed") { try $0.validate() }
        var t = TuneConfig()
        t.seed = .max
        expectRejected(t, "seed") { try $0.validate() }
        var control = ProbeConfig()
        control.randomUNetSeed = .max
        expectRejected(control, "random_unet_seed") { try $0.validate() }
    }

    func testStageKeysRejectNonFiniteValues() {
        for v in [Float.nan, .infinity, -.infinity] {
            var p = ProbeConfig()
            p.dropout = v
            expectRejected(p, "dropout") { try $0.validate() }
        }
        for v in [Double.nan, .infinity, -.infinity] {
            for key in ["itm_weight", "rec_weight", "mse_weight", "lora_alpha"] {
                var t = TuneConfig()
                switch key {
                case "itm_weight": t.itmWeight = v
                case "rec_weight": t.recWeight = v
                case "mse_weight": t.mseWeight = v
                default: t.loraAlpha = v
                }
                expectRejected(t, key) { try $0.validate() }
            }
        }
    }
}

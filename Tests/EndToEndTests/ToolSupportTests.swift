import Foundation
import SelfCorrection
import TinyModels
import ToolSupport
import XCTest

/// The options the tools share: variant composition (LoRA, self-correction adapter) and sampling defaults.
final class ToolSupportTests: XCTestCase {
    func temporaryFolder(_ name: String) throws -> URL {
        try TinyModel.temporaryFolder(name) { addTeardownBlock($0) }
    }

    func testVariantLoadingErrorsAndDefaults() throws {
        let model = try temporaryFolder("variant-model")
        try TinyModel.write(to: model)
        let sc = SelfCorrectionSettings(eta: .constant(0.5))
        XCTAssertThrowsError(try GenerationVariant(name: "sc", selfCorrection: sc).load(model: model)) { error in
            XCTAssertTrue("\(error)".contains("no trained adapter in \(model.appendingPathComponent("adapter").path)"), "\(error)")
        }
        XCTAssertNil(try GenerationVariant(name: "base").loraFolder(model: model))
        let missing = model.appendingPathComponent("no-such-lora")
        XCTAssertThrowsError(try GenerationVariant(name: "x", lora: .folder(missing)).load(model: model)) { error in
            XCTAssertTrue("\(error)".contains(missing.path) && "\(error)".contains("adapter_config.json"), "\(error)")
        }
        let loaded = try GenerationVariant(name: "base", lora: .none).load(model: model, scheduler: "ddim")
        XCTAssertNil(loaded.corrector)
        XCTAssertEqual(loaded.pipeline.scheduler.className, "DDIMScheduler")
        XCTAssertEqual(try GenerationVariant.selfCorrectionSettings(eta: 0.5, etaSteps: 3, mode: "paper"),
                       SelfCorrectionSettings(eta: .firstSteps(0.5, count: 3), mode: .paper))
        XCTAssertThrowsError(try GenerationVariant.selfCorrectionSettings(eta: 0.5, etaSteps: nil, mode: "sideways")) {
            XCTAssertTrue("\($0)".contains("sideways"), "\($0)")
        }

        // Sampling defaults: none without train_config.json; its keys, each defaulting to 20 / 3; bad values named.
        XCTAssertNil(try ModelOptions.samplingDefaults(model: model))
        let folder = try temporaryFolder("defaults")
        let config = folder.appendingPathComponent("train_config.json")
        try Data(#"{"sample_steps": 7, "steps": 600}"#.utf8).write(to: config)
        let read = try XCTUnwrap(try ModelOptions.samplingDefaults(model: folder))
        XCTAssertEqual(read.steps, 7)
        XCTAssertEqual(read.guidanceScale, 3)
        try Data(#"{"sample_steps": "many"}"#.utf8).write(to: config)
        XCTAssertThrowsError(try ModelOptions.samplingDefaults(model: folder)) {
            XCTAssertTrue("\($0)".contains("sample_steps"), "\($0)")
        }
    }
}

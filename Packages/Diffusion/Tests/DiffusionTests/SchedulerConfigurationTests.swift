import DataIO
import Diffusion
import Foundation
import Tensor
import XCTest

/// Decoding `scheduler_config.json` (the real SD 1.5 and SD 2.1 files), diffusers' per-class defaults, conversion
/// between classes, and the errors of bad configurations.
final class SchedulerConfigurationTests: XCTestCase {
    func testStableDiffusion15Config() throws {
        let c = try SchedulerConfiguration(contentsOf: SchedulerFixtures.url("sd15_scheduler_config.json"))
        XCTAssertEqual(c.kind, .pndm)
        XCTAssertEqual(c.betaSchedule, .scaledLinear)
        XCTAssertEqual(c.betaStart, 0.00085)
        XCTAssertEqual(c.betaEnd, 0.012)
        XCTAssertEqual(c.numTrainTimesteps, 1000)
        XCTAssertTrue(c.skipPrkSteps)
        XCTAssertFalse(c.setAlphaToOne)
        XCTAssertFalse(c.clipSample)
        XCTAssertEqual(c.stepsOffset, 1)
        XCTAssertNil(c.trainedBetas)
        XCTAssertEqual(c.predictionType, .epsilon)   // PNDM default
        XCTAssertEqual(c.timestepSpacing, .leading)  // PNDM default
        let s = try c.makeScheduler()
        XCTAssertTrue(s is PNDMScheduler)
        try s.setTimesteps(50)
        // SD 1.5's PLMS schedule at 50 steps: 981, 961, 961, 941, ..., 1 (the second timestep repeated).
        XCTAssertEqual(Array(s.timesteps.prefix(4)), [981, 961, 961, 941])
        XCTAssertEqual(s.timesteps.count, 51)
        XCTAssertEqual(s.timesteps.last, 1)
    }

    func testStableDiffusion21Config() throws {
        let data = try Data(contentsOf: SchedulerFixtures.url("sd21_scheduler_config.json"))
        let c = try SchedulerConfiguration(data: data)
        XCTAssertEqual(c.kind, .ddim)
        XCTAssertEqual(c.predictionType, .vPrediction)
        XCTAssertFalse(c.setAlphaToOne)
        XCTAssertFalse(c.clipSample)
        XCTAssertEqual(c.stepsOffset, 1)
        XCTAssertEqual(c.timestepSpacing, .leading)
        let ddim = try XCTUnwrap(try c.makeScheduler() as? DDIMScheduler)
        XCTAssertEqual(ddim.finalAlphaCumprod, ddim.alphasCumprod[0])
        XCTAssertEqual(c.explicitValues["skip_prk_steps"], .bool(true))  // kept, unused by DDIM (as in diffusers)
    }

    /// Converting takes the new class's defaults for keys the file did not give (diffusers' `from_config`).
    func testConversionUsesTheNewClassDefaults() throws {
        let sd15 = try SchedulerConfiguration(contentsOf: SchedulerFixtures.url("sd15_scheduler_config.json"))
        let euler = try sd15.converted(to: "EulerDiscreteScheduler")
        XCTAssertEqual(euler.timestepSpacing, .linspace)
        XCTAssertEqual(euler.stepsOffset, 1)
        XCTAssertEqual(euler.betaSchedule, .scaledLinear)
        let ddim = try sd15.converted(to: "DDIMScheduler")
        XCTAssertFalse(ddim.setAlphaToOne)  // explicit in the file
        let fresh = try SchedulerConfiguration(kind: .ddim)
        XCTAssertTrue(fresh.setAlphaToOne)
        XCTAssertTrue(fresh.clipSample)
        XCTAssertFalse(try SchedulerConfiguration(kind: .pndm).setAlphaToOne)
        XCTAssertEqual(try SchedulerConfiguration(kind: .dpmSolverMultistep).timestepSpacing, .linspace)
        // A scheduler built from another class's configuration converts it.
        let dpm = try DPMSolverMultistepScheduler(config: sd15)
        XCTAssertEqual(dpm.config.kind, .dpmSolverMultistep)
        XCTAssertEqual(dpm.config.solverOrder, 2)
        XCTAssertEqual(dpm.config.algorithmType, .dpmSolverPlusPlus)
    }

    /// Keys listed in `_use_default_values` (diffusers' in-memory configs) count as absent.
    func testUsedDefaultsAreDropped() throws {
        let json: JSONValue = ["_class_name": "DDIMScheduler", "timestep_spacing": "leading", "steps_offset": 1,
                               "_use_default_values": ["timestep_spacing"]]
        let euler = try SchedulerConfiguration(json: json).converted(to: "EulerDiscreteScheduler")
        XCTAssertEqual(euler.timestepSpacing, .linspace)
        XCTAssertEqual(euler.stepsOffset, 1)
        XCTAssertNil(euler.explicitValues["_use_default_values"])
    }

    func testUnknownSchedulerListsKnownOnes() {
        XCTAssertThrowsError(try SchedulerConfiguration(json: ["_class_name": "LMSDiscreteScheduler"])) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("LMSDiscreteScheduler"), text)
            for known in SchedulerKind.knownNames { XCTAssertTrue(text.contains(known), text) }
        }
    }

    func testBadValuesNameTheKey() {
        func message(_ values: [String: JSONValue]) -> String {
            do {
                var v = values
                v["_class_name"] = "DDIMScheduler"
                _ = try SchedulerConfiguration(json: .object(v)).makeScheduler()
                return "no error"
            } catch { return "\(error)" }
        }
        XCTAssertTrue(message(["beta_schedule": "cosine"]).contains("beta_schedule"))
        XCTAssertTrue(message(["beta_schedule": "cosine"]).contains("squaredcos_cap_v2"))
        XCTAssertTrue(message(["prediction_type": "flow"]).contains("prediction_type"))
        XCTAssertTrue(message(["timestep_spacing": 3]).contains("timestep_spacing"))
        XCTAssertTrue(message(["beta_start": "0.1"]).contains("beta_start"))
        XCTAssertTrue(message(["clip_sample": 1.5]).contains("clip_sample"))
        XCTAssertTrue(message(["trained_betas": [0.1, 0.2]]).contains("trained_betas"))
        XCTAssertTrue(message(["num_train_timesteps": 0]).contains("num_train_timesteps"))
        XCTAssertThrowsError(try SchedulerConfiguration(json: ["beta_start": 0.1])) { error in
            XCTAssertEqual(error as? SchedulerError, .missingClassName)
        }
        XCTAssertThrowsError(try SchedulerConfiguration(data: Data("{\"_class_name\": ".utf8)))
        XCTAssertThrowsError(try SchedulerConfiguration(json: [1, 2]))
    }

    func testUnsupportedOptionsThrow() {
        let cases: [(SchedulerKind, [String: JSONValue], String)] = [
            (.eulerDiscrete, ["use_exponential_sigmas": true], "use_exponential_sigmas"),
            (.eulerDiscrete, ["interpolation_type": "log_linear"], "interpolation_type"),
            (.eulerAncestralDiscrete, ["prediction_type": "sample"], "prediction_type"),
            (.pndm, ["prediction_type": "sample"], "prediction_type"),
            (.ddpm, ["variance_type": "fixed_large_log"], "variance_type"),
            (.dpmSolverMultistep, ["solver_order": 4], "solver_order"),
            (.dpmSolverMultistep, ["algorithm_type": "dpmsolver"], "final_sigmas_type"),
            (.dpmSolverMultistep, ["use_lu_lambdas": true], "use_lu_lambdas"),
        ]
        for (kind, values, key) in cases {
            XCTAssertThrowsError(try SchedulerConfiguration(kind: kind, values: values).makeScheduler(),
                                 "\(kind) \(values)") { error in
                XCTAssertTrue("\(error)".contains(key), "\(error)")
            }
        }
    }

    func testInferenceStepCountIsChecked() throws {
        for kind in SchedulerKind.allCases {
            let s = try SchedulerConfiguration(kind: kind).makeScheduler()
            XCTAssertThrowsError(try s.setTimesteps(0), "\(kind)")
            XCTAssertThrowsError(try s.setTimesteps(1001), "\(kind)")
            XCTAssertNoThrow(try s.setTimesteps(1000), "\(kind)")
        }
    }

    /// `trained_betas` replaces the schedule: passing the linear betas explicitly gives the same alpha_bar.
    func testTrainedBetas() throws {
        let linear = BetaSchedule.torchLinspace(0.0001, 0.02, count: 1000)
        let values: [String: JSONValue] = ["trained_betas": .array(linear.map { .double(Double($0)) })]
        let a = try DDIMScheduler(config: SchedulerConfiguration(kind: .ddim, values: values))
        let b = try DDIMScheduler()
        XCTAssertEqual(a.alphasCumprod, b.alphasCumprod)
    }
}

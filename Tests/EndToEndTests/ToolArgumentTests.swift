import Foundation
import XCTest

/// Every tool rejects NaN, infinities and out-of-range integers with an error that names the option and the value,
/// before it reads a file or loads a model. Each test runs one built executable with bad values (a model folder that
/// does not exist, so that a check made too late would fail with another message) and a few good ones.
///
/// The executables come from the root package's products folder, the folder of the test bundle: `swift test` builds
/// every product of the package, the tools included, before it runs the tests (Tools/run-tests.sh runs
/// `swift test -c release` on the root package).
final class ToolArgumentTests: XCTestCase {
    /// A folder no test creates: a tool that loaded it would fail naming it.
    let missingModel = "no-such-model"
    let seedAboveInt = "18446744073709551615"  // UInt64.max: configs keep seeds as JSON integers (Int)

    // MARK: Running a tool

    /// The folder holding the built tools: beside the .xctest bundle (macOS) or the test executable (Linux).
    static let productsDirectory: URL? = {
        var candidates: [URL] = []
        for bundle in Bundle.allBundles where bundle.bundlePath.hasSuffix(".xctest") {
            candidates.append(bundle.bundleURL.deletingLastPathComponent())
        }
        candidates.append(Bundle.main.bundleURL)
        candidates.append(URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent())
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0.appendingPathComponent("sample").path) }
    }()

    /// A scratch working directory, so that a tool that did start work would write only there.
    lazy var workDirectory: URL = {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("tool-arguments-\(UUID().uuidString)")
        try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }()

    override func tearDown() {
        try? FileManager.default.removeItem(at: workDirectory)
        super.tearDown()
    }

    /// Runs `tool` with `arguments`; returns its exit status and its stdout and stderr together. A run that
    /// outlives `timeout` seconds is killed and fails the test (argument checks take milliseconds).
    func run(_ tool: String, _ arguments: [String], timeout: TimeInterval = 60,
             file: StaticString = #filePath, line: UInt = #line) throws -> (status: Int32, output: String) {
        guard let dir = Self.productsDirectory else {
            XCTFail("the built tools are not beside the test bundle; build them with `swift build -c release`", file: file, line: line)
            return (0, "")
        }
        let process = Process()
        process.executableURL = dir.appendingPathComponent(tool)
        process.arguments = arguments
        process.currentDirectoryURL = workDirectory
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        process.standardInput = FileHandle.nullDevice
        try process.run()
        final class Output: @unchecked Sendable { var data = Data() }  // written once, read after `done`
        let done = DispatchSemaphore(value: 0), output = Output(), reader = pipe.fileHandleForReading
        DispatchQueue.global().async {
            output.data = reader.readDataToEndOfFile()
            done.signal()
        }
        if done.wait(timeout: .now() + timeout) == .timedOut {
            process.terminate()
            done.wait()
            XCTFail("\(tool) \(arguments.joined(separator: " ")) ran over \(timeout) s: its checks came too late", file: file, line: line)
        }
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: output.data, as: UTF8.self))
    }

    /// `tool` with `arguments` exits nonzero and its error names the option and the value (`naming` each).
    func expectRejected(_ tool: String, _ arguments: [String], naming: [String],
                        file: StaticString = #filePath, line: UInt = #line) throws {
        let (status, output) = try run(tool, arguments, file: file, line: line)
        let call = "\(tool) \(arguments.joined(separator: " "))"
        XCTAssertNotEqual(status, 0, "\(call) was accepted:\n\(output)", file: file, line: line)
        for text in naming {
            XCTAssertTrue(output.contains(text), "\(call): the error does not name '\(text)':\n\(output)", file: file, line: line)
        }
        // An option and its value must be named together (the usage text lists every option anyway): our checks
        // write "--option value: expected ...", ArgumentParser's own parse errors "'value' is invalid for '--option".
        let given = zip(arguments, arguments.dropFirst()).contains { $0 == (naming.first ?? "") && $1 == naming.last }
            || arguments.contains("\(naming.first ?? "")=\(naming.last ?? "")")
        if naming.count == 2, naming[0].hasPrefix("--"), given {   // the value was given to that option
            let (option, value) = (naming[0], naming[1])
            XCTAssertTrue(output.contains("\(option) \(value)") || output.contains("'\(value)' is invalid for '\(option)"),
                          "\(call): the error does not name \(option) with \(value):\n\(output)", file: file, line: line)
        }
    }

    /// Each of `cases` (extra arguments, then the texts the error must hold) is rejected after `base`.
    func expectRejected(_ tool: String, base: [String], _ cases: [([String], [String])],
                        file: StaticString = #filePath, line: UInt = #line) throws {
        for (arguments, naming) in cases {
            try expectRejected(tool, base + arguments, naming: naming, file: file, line: line)
        }
    }

    /// `tool` gets past its checks: it fails, if at all, on the missing model folder, not on an option.
    func expectAccepted(_ tool: String, _ arguments: [String], file: StaticString = #filePath, line: UInt = #line) throws {
        let (status, output) = try run(tool, arguments, file: file, line: line)
        XCTAssertTrue(status == 0 || output.contains(missingModel), "\(tool) \(arguments.joined(separator: " ")):\n\(output)",
                      file: file, line: line)
        XCTAssertFalse(output.contains(": expected a finite number") || output.contains(": expected an integer")
                       || output.contains("must be a finite number"),
                       "\(tool) \(arguments.joined(separator: " ")) rejected a valid value:\n\(output)", file: file, line: line)
    }

    // MARK: One test per tool

    func testSampleRejectsNonFiniteAndOutOfRangeValues() throws {
        try expectRejected("sample", base: ["--prompt", "a red circle", "--model", missingModel], [
            (["--guidance", "nan"], ["--guidance", "nan"]),
            (["--guidance", "inf"], ["--guidance", "inf"]),
            (["--guidance=-inf"], ["--guidance", "-inf"]),
            (["--guidance=-2"], ["--guidance", "-2"]),
            (["--guidance-rescale", "nan"], ["--guidance-rescale", "nan"]),
            (["--guidance-rescale", "1.5"], ["--guidance-rescale", "1.5"]),
            (["--self-correct", "--eta", "inf"], ["--eta", "inf"]),
            (["--self-correct", "--eta=-1"], ["--eta", "-1"]),
            (["--steps", "0"], ["--steps", "0"]),
            (["--n=-1"], ["--n", "-1"]),
            (["--batch", "0"], ["--batch", "0"]),
            (["--height", "0"], ["--height", "0"]),
            (["--width", "100000"], ["--width", "100000"]),
            (["--seed", "18446744073709551616"], ["--seed", "18446744073709551616"]),
        ])
        try expectAccepted("sample", ["--prompt", "a red circle", "--model", missingModel, "--guidance", "0", "--guidance-rescale", "1",
                                      "--steps", "1", "--n", "1", "--height", "8", "--seed", seedAboveInt])
    }

    func testTrainT2IRejectsNonFiniteAndOutOfRangeValues() throws {
        let nanConfig = workDirectory.appendingPathComponent("nan-config.json")
        try Data(#"{"batch_size": 4, "ema_decay": NaN}"#.utf8).write(to: nanConfig)
        try expectRejected("train-t2i", base: ["--print-config", "--out", "run"], [
            (["--learning-rate", "nan"], ["--learning-rate", "nan"]),
            (["--learning-rate", "inf"], ["--learning-rate", "inf"]),
            (["--learning-rate=-inf"], ["--learning-rate", "-inf"]),
            (["--learning-rate", "0"], ["--learning-rate", "0"]),
            (["--set", "learning_rate=nan"], ["learning_rate", "nan"]),
            (["--set", "snr_gamma=Infinity"], ["snr_gamma", "Infinity"]),
            (["--set", "guidance_scale=-inf"], ["guidance_scale", "-inf"]),
            (["--set", "beta_end=1e999"], ["beta_end", "1e999"]),
            (["--config", nanConfig.path], ["--config", "ema_decay"]),
            (["--steps", "0"], ["--steps", "0"]),
            (["--batch-size=-4"], ["--batch-size", "-4"]),
            (["--seed", seedAboveInt], ["--seed", seedAboveInt]),
            (["--checkpoint-every", "0"], ["--checkpoint-every", "0"]),
            (["--sample-every=-1"], ["--sample-every", "-1"]),
            (["--stop-after", "0"], ["--stop-after", "0"]),
        ])
        let (status, output) = try run("train-t2i", ["--print-config", "--out", "run", "--learning-rate", "0.002", "--seed", "7"])
        XCTAssertEqual(status, 0, output)
        XCTAssertTrue(output.contains(#""learning_rate":0.002"#), output)
    }

    func testT2IEvaluateRejectsNonFiniteAndOutOfRangeValues() throws {
        try expectRejected("t2i-evaluate", base: ["--model", missingModel, "--out", "eval"], [
            (["--guidance", "nan"], ["--guidance", "nan"]),
            (["--guidance", "inf"], ["--guidance", "inf"]),
            (["--guidance=-inf"], ["--guidance", "-inf"]),
            (["--guidance-rescale", "nan"], ["--guidance-rescale", "nan"]),
            (["--guidance-rescale=-0.5"], ["--guidance-rescale", "-0.5"]),
            (["--steps", "0"], ["--steps", "0"]),
            (["--images-per-prompt", "0"], ["--images-per-prompt", "0"]),
            (["--prompts-per-category", "0"], ["--prompts-per-category", "0"]),
            (["--batch=-3"], ["--batch", "-3"]),
            (["--grid-prompts=-1"], ["--grid-prompts", "-1"]),
        ])
        try expectAccepted("t2i-evaluate", ["--model", missingModel, "--out", "eval", "--guidance", "1.5", "--steps", "2", "--grid-prompts", "0"])
    }

    func testTrainAdapterRejectsNonFiniteAndOutOfRangeValues() throws {
        // Options of both stages, checked under either subcommand.
        for stage in ["probe", "tune"] {
            try expectRejected("train-adapter", base: [stage, "--print-config", "--model", missingModel], [
                (["--learning-rate", "inf"], ["--learning-rate", "inf"]),
                (["--weight-decay", "nan"], ["--weight-decay", "nan"]),
                (["--grad-clip=-inf"], ["--grad-clip", "-inf"]),
                (["--set", "weight_decay=nan"], ["weight_decay", "nan"]),
                (["--set", "adam_beta1=-Infinity"], ["adam_beta1", "-Infinity"]),
                (["--steps", "0"], ["--steps", "0"]),
                (["--batch-size", "0"], ["--batch-size", "0"]),
                (["--warmup-steps=-1"], ["--warmup-steps", "-1"]),
                (["--timestep-min", "10", "--timestep-max", "10"], ["--timestep-max", "10"]),
                (["--seed", seedAboveInt], ["--seed", seedAboveInt]),
                (["--world-seed", seedAboveInt], ["--world-seed", seedAboveInt]),
                (["--log-every", "0"], ["--log-every", "0"]),
            ])
        }
        try expectRejected("train-adapter", base: ["probe", "--print-config", "--model", missingModel], [
            (["--dropout", "nan"], ["--dropout", "nan"]),
            (["--dropout", "1"], ["--dropout", "1"]),
            (["--image-size", "8"], ["--image-size", "8"]),
            (["--random-unet-seed", seedAboveInt], ["--random-unet-seed", seedAboveInt]),
            (["--lora-rank", "4"], ["--lora-rank"]),            // a stage-2 flag is not a stage-1 option
        ])
        try expectRejected("train-adapter", base: ["tune", "--print-config", "--model", missingModel], [
            (["--itm-weight", "nan"], ["--itm-weight", "nan"]),
            (["--rec-weight", "inf"], ["--rec-weight", "inf"]),
            (["--mse-weight=-1"], ["--mse-weight", "-1"]),
            (["--lora-rank", "0"], ["--lora-rank", "0"]),
            (["--gradient-accumulation", "0"], ["--gradient-accumulation", "0"]),
            (["--taps", "up1"], ["--taps"]),                     // a stage-1 flag is not a stage-2 option
        ])
        let (status, output) = try run("train-adapter", ["tune", "--print-config", "--itm-weight", "0", "--seed", "3"])
        XCTAssertEqual(status, 0, output)
        XCTAssertTrue(output.contains(#""itm_weight":0"#), output)
        let (probeStatus, probeOutput) = try run("train-adapter", ["probe", "--print-config", "--taps", "mid", "--steps", "7"])
        XCTAssertEqual(probeStatus, 0, probeOutput)
        XCTAssertTrue(probeOutput.contains(#""feature_taps":["mid"]"#) && probeOutput.contains(#""steps":7"#), probeOutput)
    }

    func testEvaluateRejectsNonFiniteAndOutOfRangeValues() throws {
        try expectRejected("evaluate", base: ["discriminative", "--model", missingModel], [
            (["--t=-1"], ["--t", "-1"]),
            (["--count", "0"], ["--count", "0"]),
            (["--batch-size", "0"], ["--batch-size", "0"]),
        ])
        try expectRejected("evaluate", base: ["sweep", "--model", missingModel], [
            (["--timesteps", "100,nan"], ["--timesteps", "nan"]),
            (["--timesteps=100,-5"], ["--timesteps", "-5"]),
            (["--steps", "0"], ["--steps", "0"]),
            (["--random-unet-seed", seedAboveInt], ["--random-unet-seed", seedAboveInt]),
        ])
        try expectRejected("evaluate", base: ["generation", "--model", missingModel, "--variant", "v", "--suite", "id", "--out", "gen"], [
            (["--guidance", "nan"], ["--guidance", "nan"]),
            (["--guidance", "inf"], ["--guidance", "inf"]),
            (["--self-correct", "--eta", "nan"], ["--eta", "nan"]),
            (["--self-correct", "--eta=-inf"], ["--eta", "-inf"]),
            (["--self-correct", "--eta-steps=-1"], ["--eta-steps", "-1"]),
            (["--steps", "0"], ["--steps", "0"]),
            (["--images-per-prompt", "0"], ["--images-per-prompt", "0"]),
            (["--batch", "0"], ["--batch", "0"]),
        ])
        try expectRejected("evaluate", ["generation-report", "--results", "results", "--out", "report.md", "--resamples", "0"],
                           naming: ["--resamples", "0"])
        try expectAccepted("evaluate", ["generation", "--model", missingModel, "--variant", "v", "--suite", "id", "--out", "gen",
                                        "--guidance", "3", "--self-correct", "--eta", "0.5", "--eta-steps", "0"])
    }

    func testShapesWorldRejectsOutOfRangeValues() throws {
        try expectRejected("shapesworld", base: ["render", "a red circle", "--output", "out.png"], [
            (["--size", "8"], ["--size", "8"]),
            (["--size", "9223372036854775807"], ["--size", "9223372036854775807"]),
            (["--scale", "0"], ["--scale", "0"]),
            (["--scale", "100000"], ["--scale", "100000"]),
        ])
        try expectRejected("shapesworld", base: ["export", "--out", "export"], [
            (["--count=-1"], ["--count", "-1"]),
            (["--start=-1"], ["--start", "-1"]),
            (["--start", "9223372036854775807", "--count", "1"], ["--start", "9223372036854775807"]),
        ])
        try expectRejected("shapesworld", base: ["grid", "--output", "grid.png"], [
            (["--columns", "0"], ["--columns", "0"]),
            (["--columns", "100000"], ["--columns", "100000"]),
            (["--scale=-2"], ["--scale", "-2"]),
        ])
        try expectRejected("shapesworld", ["stats", "--count", "0"], naming: ["--count", "0"])
        try expectRejected("shapesworld", ["judge-accuracy", "--per-category", "0"], naming: ["--per-category", "0"])
        try expectRejected("shapesworld", ["judge", ".", "--resamples", "0"], naming: ["--resamples", "0"])
        let (status, output) = try run("shapesworld", ["render", "a red circle", "--output", "out.png", "--scale", "2"])
        XCTAssertEqual(status, 0, output)
    }

    func testTokenizeRejectsOutOfRangeContext() throws {
        for value in ["1", "0", "-3", "100000", "nan", "abc"] {
            try expectRejected("tokenize", ["--context", value, "a red circle"], naming: ["--context", value])
        }
    }

    func testBenchOpsRejectsBadRepetitions() throws {
        for value in ["0", "-3", "nan", "abc", "99999999999999999999"] {
            try expectRejected("bench-ops", [value], naming: ["repetitions", value])
        }
    }

    func testDemoRejectsNonFiniteAndOutOfRangeValues() throws {
        try expectRejected("demo", base: ["--model", missingModel, "--out", "demo"], [
            (["--guidance", "nan"], ["--guidance", "nan"]),
            (["--guidance", "inf"], ["--guidance", "inf"]),
            (["--guidance=-inf"], ["--guidance", "-inf"]),
            (["--guidance=-1"], ["--guidance", "-1"]),
            (["--steps", "0"], ["--steps", "0"]),
            (["--steps", "1.5"], ["--steps", "1.5"]),
            (["--per-category", "0"], ["--per-category", "0"]),
        ])
        try expectAccepted("demo", ["--model", missingModel, "--out", "demo", "--guidance", "0", "--steps", "1"])
    }
}

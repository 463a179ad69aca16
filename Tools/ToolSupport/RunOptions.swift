import ArgumentParser
import DataIO
import Foundation

/// The options every training tool takes for its run folder and config (`train-t2i`, `train-adapter probe|tune`):
/// resume, a config file, `--set` overrides, a simulated interruption, and printing the resolved config.
public struct RunOptions: ParsableArguments {
    @Flag(name: .long, help: "Continue from the newest complete checkpoint in --out (same data order and optimiser state).")
    public var resume = false
    @Option(name: .long, help: "JSON file with any subset of the config keys.")
    public var config: String?
    @Option(name: .customLong("set"), parsing: .singleValue, help: "KEY=VALUE config override (repeatable; JSON value).")
    public var sets: [String] = []
    @Option(name: .customLong("stop-after"), help: "Stop after this many steps in total (checkpointing there), as if interrupted.")
    public var stopAfter: Int?
    @Flag(name: .customLong("print-config"), help: "Print the resolved config as JSON and exit.")
    public var printConfig = false

    public init() {}

    public func validate() throws {
        try OptionCheck.integer("--stop-after", stopAfter, .atLeast(1))
        _ = try ConfigOverrides.parse(sets)
        if let config { try ConfigOverrides.checkFile(config) }
    }

    /// `flags` (the values given as flags, by config key) with the --set overrides on top.
    public func overrides(_ flags: [String: JSONValue]) throws -> [String: JSONValue] {
        flags.merging(try ConfigOverrides.parse(sets)) { _, set in set }
    }
}

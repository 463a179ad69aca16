import DataIO
import Foundation
import XCTest

/// A run config with one optional key, to check the shared override/merge/error rules.
private struct ToyConfig: RunConfig, Equatable {
    var steps = 10
    var rate = 0.5
    var name: String? = nil
    init() {}
    static let errorLabel = "toy config"
    enum CodingKeys: String, CodingKey { case steps, rate, name }
    init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        steps = try c.decodeIfPresent(Int.self, forKey: .steps) ?? 10
        rate = try c.decodeIfPresent(Double.self, forKey: .rate) ?? 0.5
        name = try c.decodeIfPresent(String.self, forKey: .name)
    }
    func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(steps, forKey: .steps)
        try c.encode(rate, forKey: .rate)
        try c.encode(name, forKey: .name)    // null when nil: every key is listed
    }
}

final class RunConfigTests: XCTestCase {
    func testOverridesMergeOverTheBaseAndErrorsNameTheKey() throws {
        XCTAssertEqual(ToyConfig.keys, ["name", "rate", "steps"])
        var base = ToyConfig()
        base.rate = 0.25
        let c = try ToyConfig.decode(overrides: ["steps": 3, "name": "x"], base: base)
        XCTAssertEqual(c.steps, 3)
        XCTAssertEqual(c.rate, 0.25)
        XCTAssertEqual(c.name, "x")
        XCTAssertEqual(try ToyConfig.decode(overrides: try c.json()), c)
        XCTAssertThrowsError(try ToyConfig.decode(overrides: ["step": 3])) { e in
            XCTAssertTrue("\(e)".hasPrefix("toy config: unknown key 'step'; known keys: name, rate, steps"), "\(e)")
        }
        XCTAssertThrowsError(try ToyConfig.decode(overrides: ["steps": "many"])) { e in
            XCTAssertTrue("\(e)".contains("key 'steps' has the wrong type"), "\(e)")
        }
        XCTAssertThrowsError(try ToyConfig.decode(overrides: [1, 2])) { e in
            XCTAssertTrue("\(e)".contains("top level is not a JSON object"), "\(e)")
        }
        // NaN and infinities (possible in an override built in code, not in JSON text) are refused by key.
        for bad in [Double.nan, .infinity, -.infinity] {
            XCTAssertThrowsError(try ToyConfig.decode(overrides: .object(["rate": .double(bad)]))) { e in
                XCTAssertTrue("\(e)".contains("key 'rate' = \(bad) is not a finite number"), "\(e)")
            }
        }
        XCTAssertThrowsError(try ToyConfig.decode(overrides: .object(["name": .array([.double(1), .double(.nan)])]))) { e in
            XCTAssertTrue("\(e)".contains("key 'name.1' = nan is not a finite number"), "\(e)")
        }
    }

    func testFilesAreReadOverTheBaseAndBadFilesAreNamed() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("runconfig-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let good = dir.appendingPathComponent("good.json"), bad = dir.appendingPathComponent("bad.json")
        try Data(#"{"rate": 2}"#.utf8).write(to: good)
        try Data("{rate".utf8).write(to: bad)
        XCTAssertEqual(try ToyConfig.load(contentsOf: good).rate, 2)
        XCTAssertEqual(try ToyConfig.load(contentsOf: good).steps, 10)
        XCTAssertThrowsError(try ToyConfig.load(contentsOf: bad)) { e in
            XCTAssertTrue("\(e)".contains("bad.json is not valid JSON"), "\(e)")
        }
        XCTAssertThrowsError(try ToyConfig.load(contentsOf: dir.appendingPathComponent("missing.json"))) { e in
            XCTAssertTrue("\(e)".contains("cannot read config file") && "\(e)".contains("missing.json"), "\(e)")
        }
    }
}

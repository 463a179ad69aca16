import Evaluation
import Foundation
import XCTest

final class FailureTableTests: XCTestCase {
    /// The failure table counts each failed image once per kind it fails, unparseable images apart, per category.
    func testFailureTableCountsKindsPerCategory() throws {
        func image(_ category: String, parseable: Bool = true, _ failed: [String], passed: [String] = []) -> String {
            let cs = (failed.map { (k: $0, p: false) } + passed.map { (k: $0, p: true) })
                .map { "{\"kind\":\"\($0.k)\",\"description\":\"d\",\"observed\":\"o\",\"passed\":\($0.p)}" }.joined(separator: ",")
            let all = parseable && failed.isEmpty
            return "{\"promptID\":\"p\",\"category\":\"\(category)\",\"prompt\":\"x\",\"seed\":0,\"seconds\":0,\"verdict\":{\"parseable\":\(parseable),\"problems\":[],\"constraints\":[\(cs)],\"allPassed\":\(all),\"fractionPassed\":0}}"
        }
        let images = [
            image("single", [], passed: ["count", "size"]),
            image("single", ["size"], passed: ["count"]),
            image("single", ["count", "size"]),
            image("spatial", ["relation"], passed: ["count", "count"]),
            image("spatial", parseable: false, []),
        ]
        let json = "{\"variant\":\"base\",\"model\":\"m\",\"batch\":1,\"secondsPerImage\":0,\"suite\":\"id\",\"promptsPerCategory\":1,\"imagesPerPrompt\":1,\"steps\":1,\"guidanceScale\":1,\"scheduler\":\"s\",\"summaries\":[],\"images\":[\(images.joined(separator: ","))]}"
        let r = try JSONDecoder().decode(GenerationEvaluationResult.self, from: Data(json.utf8))
        XCTAssertEqual(GenerationEvaluation.failureTable(r).split(separator: "\n").dropFirst(2), [
            "| single | 2 | 1 | 2 | 0 | 0 |",
            "| spatial | 2 | 0 | 0 | 1 | 1 |",
            "| all | 4 | 1 | 2 | 1 | 1 |",
        ])
    }
}

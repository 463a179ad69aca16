import XCTest
import ShapesWorld

final class PromptSuiteTests: XCTestCase {
    func testCommittedSuitesMatchTheGenerator() throws {
        for name in PromptSuite.Name.allCases {
            let committed = try PromptSuite.load(name)
            XCTAssertEqual(committed, PromptSuite.generate(name), "Resources/prompts-\(name.rawValue).json is stale: run `shapesworld suites`")
        }
    }

    func testSuiteContents() throws {
        for name in PromptSuite.Name.allCases {
            let suite = PromptSuite.generate(name)
            XCTAssertEqual(Set(suite.prompts.map(\.id)).count, suite.prompts.count)
            for cat in Category.allCases {
                let ps = suite.prompts.filter { $0.category == cat }
                XCTAssertGreaterThanOrEqual(ps.count, 50)
                XCTAssertEqual(Set(ps.map(\.text)).count, ps.count)
            }
            var held = 0
            for p in suite.prompts {
                let parsed = try CaptionParser.parseWithTemplate(p.text)
                XCTAssertEqual(parsed.meaning, p.meaning)
                XCTAssertEqual(parsed.template.id, p.template)
                XCTAssertEqual(p.meaning.category, p.category)
                let hasHeld = p.meaning.pairs.contains { $0.isHeldOut }
                XCTAssertEqual(hasHeld, name == .ood, p.text)
                if parsed.template.heldOut { held += 1 }
                if name == .id { XCTAssertFalse(parsed.template.heldOut) }
            }
            if name == .ood { XCTAssertGreaterThan(held, suite.prompts.count / 3) }
        }
    }
}

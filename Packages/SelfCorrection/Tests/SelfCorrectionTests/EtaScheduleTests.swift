import SelfCorrection
import XCTest

final class EtaScheduleTests: XCTestCase {
    func testValues() {
        XCTAssertEqual(EtaSchedule.constant(0.5).values(steps: 3), [0.5, 0.5, 0.5])
        XCTAssertEqual(EtaSchedule.firstSteps(0.5, count: 2).values(steps: 4), [0.5, 0.5, 0, 0])
        XCTAssertEqual(EtaSchedule.firstSteps(0.5, count: 9).values(steps: 2), [0.5, 0.5])
        XCTAssertEqual(EtaSchedule.linear(from: 1, to: 0).values(steps: 5), [1, 0.75, 0.5, 0.25, 0])
        XCTAssertEqual(EtaSchedule.linear(from: 0.2, to: 0.6).values(steps: 1), [0.2])
        XCTAssertEqual(EtaSchedule.perStep([0.1, 0.3]).values(steps: 2), [0.1, 0.3])
    }

    func testParse() throws {
        XCTAssertEqual(try EtaSchedule.parse("constant", eta: 0.5), .constant(0.5))
        XCTAssertEqual(try EtaSchedule.parse("first:10", eta: 0.25), .firstSteps(0.25, count: 10))
        XCTAssertEqual(try EtaSchedule.parse("linear", eta: 1), .linear(from: 1, to: 0))
        XCTAssertEqual(try EtaSchedule.parse("linear:0.1", eta: 1), .linear(from: 1, to: 0.1))
        XCTAssertEqual(try EtaSchedule.parse("list:0.5,0,0.25", eta: 9), .perStep([0.5, 0, 0.25]))
        for bad in ["", "first", "first:-1", "first:x", "linear:abc", "list:", "list:1,,2", "cosine", "constant:1", "linear:inf"] {
            XCTAssertThrowsError(try EtaSchedule.parse(bad, eta: 0.5), bad) { e in
                XCTAssertEqual((e as? SelfCorrectionError)?.setting, "eta schedule", "\(bad): \(e)")
            }
        }
    }

    func testValidate() {
        XCTAssertNoThrow(try EtaSchedule.constant(0.5).validate(steps: 50))
        XCTAssertThrowsError(try EtaSchedule.constant(.nan).validate(steps: 5))
        XCTAssertThrowsError(try EtaSchedule.linear(from: 1, to: .infinity).validate(steps: 5))
        XCTAssertThrowsError(try EtaSchedule.perStep([1, 2]).validate(steps: 3))
        XCTAssertThrowsError(try EtaSchedule.constant(0.5).validate(steps: 0))
        XCTAssertThrowsError(try SelfCorrectionSettings(gradientBatch: 0).validate(steps: 4))
    }
}

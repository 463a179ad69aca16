import TinyModels
import XCTest

extension TinyModel {
    /// A fresh temporary folder, removed at the end of `test`.
    static func temporaryFolder(_ test: XCTestCase, _ name: String) throws -> URL {
        try temporaryFolder(name) { test.addTeardownBlock($0) }
    }
}

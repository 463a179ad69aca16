import DataIO
import Diffusion
import Foundation
import Tensor
import XCTest

/// The scheduler fixtures written by Tools/reference/fixtures/diffusion_schedulers.py (diffusers 0.42.1).
enum SchedulerFixtures {
    struct Missing: Error, CustomStringConvertible { let description: String }

    static func url(_ name: String) throws -> URL {
        guard let base = Bundle.module.resourceURL else { throw Missing(description: "no resource bundle") }
        let url = base.appendingPathComponent("Fixtures").appendingPathComponent(name)
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw Missing(description: "fixture \(name) not found; regenerate with "
                + "Tools/reference/.venv/bin/python Tools/reference/fixtures/diffusion_schedulers.py")
        }
        return url
    }

    static let json: JSONValue = {
        try! JSONValue.parse(Data(contentsOf: url("schedulers.json")))
    }()

    static let tensors: SafetensorsFile = {
        try! SafetensorsFile(contentsOf: url("schedulers.safetensors"))
    }()

    static func tensor(_ name: String) throws -> Tensor { try tensors.tensor(name) }

    /// The configuration a case gives to diffusers (`config`, or `config_file`, converted to `as_class`).
    static func config(of c: JSONValue) throws -> SchedulerConfiguration {
        var config: SchedulerConfiguration
        if let file = c["config_file"]?.stringValue {
            config = try SchedulerConfiguration(contentsOf: url(file))
        } else {
            config = try SchedulerConfiguration(json: c["config"]!)
        }
        if let asClass = c["as_class"]?.stringValue { config = try config.converted(to: asClass) }
        return config
    }

    /// The fixture's model: x * (t + 1) / (t + 2), with a variance half for the learned DDPM variances.
    static func model(_ x: Tensor, _ t: Float, kind: String) -> Tensor {
        let a = t + 1, b = t + 2
        let out = Tensor(shape: x.shape, scalars: x.scalars.map { $0 * a / b })
        switch kind {
        case "learned":
            let v = Tensor(shape: x.shape, scalars: x.scalars.map { $0 * $0 * Float(0.01) + Float(0.001) })
            return Tensor.concat([out, v], axis: 1)
        case "learned_range":
            let v = Tensor(shape: x.shape, scalars: x.scalars.map { $0 / (Swift.abs($0) + 1) })
            return Tensor.concat([out, v], axis: 1)
        default:
            return out
        }
    }

    static func sumAbs(_ t: Tensor) -> Double { t.scalars.reduce(0) { $0 + Double(Swift.abs($1)) } }
}

/// Relative difference |a - b| / max(|b|, tiny).
func relativeError(_ a: Double, _ b: Double) -> Double {
    Swift.abs(a - b) / Swift.max(Swift.abs(b), 1e-30)
}

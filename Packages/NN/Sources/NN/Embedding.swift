import Autodiff
import Tensor

/// `nn.Embedding`: a table `<path>.weight` [count, dim] initialised normal(0, 1).
public final class Embedding: Module {
    public let path: String
    public let count: Int
    public let dim: Int
    public let weight: Variable

    public init(_ vb: VarBuilder, count: Int, dim: Int) {
        tensorCheck(count > 0 && dim > 0, "Embedding(\(vb.path))", "count \(count) and dim \(dim) must be positive")
        path = vb.path
        self.count = count
        self.dim = dim
        weight = vb.parameter("weight", shape: [count, dim], initializer: .normal(mean: 0, std: 1))
        vb.register(self)
    }

    /// Rows of the table for `ids`, shaped `shape + [dim]` (`shape` defaults to `[ids.count]`).
    public func callAsFunction(_ ids: [Int], shape: [Int]? = nil) -> Variable {
        for (i, id) in ids.enumerated() where id < 0 || id >= count {
            tensorCheck(false, "Embedding(\(path))", "id \(id) at position \(i) is outside 0..<\(count)")
        }
        let rows = Variable.embedding(weight: weight, ids: ids)
        guard let shape else { return rows }
        tensorCheck(shape.reduce(1, *) == ids.count, "Embedding(\(path))",
                    "shape \(shape) does not hold \(ids.count) ids")
        return rows.reshaped(shape + [dim])
    }
}

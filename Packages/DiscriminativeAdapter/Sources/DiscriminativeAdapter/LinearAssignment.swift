/// Exact minimum-cost assignment for a rectangular cost matrix (`scipy.optimize.linear_sum_assignment`).
///
/// Shortest augmenting paths with dual potentials (the Hungarian method in Jonker-Volgenant form): for an n x m
/// matrix with n <= m, each of the n rows is added in turn and one Dijkstra-like sweep over the m columns finds
/// the cheapest augmenting path, O(n^2 m) overall. A matrix with more rows than columns is solved transposed, so
/// min(n, m) pairs are always returned.
public enum LinearAssignment {
    /// The optimal pairs (row, column), sorted by row, and their total cost. `cost` is row-major [rows][columns];
    /// every entry must be finite.
    public static func solve(_ cost: [[Double]]) throws -> (pairs: [(row: Int, column: Int)], total: Double) {
        let n = cost.count
        guard n > 0 else { return ([], 0) }
        let m = cost[0].count
        for (i, r) in cost.enumerated() {
            guard r.count == m else {
                throw AdapterError.input("LinearAssignment: row \(i) has \(r.count) costs, row 0 has \(m)")
            }
            if let j = r.firstIndex(where: { !$0.isFinite }) {
                throw AdapterError.input("LinearAssignment: cost[\(i)][\(j)] = \(r[j]) is not finite")
            }
        }
        guard m > 0 else { return ([], 0) }
        if n <= m {
            let cols = assignRows(cost, n, m)
            let pairs = (0..<n).map { (row: $0, column: cols[$0]) }
            return (pairs, pairs.reduce(0) { $0 + cost[$1.row][$1.column] })
        }
        var t = [[Double]](repeating: [Double](repeating: 0, count: n), count: m)
        for i in 0..<n { for j in 0..<m { t[j][i] = cost[i][j] } }
        let rowsOfColumns = assignRows(t, m, n)                      // column j of `cost` -> its row
        let pairs = (0..<m).map { (row: rowsOfColumns[$0], column: $0) }.sorted { $0.row < $1.row }
        return (pairs, pairs.reduce(0) { $0 + cost[$1.row][$1.column] })
    }

    /// For n <= m: the column assigned to each row.
    private static func assignRows(_ a: [[Double]], _ n: Int, _ m: Int) -> [Int] {
        // 1-based potentials u (rows), v (columns); p[j] = row matched to column j (0 = none); way = predecessor.
        var u = [Double](repeating: 0, count: n + 1)
        var v = [Double](repeating: 0, count: m + 1)
        var p = [Int](repeating: 0, count: m + 1)
        var way = [Int](repeating: 0, count: m + 1)
        var minv = [Double](repeating: 0, count: m + 1)
        var used = [Bool](repeating: false, count: m + 1)
        for i in 1...n {
            p[0] = i
            var j0 = 0
            for j in 0...m { minv[j] = .infinity; used[j] = false }
            repeat {
                used[j0] = true
                let i0 = p[j0]
                var delta = Double.infinity
                var j1 = 0
                let row = a[i0 - 1]
                for j in 1...m where !used[j] {
                    let cur = row[j - 1] - u[i0] - v[j]
                    if cur < minv[j] { minv[j] = cur; way[j] = j0 }
                    if minv[j] < delta { delta = minv[j]; j1 = j }
                }
                for j in 0...m {
                    if used[j] { u[p[j]] += delta; v[j] -= delta } else { minv[j] -= delta }
                }
                j0 = j1
            } while p[j0] != 0
            repeat {
                let j1 = way[j0]
                p[j0] = p[j1]
                j0 = j1
            } while j0 != 0
        }
        var result = [Int](repeating: -1, count: n)
        for j in 1...m where p[j] != 0 { result[p[j] - 1] = j - 1 }
        return result
    }
}

/// The rare x rare corner of a block whose unobserved cells an approximate step leaves out.
///
/// Rows and columns of a block are in frequency order, so `pmi* = log N - log R_i - log C_j` grows towards the
/// block's last rows and columns, and an unobserved cell's gradient `sigmoid(p - pmi*)` shrinks there like
/// `exp(p - pmi*)`. The corner `rows a..<n x columns b..<m` is the largest rectangle whose every cell has
/// `pmi* >= cutoff`: its unobserved cells get no gradient (each would have been at most `sigmoid(p - cutoff)`),
/// its observed cells are trained exactly, one dot product each. The rest of the block is computed as the exact
/// step computes it, with the same SGEMMs cut to size.
public struct RareCorner: Equatable, Sendable {
    /// First row of the corner (`rowCount` when it is empty).
    public let firstRow: Int
    /// First column of the corner (`columnCount` when it is empty).
    public let firstColumn: Int

    /// Whether the corner holds no cell.
    public func isEmpty(rowCount: Int, columnCount: Int) -> Bool {
        firstRow >= rowCount || firstColumn >= columnCount
    }

    /// The largest corner of a `rowTerm.count x columnTerm.count` block with `rowTerm[i] - columnTerm[j] >=
    /// cutoff` for every cell in it (`rowTerm`: `log N - log R_i`; `columnTerm`: `log C_j`, as the loss uses
    /// them). Largest by cells; the marginals need not be sorted (suffix extremes are used).
    public init(rowTerm: UnsafePointer<Float>, rowCount: Int, columnTerm: UnsafePointer<Float>, columnCount: Int,
                cutoff: Float) {
        // lowestRow[a] = min rowTerm[a...]; highestColumn[b] = max columnTerm[b...] (non-increasing in b).
        var lowestRow = [Float](repeating: .infinity, count: rowCount + 1)
        for i in stride(from: rowCount - 1, through: 0, by: -1) { lowestRow[i] = min(lowestRow[i + 1], rowTerm[i]) }
        var highestColumn = [Float](repeating: -.infinity, count: columnCount + 1)
        for j in stride(from: columnCount - 1, through: 0, by: -1) { highestColumn[j] = max(highestColumn[j + 1], columnTerm[j]) }
        var best = (cells: 0, row: rowCount, column: columnCount)
        // For each first row, the first column that qualifies: it moves left as the first row moves down (the
        // rows' minimum can only grow).
        var b = columnCount
        for a in 0..<rowCount {
            while b > 0 && lowestRow[a] - highestColumn[b - 1] >= cutoff { b -= 1 }
            let cells = (rowCount - a) * (columnCount - b)
            if cells > best.cells { best = (cells, a, b) }
        }
        firstRow = best.row
        firstColumn = best.column
    }

    /// A corner given by its first row and column.
    public init(firstRow: Int, firstColumn: Int) {
        self.firstRow = firstRow
        self.firstColumn = firstColumn
    }
}

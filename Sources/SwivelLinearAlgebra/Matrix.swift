/// A dense row-major matrix of Float, `rows x columns`, element (i, j) at `values[i * columns + j]`.
public struct Matrix: Equatable, Sendable {
    /// Number of rows.
    public let rows: Int
    /// Number of columns.
    public let columns: Int
    /// Elements, row-major, `rows * columns` of them.
    public var values: [Float]

    /// A matrix of zeros.
    public init(rows: Int, columns: Int) {
        self.init(rows: rows, columns: columns, values: [Float](repeating: 0, count: rows * columns))
    }

    /// A matrix over the given row-major values (`values.count == rows * columns`).
    public init(rows: Int, columns: Int, values: [Float]) {
        precondition(rows >= 0 && columns >= 0 && values.count == rows * columns, "matrix shape does not match its values")
        self.rows = rows
        self.columns = columns
        self.values = values
    }

    /// Element (i, j).
    @inline(__always)
    public subscript(row: Int, column: Int) -> Float {
        get { values[row * columns + column] }
        set { values[row * columns + column] = newValue }
    }

    /// Row `i` as an array.
    public func row(_ i: Int) -> ArraySlice<Float> { values[(i * columns)..<((i + 1) * columns)] }

    /// Scales every row to unit Euclidean length (zero rows stay zero).
    public mutating func normalizeRows() {
        let d = columns
        values.withUnsafeMutableBufferPointer { v in
            for i in 0..<rows {
                var norm: Float = 0
                for j in 0..<d { norm += v[i * d + j] * v[i * d + j] }
                norm = norm.squareRoot()
                if norm > 0 {
                    let inv = 1 / norm
                    for j in 0..<d { v[i * d + j] *= inv }
                }
            }
        }
    }
}

import SwivelLinearAlgebra

/// The running sum of an ensemble's members: each finished member's row and column vectors, rotated onto the
/// sum of those before it, are added; the model is the mean.
///
/// Why: a Swivel run's vectors depend much on its seed (on the benchmark corpus, runs rotated onto each other still
/// differ by 85-95% of their norm, and single runs' analogy scores by 2 points); the mean of several runs keeps
/// what they share and shrinks what they do not, which analogies reward. A rotation `Q` applied to both `R` and
/// `C` leaves every prediction `R C^T` unchanged, so each member is first rotated by the `Q` that best maps its
/// `[R; C]` onto the sum's (orthogonal Procrustes, one `d x d` SVD), then added. On the benchmark corpus three members raised Google analogy
/// accuracy from 40-41% to 49% (docs/benchmarks.md, "Ensembles").
///
/// Shapes: `rowSum` is `rows x dimension`, `columnSum` `columns x dimension`, row-major, as the model's
/// embeddings. Both are kept in checkpoints, so an interrupted ensemble resumes exactly.
///
/// In a subword model a side's vectors are means of feature and n-gram vectors (``SubwordComposition``): the rotation
/// is fitted to the composed vectors and applied to the feature and n-gram vectors alike (``rowNgramSum``,
/// ``columnNgramSum``), which rotates every composed vector, seen or unseen, by the same `Q`.
public final class EnsembleAverage: @unchecked Sendable {
    /// Sum of the finished members' (rotated) row vectors.
    public let rowSum: ParameterMatrix
    /// Sum of the finished members' (rotated) column vectors.
    public let columnSum: ParameterMatrix
    /// The n-gram parts of a subword model's rows and columns (nil for a side without), whose vectors are summed too.
    let rowSubwords: SubwordComposition?, columnSubwords: SubwordComposition?
    /// Sum of the finished members' (rotated) row n-gram vectors (with ``rowSubwords``).
    public let rowNgramSum: ParameterMatrix?
    /// Sum of the finished members' (rotated) column n-gram vectors (with ``columnSubwords``).
    public let columnNgramSum: ParameterMatrix?

    /// An empty sum for `rows` row and `columns` column vectors of `dimension`, and the n-gram vectors of
    /// `rowSubwords` and `columnSubwords` (a subword model's; the members' n-gram vectors are read from them).
    public init(rows: Int, columns: Int, dimension: Int, rowSubwords: SubwordComposition? = nil,
                columnSubwords: SubwordComposition? = nil) {
        rowSum = ParameterMatrix(rows: rows, dimension: dimension)
        columnSum = ParameterMatrix(rows: columns, dimension: dimension)
        self.rowSubwords = rowSubwords
        self.columnSubwords = columnSubwords
        rowNgramSum = rowSubwords.map { ParameterMatrix(rows: $0.vectors.rows, dimension: dimension) }
        columnNgramSum = columnSubwords.map { ParameterMatrix(rows: $0.vectors.rows, dimension: dimension) }
    }

    /// Adds a finished member (its row and column feature vectors, shapes as the sums, and the n-gram vectors its
    /// compositions hold): member 0 as it is, later ones after rotating them onto the sum so far (`membersBefore`
    /// members are in it).
    public func add(rows: ParameterMatrix, columns: ParameterMatrix, membersBefore: Int) throws {
        precondition(rows.rows == rowSum.rows && columns.rows == columnSum.rows
                     && rows.dimension == rowSum.dimension && columns.dimension == rowSum.dimension,
                     "member shapes differ from the ensemble's")
        let d = rowSum.dimension
        // (member matrix, its sum) pairs: feature vectors, then n-gram vectors.
        var pairs = [(rows, rowSum), (columns, columnSum)]
        if let rowSubwords, let rowNgramSum { pairs.append((rowSubwords.vectors, rowNgramSum)) }
        if let columnSubwords, let columnNgramSum { pairs.append((columnSubwords.vectors, columnNgramSum)) }
        if membersBefore == 0 {
            for (member, sum) in pairs { sum.storage.update(from: member.storage, count: member.rows * d) }
            return
        }
        // The vectors the rotation is fitted to: the features', or a subword side's composed vectors.
        func aligned(_ words: ParameterMatrix, _ sum: ParameterMatrix, _ side: SubwordComposition?,
                     _ ngramSum: ParameterMatrix?) -> (ParameterMatrix, ParameterMatrix) {
            guard let side, let ngramSum else { return (words, sum) }
            return (side.composed(words: words), side.composed(words: sum, ngrams: ngramSum))
        }
        let (memberRows, sumRows) = aligned(rows, rowSum, rowSubwords, rowNgramSum)
        let (memberColumns, sumColumns) = aligned(columns, columnSum, columnSubwords, columnNgramSum)
        // M = R^T S_R + C^T S_C (d x d): the cross product of the stacked member and sum.
        var cross = Matrix(rows: d, columns: d)
        cross.values.withUnsafeMutableBufferPointer { m in
            BLAS.sgemm(transposeA: .transposed, m: d, n: d, k: rows.rows, a: memberRows.storage, lda: d,
                       b: sumRows.storage, ldb: d, c: m.baseAddress!, ldc: d)
            BLAS.sgemm(transposeA: .transposed, m: d, n: d, k: columns.rows, a: memberColumns.storage, lda: d,
                       b: sumColumns.storage, ldb: d, beta: 1, c: m.baseAddress!, ldc: d)
        }
        let q = try OrthogonalProcrustes.rotation(crossProduct: cross)
        q.values.withUnsafeBufferPointer { q in
            for (member, sum) in pairs where member.rows > 0 {
                BLAS.sgemm(m: member.rows, n: d, k: d, a: member.storage, lda: d, b: q.baseAddress!, ldb: d,
                           beta: 1, c: sum.storage, ldc: d)
            }
        }
    }

    /// Writes the mean of `members` members into `rows` and `columns` (the model's feature vectors) and into the
    /// compositions' n-gram vectors.
    public func writeMean(members: Int, rows: ParameterMatrix, columns: ParameterMatrix) {
        let scale = 1 / Float(members)
        var pairs = [(rowSum, rows), (columnSum, columns)]
        if let rowSubwords, let rowNgramSum { pairs.append((rowNgramSum, rowSubwords.vectors)) }
        if let columnSubwords, let columnNgramSum { pairs.append((columnNgramSum, columnSubwords.vectors)) }
        for (sum, target) in pairs {
            for i in 0..<(sum.rows * sum.dimension) { target.storage[i] = sum.storage[i] * scale }
        }
    }
}

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
/// A subword model's row vectors are means of feature and n-gram vectors (``SubwordRows``): its rotation is found
/// from the composed rows and applied to the feature and n-gram vectors alike (`ngramSum`), which rotates every
/// composed vector, seen or unseen, by the same `Q`.
public final class EnsembleAverage: @unchecked Sendable {
    /// Sum of the finished members' (rotated) row vectors.
    public let rowSum: ParameterMatrix
    /// Sum of the finished members' (rotated) column vectors.
    public let columnSum: ParameterMatrix
    /// Sum of the finished members' (rotated) n-gram vectors (subword models only).
    public let ngramSum: ParameterMatrix?

    /// An empty sum for `rows` row and `columns` column vectors of `dimension`, and `ngrams` n-gram vectors
    /// for a subword model.
    public init(rows: Int, columns: Int, dimension: Int, ngrams: Int? = nil) {
        rowSum = ParameterMatrix(rows: rows, dimension: dimension)
        columnSum = ParameterMatrix(rows: columns, dimension: dimension)
        ngramSum = ngrams.map { ParameterMatrix(rows: $0, dimension: dimension) }
    }

    /// Adds a finished member (its row and column vectors, shapes as the sums): member 0 as it is, later ones
    /// after rotating them onto the sum so far (`membersBefore` members are in it).
    ///
    /// - Parameters:
    ///   - ngrams: a subword model's n-gram vectors (shape of ``ngramSum``), rotated and summed with the rest.
    ///   - compose: a subword model's composed rows from (feature vectors, n-gram vectors): the rotation is fitted
    ///     to the composed rows of the member and of the sum.
    public func add(rows: ParameterMatrix, columns: ParameterMatrix, ngrams: ParameterMatrix? = nil,
                    compose: ((ParameterMatrix, ParameterMatrix) -> ParameterMatrix)? = nil,
                    membersBefore: Int) throws {
        precondition((ngrams == nil) == (ngramSum == nil) && (ngrams == nil || compose != nil),
                     "a subword ensemble needs n-gram vectors and their composition")
        precondition(rows.rows == rowSum.rows && columns.rows == columnSum.rows
                     && rows.dimension == rowSum.dimension && columns.dimension == rowSum.dimension,
                     "member shapes differ from the ensemble's")
        let d = rowSum.dimension
        if membersBefore == 0 {
            rowSum.storage.update(from: rows.storage, count: rows.rows * d)
            columnSum.storage.update(from: columns.storage, count: columns.rows * d)
            if let ngrams, let ngramSum { ngramSum.storage.update(from: ngrams.storage, count: ngrams.rows * d) }
            return
        }
        // The rows the rotation is fitted to: the vectors themselves, or a subword model's composed rows.
        let (memberRows, sumRows) = if let ngrams, let ngramSum, let compose {
            (compose(rows, ngrams), compose(rowSum, ngramSum))
        } else {
            (rows, rowSum)
        }
        // M = R^T S_R + C^T S_C (d x d): the cross product of the stacked member and sum.
        var cross = Matrix(rows: d, columns: d)
        cross.values.withUnsafeMutableBufferPointer { m in
            BLAS.sgemm(transposeA: .transposed, m: d, n: d, k: rows.rows, a: memberRows.storage, lda: d,
                       b: sumRows.storage, ldb: d, c: m.baseAddress!, ldc: d)
            BLAS.sgemm(transposeA: .transposed, m: d, n: d, k: columns.rows, a: columns.storage, lda: d,
                       b: columnSum.storage, ldb: d, beta: 1, c: m.baseAddress!, ldc: d)
        }
        let q = try OrthogonalProcrustes.rotation(crossProduct: cross)
        q.values.withUnsafeBufferPointer { q in
            BLAS.sgemm(m: rows.rows, n: d, k: d, a: rows.storage, lda: d, b: q.baseAddress!, ldb: d,
                       beta: 1, c: rowSum.storage, ldc: d)
            BLAS.sgemm(m: columns.rows, n: d, k: d, a: columns.storage, lda: d, b: q.baseAddress!, ldb: d,
                       beta: 1, c: columnSum.storage, ldc: d)
            if let ngrams, let ngramSum, ngrams.rows > 0 {
                BLAS.sgemm(m: ngrams.rows, n: d, k: d, a: ngrams.storage, lda: d, b: q.baseAddress!, ldb: d,
                           beta: 1, c: ngramSum.storage, ldc: d)
            }
        }
    }

    /// Writes the mean of `members` members into `rows` and `columns` (the model's embeddings) and, for a subword
    /// model, `ngrams`.
    public func writeMean(members: Int, rows: ParameterMatrix, columns: ParameterMatrix, ngrams: ParameterMatrix? = nil) {
        let scale = 1 / Float(members)
        var pairs = [(rowSum, rows), (columnSum, columns)]
        if let ngramSum, let ngrams { pairs.append((ngramSum, ngrams)) }
        for (sum, target) in pairs {
            for i in 0..<(sum.rows * sum.dimension) { target.storage[i] = sum.storage[i] * scale }
        }
    }
}

import CLAPACKE

// `lapack_int` is a C macro (int32_t in Debian's LAPACKE), so Int32 stands for it here.

/// Errors from LAPACK routines.
public enum LAPACKError: Error, CustomStringConvertible, Equatable {
    /// A routine returned a non-zero `info` code.
    case failed(routine: String, info: Int32)

    public var description: String {
        switch self {
        case let .failed(routine, info): return "LAPACK \(routine) failed (info \(info))"
        }
    }
}

/// Eigen-decomposition of symmetric matrices through LAPACKE, the only door to LAPACK.
public enum SymmetricEigen {
    /// The `count` largest eigenvalues of the symmetric `n x n` row-major matrix `a`, largest first, with their
    /// unit eigenvectors (`count x n`, row `i` belongs to value `i`). Uses `ssyevr` (relatively robust
    /// representations), computing only the requested eigenpairs.
    public static func largest(_ count: Int, of a: Matrix) throws -> (values: [Float], vectors: Matrix) {
        let n = a.rows
        precondition(a.columns == n && count >= 1 && count <= n, "need a square matrix and 1...n eigenpairs")
        var work = a.values
        var found: Int32 = 0
        var values = [Float](repeating: 0, count: n)
        var z = [Float](repeating: 0, count: n * count)
        var support = [Int32](repeating: 0, count: 2 * n)
        let info = LAPACKE_ssyevr(LAPACK_ROW_MAJOR, CChar(UInt8(ascii: "V")), CChar(UInt8(ascii: "I")),
                                  CChar(UInt8(ascii: "U")), Int32(n), &work, Int32(n), 0, 0,
                                  Int32(n - count + 1), Int32(n), 0, &found, &values, &z,
                                  Int32(count), &support)
        guard info == 0, found == count else { throw LAPACKError.failed(routine: "ssyevr", info: info) }
        // ssyevr returns ascending order with eigenvectors in the columns of z (n x count, row-major).
        var vectors = Matrix(rows: count, columns: n)
        var ordered = [Float](repeating: 0, count: count)
        for k in 0..<count {
            let source = count - 1 - k
            ordered[k] = values[source]
            for i in 0..<n { vectors[k, i] = z[i * count + source] }
        }
        return (ordered, vectors)
    }
}

/// The orthogonal Procrustes problem: the rotation that best maps one set of vectors onto another.
public enum OrthogonalProcrustes {
    /// The orthogonal `d x d` matrix `Q` (row-major) minimising `|| X Q - Y ||_F`, given the cross product
    /// `m = X^T Y` (`d x d`, row-major; `X` and `Y` are `n x d`, row `i` of each describing the same item).
    ///
    /// With the SVD `m = U S V^T`, `Q = U V^T` (Schönemann 1966). Only `m` is needed, so callers can sum it over
    /// several matrices (rows and columns of an embedding) with one SGEMM each. Computed in double precision
    /// with LAPACK's `dgesvd`.
    public static func rotation(crossProduct m: Matrix) throws -> Matrix {
        let d = m.rows
        precondition(m.columns == d && d >= 1, "the cross product must be square")
        var a = m.values.map(Double.init)
        var s = [Double](repeating: 0, count: d)
        var u = [Double](repeating: 0, count: d * d)
        var vt = [Double](repeating: 0, count: d * d)
        var superb = [Double](repeating: 0, count: max(1, d - 1))
        let info = LAPACKE_dgesvd(LAPACK_ROW_MAJOR, CChar(UInt8(ascii: "A")), CChar(UInt8(ascii: "A")),
                                  Int32(d), Int32(d), &a, Int32(d), &s, &u, Int32(d), &vt, Int32(d), &superb)
        guard info == 0 else { throw LAPACKError.failed(routine: "dgesvd", info: info) }
        var q = Matrix(rows: d, columns: d)
        for i in 0..<d {
            for j in 0..<d {
                var sum = 0.0
                for k in 0..<d { sum += u[i * d + k] * vt[k * d + j] }
                q[i, j] = Float(sum)
            }
        }
        return q
    }
}

/// An orthonormal basis of the span of a tall matrix's columns, by Householder QR (LAPACK `sgeqrf`, `sorgqr`).
public enum ColumnBasis {
    /// Replaces the `rows x columns` row-major matrix at `a` (`rows >= columns`) by the `Q` of its thin QR
    /// decomposition: orthonormal columns spanning the same space as the input's, in the same order.
    public static func orthonormalize(_ a: UnsafeMutablePointer<Float>, rows: Int, columns: Int) throws {
        precondition(rows >= columns && columns >= 1, "need a tall matrix")
        var tau = [Float](repeating: 0, count: columns)
        var info = LAPACKE_sgeqrf(LAPACK_ROW_MAJOR, Int32(rows), Int32(columns), a, Int32(columns), &tau)
        guard info == 0 else { throw LAPACKError.failed(routine: "sgeqrf", info: info) }
        info = LAPACKE_sorgqr(LAPACK_ROW_MAJOR, Int32(rows), Int32(columns), Int32(columns), a, Int32(columns), &tau)
        guard info == 0 else { throw LAPACKError.failed(routine: "sorgqr", info: info) }
    }
}

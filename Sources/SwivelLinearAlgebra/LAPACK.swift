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

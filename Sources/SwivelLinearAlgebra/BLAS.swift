import CBLAS
#if canImport(Glibc)
import Glibc
#endif

/// Matrix transposition flag for ``BLAS/sgemm(transposeA:transposeB:m:n:k:alpha:a:lda:b:ldb:beta:c:ldc:)``.
public enum Transpose: Sendable {
    /// Use the matrix as stored.
    case none
    /// Use its transpose.
    case transposed

    var cblas: CBLAS_TRANSPOSE { self == .none ? CblasNoTrans : CblasTrans }
}

/// The only door to OpenBLAS: single-precision matrix products and the library's threading and kernel.
///
/// All matrices are row-major (`CblasRowMajor`). Shapes are checked with `precondition`.
public enum BLAS {
    /// `C = alpha * op(A) * op(B) + beta * C`, with `op(A)` of shape `m x k`, `op(B)` `k x n`, `C` `m x n`.
    ///
    /// - Parameters:
    ///   - lda: distance in elements between successive rows of `A` as stored (at least its stored width).
    ///   - ldb: likewise for `B`.
    ///   - ldc: likewise for `C` (at least `n`).
    @inline(__always)
    public static func sgemm(transposeA: Transpose = .none, transposeB: Transpose = .none,
                             m: Int, n: Int, k: Int, alpha: Float = 1,
                             a: UnsafePointer<Float>, lda: Int,
                             b: UnsafePointer<Float>, ldb: Int,
                             beta: Float = 0,
                             c: UnsafeMutablePointer<Float>, ldc: Int) {
        precondition(m >= 0 && n >= 0 && k >= 0, "sgemm: negative dimension")
        precondition(lda >= max(1, transposeA == .none ? k : m), "sgemm: lda \(lda) too small")
        precondition(ldb >= max(1, transposeB == .none ? n : k), "sgemm: ldb \(ldb) too small")
        precondition(ldc >= max(1, n), "sgemm: ldc \(ldc) too small")
        if m == 0 || n == 0 { return }
        cblas_sgemm(CblasRowMajor, transposeA.cblas, transposeB.cblas,
                    blasint(m), blasint(n), blasint(k), alpha,
                    a, blasint(lda), b, blasint(ldb), beta, c, blasint(ldc))
    }

    /// `y = alpha * op(A) * x + beta * y` for a row-major `rows x columns` matrix `A`.
    public static func sgemv(transpose: Transpose = .none, rows: Int, columns: Int, alpha: Float = 1,
                             a: UnsafePointer<Float>, lda: Int, x: UnsafePointer<Float>,
                             beta: Float = 0, y: UnsafeMutablePointer<Float>) {
        precondition(lda >= max(1, columns), "sgemv: lda too small")
        if rows == 0 || columns == 0 { return }
        cblas_sgemv(CblasRowMajor, transpose.cblas, blasint(rows), blasint(columns), alpha,
                    a, blasint(lda), x, 1, beta, y, 1)
    }

    /// Sets how many threads OpenBLAS uses inside one call (a process-wide setting).
    public static func setThreads(_ count: Int) {
        openblas_set_num_threads(Int32(max(1, count)))
    }

    /// The CPU kernel OpenBLAS chose when it loaded (e.g. "SkylakeX", "Haswell", "Prescott").
    public static var coreName: String {
        guard let name = openblas_get_corename() else { return "unknown" }
        return String(cString: name)
    }

    /// OpenBLAS's build description (version, options, kernel).
    public static var configuration: String {
        guard let text = openblas_get_config() else { return "unknown" }
        return String(cString: text)
    }
}

/// Chooses the OpenBLAS kernel this CPU deserves, to work around OpenBLAS builds that misdetect it.
///
/// Debian's OpenBLAS 0.3.21 picks "Prescott" (its oldest kernel) on some AVX-512 Xeons and then runs SGEMM
/// 5-6x slower. The kernel is chosen when the library loads, from `OPENBLAS_CORETYPE` if set, so the only
/// remedy from inside a process is to re-launch it with the variable set.
public enum OpenBLASKernel {
    /// Kernels from slowest to fastest on x86-64, as OpenBLAS names them.
    static let ranking = ["Prescott", "Core2", "Penryn", "Dunnington", "Nehalem", "Sandybridge",
                          "Haswell", "Zen", "SkylakeX", "Cooperlake", "Sapphirerapids"]

    /// The kernel OpenBLAS should use given the CPU flags in /proc/cpuinfo (nil when unknown or not x86-64).
    public static func recommended(cpuFlags: Set<String>? = nil) -> String? {
        guard let flags = cpuFlags ?? readCPUFlags() else { return nil }
        if ["avx512f", "avx512vl", "avx512bw", "avx512dq", "avx512cd"].allSatisfy(flags.contains) { return "SkylakeX" }
        if ["avx2", "fma"].allSatisfy(flags.contains) { return "Haswell" }
        if flags.contains("avx") { return "Sandybridge" }
        return nil
    }

    /// Whether the loaded kernel is slower than `recommended` (both must be known kernel names).
    public static func isSlower(_ loaded: String, than recommended: String) -> Bool {
        guard let a = ranking.firstIndex(where: { $0.lowercased() == loaded.lowercased() }),
              let b = ranking.firstIndex(where: { $0.lowercased() == recommended.lowercased() }) else { return false }
        return a < b
    }

    /// The `flags` line of /proc/cpuinfo as a set, or nil when it cannot be read.
    static func readCPUFlags() -> Set<String>? {
        guard let file = fopen("/proc/cpuinfo", "r") else { return nil }
        defer { fclose(file) }
        var line: UnsafeMutablePointer<CChar>? = nil
        var capacity = 0
        defer { free(line) }
        while getline(&line, &capacity, file) > 0 {
            guard let line else { break }
            let text = String(cString: line)
            if text.hasPrefix("flags") {
                let parts = text.split(separator: ":", maxSplits: 1)
                guard parts.count == 2 else { return nil }
                return Set(parts[1].split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "\t" }).map(String.init))
            }
        }
        return nil
    }
}

import Dispatch
import SwivelConcurrency
import SwivelLinearAlgebra

/// How a run's (or an ensemble member's) vectors start.
public enum Initialization: String, CaseIterable, Codable, Sendable {
    /// N(0, 1/sqrt(d)) entries drawn from the seed, as the reference does.
    case random
    /// The rank-d truncated SVD of the positive PMI matrix of the observed cells (``SpectralStart``).
    case spectral
}

/// A starting point for training: the best rank-`d` approximation of the positive PMI matrix `M_ij = max(0, pmi_ij)`
/// of the observed cells (unobserved cells count as 0), split evenly between rows and columns: rows `U S^1/2`,
/// columns `V S^1/2`, so that `rows x columns^T` is that approximation (Levy, Goldberg and Dagan 2015 score such SVD
/// vectors on their own).
///
/// Why: from random vectors a run needs about 20 epochs; from here, which already holds the matrix's principal
/// directions, 1-3 epochs reach the same scores. The random probes of the randomized SVD (drawn from the seed) make
/// the starts of two seeds differ in their trailing directions, enough for an ensemble's members to end in
/// different solutions whose mean scores better than any of them (docs/benchmarks.md, "Spectral start").
///
/// Computed by randomized SVD (Halko, Martinsson and Tropp 2011, algorithm 4.4) with `k` probe vectors (`d + 10`
/// rounded up to a multiple of 16, at most the matrix's sides) and two power iterations: six sparse passes over
/// the shards (``SparseProduct``, `O(nnz k)` each), QR factorizations of `V x k` matrices and the
/// eigen-decomposition of a `k x k` one by LAPACK. Memory: three `V x k` float matrices besides the model.
/// Deterministic for a seed whatever the thread count, when BLAS runs single-threaded (as ``Trainer`` runs it):
/// each output row of a pass is summed by one worker in a fixed order.
public enum SpectralStart {
    /// Power iterations (each two passes over the shards).
    public static let powerIterations = 2

    /// The PMI terms and shard strides the products need; see ``TrainingModel`` for `rowTerms`/`columnTerms`.
    public struct Geometry: Sendable {
        /// Rows and columns of the matrix.
        public let rows: Int, columns: Int
        /// Row and column shard counts: block `(r, c)`'s local row `i` is global row `r + i * rowShards`.
        public let rowShards: Int, columnShards: Int
        /// `log N - log R_i`, one per row.
        public let rowTerms: [Float]
        /// `alpha log C_j`, one per column.
        public let columnTerms: [Float]

        /// Creates the geometry of `model`'s matrix.
        public init(model: TrainingModel) {
            rows = model.rowEmbeddings.rows
            columns = model.columnEmbeddings.rows
            rowShards = model.rowShards
            columnShards = model.columnShards
            rowTerms = model.rowTerms
            columnTerms = model.columnTerms
        }
    }

    /// Writes the spectral start into `rows` (`rows x d`) and `columns` (`columns x d`).
    ///
    /// - Parameters:
    ///   - block: block `(r, c)` at index `r * columnShards + c`, decoded (called once per block and pass).
    ///   - seed: seed of the random probes; dimensions beyond the matrix's rank get N(0, 1/sqrt(d)) entries from it.
    ///   - threads: workers for the sparse products.
    public static func write(into rowVectors: ParameterMatrix, _ columnVectors: ParameterMatrix, geometry g: Geometry,
                             seed: UInt64, threads: Int, block: @escaping @Sendable (Int) throws -> TrainingBlock) throws {
        let d = rowVectors.dimension
        precondition(rowVectors.rows == g.rows && columnVectors.rows == g.columns && columnVectors.dimension == d)
        var random = RandomSource(seed: seed ^ 0x5350_4543_5452_414C)   // "SPECTRAL": probes apart from the vectors
        let k = min((d + 10 + 15) / 16 * 16, g.rows, g.columns)
        // Scratch: probes (later B^T), then the row and column bases, each `rows or columns x k`.
        let probes = ParameterMatrix(rows: g.columns, dimension: k)
        let rowBasis = ParameterMatrix(rows: g.rows, dimension: k), columnBasis = ParameterMatrix(rows: g.columns, dimension: k)
        for i in 0..<(g.columns * k) { probes.storage[i] = Float(random.nextGaussian()) }
        let product = SparseProduct(geometry: g, k: k, threads: threads, block: block)
        try product.multiply(probes.storage, into: rowBasis.storage, transposed: false)
        try ColumnBasis.orthonormalize(rowBasis.storage, rows: g.rows, columns: k)
        for _ in 0..<powerIterations {
            try product.multiply(rowBasis.storage, into: columnBasis.storage, transposed: true)
            try ColumnBasis.orthonormalize(columnBasis.storage, rows: g.columns, columns: k)
            try product.multiply(columnBasis.storage, into: rowBasis.storage, transposed: false)
            try ColumnBasis.orthonormalize(rowBasis.storage, rows: g.rows, columns: k)
        }
        // B^T = M^T Q (columns x k); B B^T = E diag(s^2) E^T gives M ~ (Q E) diag(s) (B^T E / s)^T.
        let bt = probes   // reused: columns x k
        try product.multiply(rowBasis.storage, into: bt.storage, transposed: true)
        var gram = Matrix(rows: k, columns: k)
        gram.values.withUnsafeMutableBufferPointer { c in
            BLAS.sgemm(transposeA: .transposed, m: k, n: k, k: g.columns, a: bt.storage, lda: k, b: bt.storage, ldb: k,
                       c: c.baseAddress!, ldc: k)
        }
        let rank = min(d, k)
        let (values, vectors) = try SymmetricEigen.largest(rank, of: gram)   // vectors: rank x k, row i = e_i
        // Row i of `vectors` scaled: rows get Q e_i s_i^1/2, columns B^T e_i s_i^-1/2.
        var rowMap = Matrix(rows: k, columns: d), columnMap = Matrix(rows: k, columns: d)
        for i in 0..<rank where values[i] > 0 {
            let s = Double(values[i]).squareRoot()
            let (up, down) = (Float(s.squareRoot()), Float(1 / s.squareRoot()))
            for t in 0..<k {
                rowMap[t, i] = vectors[i, t] * up
                columnMap[t, i] = vectors[i, t] * down
            }
        }
        rowMap.values.withUnsafeBufferPointer { m in
            BLAS.sgemm(m: g.rows, n: d, k: k, a: rowBasis.storage, lda: k, b: m.baseAddress!, ldb: d,
                       c: rowVectors.storage, ldc: d)
        }
        columnMap.values.withUnsafeBufferPointer { m in
            BLAS.sgemm(m: g.columns, n: d, k: k, a: bt.storage, lda: k, b: m.baseAddress!, ldb: d,
                       c: columnVectors.storage, ldc: d)
        }
        // Dimensions the matrix cannot fill (rank below d) start random, or they would never move.
        let sigma = 1 / Double(d).squareRoot()
        for i in 0..<d where i >= rank || values[i] <= 0 {
            for r in 0..<g.rows { rowVectors.storage[r * d + i] = Float(random.nextGaussian() * sigma) }
            for c in 0..<g.columns { columnVectors.storage[c * d + i] = Float(random.nextGaussian() * sigma) }
        }
    }
}

/// `Y = M X` or `Y = M^T X` for the positive PMI matrix `M` of the observed cells, with `X` and `Y` row-major
/// with `k` columns.
///
/// Most of a block's nonzeros are sparse, one `k`-wide multiply-add each (SIMD over 16 lanes); but rows and columns
/// of a block are in frequency order, so its top-left corner (frequent x frequent) is dense, and there an SGEMM of
/// the corner, zeros included, is cheaper. Each block's corner is the square of side `s` (a power of two from
/// `minimumCorner` up to 2048) that saves the most: the nonzeros it holds, less `s^2 / denseCellsPerNonzero`.
///
/// Each output shard (a row shard for `M X`, a column shard for `M^T X`) is one work item, summed over the other
/// side's shards in order (the caller runs BLAS single-threaded): the result does not depend on the thread count.
struct SparseProduct: Sendable {
    let geometry: SpectralStart.Geometry
    let k: Int
    let threads: Int
    /// Smallest dense corner tried (blocks smaller than it are sparse throughout).
    var minimumCorner = 256
    let block: @Sendable (Int) throws -> TrainingBlock

    /// Largest dense corner side (a 16 MiB buffer per worker).
    static let maximumCorner = 2048
    /// Dense corner cells that cost as much as one sparse nonzero: SGEMM's rate over the sparse loop's, both
    /// measured at `k` 320 (about 270 and 14 GFLOP/s on the 2-core benchmark machine), rounded down.
    static let denseCellsPerNonzero = 16

    init(geometry: SpectralStart.Geometry, k: Int, threads: Int, minimumCorner: Int = 256,
         block: @escaping @Sendable (Int) throws -> TrainingBlock) {
        self.geometry = geometry
        self.k = k
        self.threads = threads
        self.minimumCorner = minimumCorner
        self.block = block
    }

    /// The side of `b`'s dense corner, or 0 when none saves time.
    func denseCorner(_ b: TrainingBlock) -> Int {
        var best = 0, bestSaving = 0
        var side = minimumCorner
        while side <= min(Self.maximumCorner, b.rowCount, b.columnCount) {
            var inside = 0
            for i in 0..<side {
                // Columns are strictly increasing within a row: count those below `side` by binary search.
                var low = Int(b.rowStart[i]), high = Int(b.rowStart[i + 1])
                let first = low
                while low < high {
                    let mid = (low + high) / 2
                    if Int(b.columnIndex[mid]) < side { low = mid + 1 } else { high = mid }
                }
                inside += low - first
            }
            let saving = inside - side * side / Self.denseCellsPerNonzero
            if saving > bestSaving { (best, bestSaving) = (side, saving) }
            side *= 2
        }
        return best
    }

    /// Writes `M X` (`transposed` false; `x` is `columns x k`, `y` `rows x k`) or `M^T X` into `y`.
    func multiply(_ x: UnsafeMutablePointer<Float>, into y: UnsafeMutablePointer<Float>, transposed: Bool) throws {
        let g = geometry, k = self.k
        let outputShards = transposed ? g.columnShards : g.rowShards
        let innerShards = transposed ? g.rowShards : g.columnShards
        y.update(repeating: 0, count: (transposed ? g.columns : g.rows) * k)
        let (xAddress, yAddress) = (UInt(bitPattern: x), UInt(bitPattern: y))
        let workers = max(1, min(threads, outputShards))
        let failures = ConcurrentSlots<Error?>(repeating: nil, count: workers)
        DispatchQueue.concurrentPerform(iterations: workers) { worker in
            let x = UnsafeMutablePointer<Float>(bitPattern: xAddress)!
            let y = UnsafeMutablePointer<Float>(bitPattern: yAddress)!
            var dense: UnsafeMutablePointer<Float>? = nil
            defer { dense?.deallocate() }
            var shard = worker
            while shard < outputShards {
                for inner in 0..<innerShards {
                    let (r, c) = transposed ? (inner, shard) : (shard, inner)
                    let b: TrainingBlock
                    do { b = try block(r * g.columnShards + c) } catch { failures[worker] = error; return }
                    let corner = denseCorner(b)
                    if corner > 0 {
                        if dense == nil { dense = .allocate(capacity: Self.maximumCorner * Self.maximumCorner) }
                        addDenseCorner(b, side: corner, buffer: dense!, x: x, y: y, transposed: transposed)
                    }
                    for i in 0..<b.rowCount {
                        let gi = r + i * g.rowShards
                        let rowTerm = g.rowTerms[gi]
                        var p = Int(b.rowStart[i])
                        let end = Int(b.rowStart[i + 1])
                        if i < corner { while p < end && Int(b.columnIndex[p]) < corner { p += 1 } }
                        while p < end {
                            let gj = c + Int(b.columnIndex[p]) * g.columnShards
                            let m = b.logCount[p] + rowTerm - g.columnTerms[gj]
                            p += 1
                            guard m > 0 else { continue }
                            let (source, target) = transposed ? (gi, gj) : (gj, gi)
                            Self.addScaled(m, x + source * k, to: y + target * k, count: k)
                        }
                    }
                }
                shard += workers
            }
        }
        if let error = failures.values.compactMap({ $0 }).first { throw error }
    }

    /// Adds the product of `b`'s `side x side` corner (dense, in `buffer`) with `x` to `y` by one SGEMM.
    private func addDenseCorner(_ b: TrainingBlock, side: Int, buffer: UnsafeMutablePointer<Float>,
                                x: UnsafeMutablePointer<Float>, y: UnsafeMutablePointer<Float>, transposed: Bool) {
        let g = geometry, k = self.k
        let (r, c) = (b.rowShard, b.columnShard)
        buffer.update(repeating: 0, count: side * side)
        for i in 0..<side {
            let rowTerm = g.rowTerms[r + i * g.rowShards]
            for p in Int(b.rowStart[i])..<Int(b.rowStart[i + 1]) {
                let j = Int(b.columnIndex[p])
                if j >= side { break }
                buffer[i * side + j] = max(0, b.logCount[p] + rowTerm - g.columnTerms[c + j * g.columnShards])
            }
        }
        // Block row i is global row r + i * rowShards: rows of X and Y a stride of shards apart.
        let (rowStride, columnStride) = (g.rowShards * k, g.columnShards * k)
        if transposed {
            BLAS.sgemm(transposeA: .transposed, m: side, n: k, k: side, a: buffer, lda: side,
                       b: x + r * k, ldb: rowStride, beta: 1, c: y + c * k, ldc: columnStride)
        } else {
            BLAS.sgemm(m: side, n: k, k: side, a: buffer, lda: side,
                       b: x + c * k, ldb: columnStride, beta: 1, c: y + r * k, ldc: rowStride)
        }
    }

    /// `y += a x` over `count` floats.
    @inline(__always)
    static func addScaled(_ a: Float, _ x: UnsafeMutablePointer<Float>, to y: UnsafeMutablePointer<Float>, count: Int) {
        var t = 0
        let scale = SIMD16<Float>(repeating: a)
        while t + 16 <= count {
            let xs = UnsafeRawPointer(x + t).loadUnaligned(as: SIMD16<Float>.self)
            let ys = UnsafeRawPointer(y + t).loadUnaligned(as: SIMD16<Float>.self)
            UnsafeMutableRawPointer(y + t).storeBytes(of: ys + scale * xs, as: SIMD16<Float>.self)
            t += 16
        }
        while t < count { y[t] += a * x[t]; t += 1 }
    }
}

import Foundation
import SwivelLinearAlgebra
import SwivelTestSupport
import Testing
@testable import SwivelTraining

/// The positive PMI matrix of `trainer`'s observed cells, dense (`rows x columns`, row-major), built cell by cell
/// from the blocks without the sparse product's code.
private func densePositivePMI(_ trainer: Trainer) -> [Double] {
    let model = trainer.model, manifest = trainer.manifest
    let columns = manifest.columns
    var m = [Double](repeating: 0, count: manifest.rows * columns)
    for block in trainer.blocks {
        for i in 0..<block.rowCount {
            let row = block.rowShard + i * manifest.rowShards
            for p in Int(block.rowStart[i])..<Int(block.rowStart[i + 1]) {
                let column = block.columnShard + Int(block.columnIndex[p]) * manifest.columnShards
                let pmi = Double(block.logCount[p]) + Double(model.rowTerms[row]) - Double(model.columnTerms[column])
                m[row * columns + column] = max(0, pmi)
            }
        }
    }
    return m
}

private func frobenius(_ values: [Double]) -> Double { values.reduce(0) { $0 + $1 * $1 }.squareRoot() }

@Suite(.serialized) struct SpectralStartTests {
    /// 10 groups of 5 words and 3 stop words: 53 features, more than the 32 probes of d = 8.
    func trainer(dimension: Int = 8, threads: Int = 2) throws -> Trainer {
        var config = TrainingConfiguration()
        config.dimension = dimension
        config.threads = threads
        config.ensemble = 1
        return try Trainer(prepDirectory: try plantedPrep(), config: config, blocksInMemory: true)
    }

    @Test func sparseProductsEqualDenseOnesForAnyThreadCount() throws {
        let t = try trainer()
        let m = densePositivePMI(t)
        let blocks = t.blocks
        let (rows, columns, k) = (t.manifest.rows, t.manifest.columns, 5)
        var random = RandomSource(seed: 3)
        let x = ParameterMatrix(rows: max(rows, columns), dimension: k)
        for i in 0..<(max(rows, columns) * k) { x.storage[i] = Float(random.nextGaussian()) }
        for transposed in [false, true] {
            let outRows = transposed ? columns : rows
            // Dense corners from side 2 up (the planted blocks are dense at their top left), and none at all.
            for minimumCorner in [2, 1 << 20] {
                var results: [[Float]] = []
                for threads in [1, 2, 3] {
                    let product = SparseProduct(geometry: .init(model: t.model), k: k, threads: threads,
                                                minimumCorner: minimumCorner) { blocks[$0] }
                    let y = ParameterMatrix(rows: outRows, dimension: k)
                    try product.multiply(x.storage, into: y.storage, transposed: transposed)
                    results.append(Array(UnsafeBufferPointer(start: y.storage, count: outRows * k)))
                }
                #expect(results[0] == results[1] && results[1] == results[2], "the thread count changed the sums")
                for out in 0..<outRows {
                    for c in 0..<k {
                        var expected = 0.0
                        for inner in 0..<(transposed ? rows : columns) {
                            let cell = transposed ? m[inner * columns + out] : m[out * columns + inner]
                            expected += cell * Double(x.storage[inner * k + c])
                        }
                        #expect(abs(Double(results[0][out * k + c]) - expected) <= 1e-4 * max(1, abs(expected)))
                    }
                }
            }
            let corners = blocks.map { SparseProduct(geometry: .init(model: t.model), k: k, threads: 1,
                                                        minimumCorner: 2) { _ in fatalError() }.denseCorner($0) }
            #expect(corners.contains { $0 >= 4 }, "no block took a dense corner: \(corners)")
        }
    }

    @Test func startIsANearBestRankDApproximationSplitEvenly() throws {
        let d = 8
        let t = try trainer(dimension: d)
        let (rows, columns) = (t.manifest.rows, t.manifest.columns)
        #expect(rows == 53 && columns == 53)
        let m = densePositivePMI(t)
        try t.startSpectrally(seed: 7)
        let r = t.model.rowEmbeddings.values, c = t.model.columnEmbeddings.values
        // The best rank-d error, from the eigenvalues of M^T M: sqrt(sum of the trailing ones).
        var gram = Matrix(rows: columns, columns: columns)
        for a in 0..<columns {
            for b in 0..<columns {
                var s = 0.0
                for i in 0..<rows { s += m[i * columns + a] * m[i * columns + b] }
                gram[a, b] = Float(s)
            }
        }
        let all = try SymmetricEigen.largest(columns, of: gram).values.map { Double(max(0, $0)) }
        let bestError = all[d...].reduce(0, +).squareRoot()
        var residual = m
        for i in 0..<rows {
            for j in 0..<columns {
                var p = 0.0
                for t in 0..<d { p += Double(r[i * d + t]) * Double(c[j * d + t]) }
                residual[i * columns + j] -= p
            }
        }
        let error = frobenius(residual)
        #expect(bestError > 0.05 * frobenius(m), "the planted matrix should not have rank d")
        #expect(error <= 1.01 * bestError, "rank-\(d) error \(error) against the best \(bestError)")
        // Rows U S^1/2 and columns V S^1/2: R^T R and C^T C are both diag(S), the leading singular values.
        for a in 0..<d {
            for b in 0..<d {
                var rr = 0.0, cc = 0.0
                for i in 0..<rows { rr += Double(r[i * d + a]) * Double(r[i * d + b]) }
                for j in 0..<columns { cc += Double(c[j * d + a]) * Double(c[j * d + b]) }
                let singular = all[a].squareRoot()
                #expect(abs(rr - (a == b ? singular : 0)) <= 2e-3 * all[0].squareRoot(), "R^T R[\(a), \(b)] = \(rr)")
                #expect(abs(cc - (a == b ? singular : 0)) <= 2e-3 * all[0].squareRoot(), "C^T C[\(a), \(b)] = \(cc)")
            }
        }
    }

    @Test func aVocabularySmallerThanTheDimensionFillsTheRestAtRandom() throws {
        let t = try trainer(dimension: 60)   // 53 features: at most 53 spectral dimensions
        try t.startSpectrally(seed: 7)
        let r = t.model.rowEmbeddings.values
        let finite = r.allSatisfy { $0.isFinite }
        #expect(finite)
        for dimension in [0, 52, 53, 59] {
            let column = (0..<53).map { r[$0 * 60 + dimension] }
            #expect(column.contains { $0 != 0 }, "dimension \(dimension) left at zero")
        }
    }

    @Test func theProjectionCountsTheLaterMembersStarts() throws {
        var (prep, config) = try smallPlantedRun()
        config.ensemble = 3
        config.initialization = .spectral
        let spectral = try Trainer(prepDirectory: prep, config: config)
        #expect(spectral.spectralStartSeconds == nil)
        try spectral.computeStartIfPending()
        let p = spectral.projection(repeats: 1)
        #expect(p.startsLeft == 2 && p.secondsPerStart > 0 && p.secondsPerStart == spectral.spectralStartSeconds)
        config.initialization = .random
        let random = try Trainer(prepDirectory: prep, config: config)
        #expect(random.spectralStartSeconds == nil && random.projection(repeats: 1).startsLeft == 0)
    }

    @Test func spectralRunsAreDeterministicAndStreamingChangesNothing() throws {
        var (prep, config) = try smallPlantedRun()
        config.initialization = .spectral
        let a = try trainedVectors(prep, config), b = try trainedVectors(prep, config)
        #expect(a == b)
        let streamed = try Trainer(prepDirectory: prep, config: config, blocksInMemory: false)
        _ = try streamed.train()
        #expect(streamed.model.rowEmbeddings.values + streamed.model.columnEmbeddings.values == a)
        config.seed += 1
        #expect(try trainedVectors(prep, config) != a)
        // A checkpoint or model from before the setting decodes as a random start.
        var object = try JSONSerialization.jsonObject(with: try JSONEncoder().encode(TrainingConfiguration())) as! [String: Any]
        #expect(object["initialization"] as? String == "spectral")
        object["initialization"] = nil
        let json = String(decoding: try JSONSerialization.data(withJSONObject: object), as: UTF8.self)
        #expect(try JSONDecoder().decode(TrainingConfiguration.self, from: Data(json.utf8)).initialization == .random)
    }
}

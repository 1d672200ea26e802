import SwivelLinearAlgebra
import SwivelShards

/// How long a run will take, projected before its first epoch from the cells it will compute and a step rate
/// measured on this machine, so that a user learns at once what a vocabulary costs.
public struct TrainingProjection: Sendable {
    /// Cells the dense products compute per epoch (all `rows x columns`, less the rare corners left out).
    public var cellsPerEpoch: Double
    /// `rows x columns`.
    public var matrixCells: Double
    /// Epochs left to train, over every ensemble member.
    public var epochsLeft: Double
    /// Cells per second of whole training steps measured on synthetic blocks of the run's size.
    public var cellsPerSecond: Double

    /// Spectral starts left to compute (later ensemble members') and the measured seconds of one (0 when none
    /// was measured in this process).
    public var startsLeft = 0, secondsPerStart = 0.0

    /// Projected seconds of training, starts included.
    public var seconds: Double { cellsPerEpoch * epochsLeft / max(cellsPerSecond, 1) + Double(startsLeft) * secondsPerStart }
}

extension Trainer {
    /// Cells the dense products compute per epoch with `cutoff` (by default the run's
    /// ``TrainingConfiguration/unobservedCutoff``): every cell, or every cell outside each block's ``RareCorner``.
    public func computedCellsPerEpoch(cutoff: Float?? = nil) -> Double {
        let full = Double(manifest.rows) * Double(manifest.columns)
        guard let cutoff = cutoff ?? config.unobservedCutoff else { return full }
        let rowLayout = manifest.rowLayout, columnLayout = manifest.columnLayout
        var left = 0.0
        for r in 0..<manifest.rowShards {
            let rows = rowLayout.size(of: r)
            let rowTerm = (0..<rows).map { model.rowTerms[$0 * manifest.rowShards + r] }
            for c in 0..<manifest.columnShards {
                let columns = columnLayout.size(of: c)
                let columnTerm = (0..<columns).map { model.columnTerms[$0 * manifest.columnShards + c] }
                let corner = RareCorner(rowTerm: rowTerm, rowCount: rows, columnTerm: columnTerm, columnCount: columns,
                                        cutoff: cutoff)
                if !corner.isEmpty(rowCount: rows, columnCount: columns) {
                    left += Double(rows - corner.firstRow) * Double(columns - corner.firstColumn)
                }
            }
        }
        return full - left
    }

    /// Projects the rest of this run: measures `repeats` training steps on synthetic blocks of the largest
    /// shard size, the run's dimension and its observed-cell density, with its workers (a fraction of a second
    /// to a few seconds), and counts the epochs left from the current position.
    public func projection(repeats: Int = 2) -> TrainingProjection {
        let shard = max(manifest.rowLayout.size(of: 0), manifest.columnLayout.size(of: 0))
        let matrix = Double(manifest.rows) * Double(manifest.columns)
        let density = min(1, Double(manifest.nonzeros) / max(matrix, 1))
        let rate = TrainingBenchmark.stepRate(block: shard, dimension: config.dimension, workers: workers,
                                              density: density, repeats: repeats)
        BLAS.setThreads(workers == 1 ? config.threads : 1)
        let epochsDone = Double(position.membersDone * config.epochs + position.epochsDone)
        let total = Double(config.ensemble * config.epochs)
        var projection = TrainingProjection(cellsPerEpoch: computedCellsPerEpoch(), matrixCells: matrix,
                                            epochsLeft: max(0, total - epochsDone), cellsPerSecond: rate.cellsPerSecond ?? 1)
        if config.initialization == .spectral {
            // The current member has its start; each later one computes its own.
            projection.startsLeft = max(0, config.ensemble - position.membersDone - 1)
            projection.secondsPerStart = spectralStartSeconds ?? 0
        }
        return projection
    }
}

/// The order in which an epoch visits the blocks, in waves of blocks that share no row and no column shard.
///
/// Blocks are grouped along wrapped diagonals: with `N = max(rowShards, columnShards)`, diagonal `s` holds the
/// blocks `(rowOrder[i], columnOrder[(i + s) mod N])`. Blocks of one diagonal touch distinct row shards and
/// distinct column shards, so a wave of them can train at once with no races, and the result does not depend
/// on which worker finishes first. Each epoch draws new row, column and diagonal orders from the seed.
public struct BlockSchedule: Sendable {
    /// A block's coordinates.
    public struct Block: Equatable, Hashable, Sendable {
        /// Row shard.
        public var row: Int
        /// Column shard.
        public var column: Int
    }

    /// Number of row shards.
    public let rowShards: Int
    /// Number of column shards.
    public let columnShards: Int
    /// Largest number of blocks per wave.
    public let waveSize: Int

    /// A schedule for `rowShards x columnShards` blocks, at most `waveSize` at once.
    public init(rowShards: Int, columnShards: Int, waveSize: Int) {
        precondition(rowShards >= 1 && columnShards >= 1 && waveSize >= 1)
        self.rowShards = rowShards
        self.columnShards = columnShards
        self.waveSize = waveSize
    }

    /// The waves of `epoch` for a run seeded with `seed`; every block appears exactly once.
    public func waves(epoch: Int, seed: UInt64) -> [[Block]] {
        var random = RandomSource(seed: seed ^ (0x5EED_0000_0000 &+ UInt64(epoch) &* 0x9E37_79B9_7F4A_7C15))
        let n = max(rowShards, columnShards)
        var rowOrder = Array(0..<n)
        var columnOrder = Array(0..<n)
        var diagonals = Array(0..<n)
        rowOrder.shuffle(using: &random)
        columnOrder.shuffle(using: &random)
        diagonals.shuffle(using: &random)
        var waves: [[Block]] = []
        for s in diagonals {
            var wave: [Block] = []
            for i in 0..<n {
                let row = rowOrder[i], column = columnOrder[(i + s) % n]
                guard row < rowShards, column < columnShards else { continue }
                wave.append(Block(row: row, column: column))
                if wave.count == waveSize {
                    waves.append(wave)
                    wave = []
                }
            }
            if !wave.isEmpty { waves.append(wave) }
        }
        return waves
    }
}

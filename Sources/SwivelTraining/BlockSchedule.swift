/// The order in which an epoch visits the blocks, in waves of blocks that share no row and no column shard.
///
/// Blocks are grouped along wrapped diagonals: with `N = max(rowShards, columnShards)`, diagonal `s` holds the
/// blocks `(rowOrder[i], columnOrder[(i + s) mod N])`. Blocks of one diagonal touch distinct row shards and
/// distinct column shards, so a wave of them can train at once with no races, and the result does not depend
/// on which worker finishes first. Each epoch draws new row, column and diagonal orders from the seed.
///
/// With `strata = p > 1` the epoch follows the stratified schedule of distributed SGD (Gemulla et al. 2011)
/// that `swivel`'s multi-machine training is to use: row shard `r` is in row group `r mod p`, column shard `c`
/// in column group `c mod p`; in sub-epoch `s = 0 ... p-1`, stratum `k` trains every block of row group `k`
/// and column group `(k + s) mod p`, in an order drawn from (seed, epoch, s, k) alone. Strata share no row and
/// no column, so wave `i` of a sub-epoch holds the `i`-th block of every stratum: a process that trains one
/// stratum on its own (one rank) computes exactly what this schedule computes for it.
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
    /// Number of strata (1: the wrapped-diagonal schedule).
    public let strata: Int

    /// A schedule for `rowShards x columnShards` blocks, at most `waveSize` at once, in `strata` strata
    /// (`1 <= strata <= min(rowShards, columnShards)`).
    public init(rowShards: Int, columnShards: Int, waveSize: Int, strata: Int = 1) {
        precondition(rowShards >= 1 && columnShards >= 1 && waveSize >= 1)
        precondition(strata >= 1 && strata <= min(rowShards, columnShards), "every stratum needs a row and a column shard")
        self.rowShards = rowShards
        self.columnShards = columnShards
        self.waveSize = waveSize
        self.strata = strata
    }

    /// The blocks stratum `k` trains in sub-epoch `s` of `epoch`, in training order.
    public func stratumBlocks(epoch: Int, subEpoch s: Int, stratum k: Int, seed: UInt64) -> [Block] {
        let p = strata
        var blocks: [Block] = []
        for row in stride(from: k, to: rowShards, by: p) {
            for column in stride(from: (k + s) % p, to: columnShards, by: p) {
                blocks.append(Block(row: row, column: column))
            }
        }
        var random = RandomSource(seed: seed ^ (0x57A7_0000_0000 &+ UInt64(epoch) &* 0x9E37_79B9_7F4A_7C15
                                                 &+ UInt64(s) &* 0xD1B5_4A32_D192_ED03 &+ UInt64(k) &* 0x94D0_49BB_1331_11EB))
        blocks.shuffle(using: &random)
        return blocks
    }

    /// The waves of `epoch` for a run seeded with `seed`; every block appears exactly once.
    public func waves(epoch: Int, seed: UInt64) -> [[Block]] {
        if strata > 1 { return stratifiedWaves(epoch: epoch, seed: seed) }
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

    private func stratifiedWaves(epoch: Int, seed: UInt64) -> [[Block]] {
        var waves: [[Block]] = []
        for s in 0..<strata {
            let lists = (0..<strata).map { stratumBlocks(epoch: epoch, subEpoch: s, stratum: $0, seed: seed) }
            for i in 0..<(lists.map(\.count).max() ?? 0) {
                let wave = lists.compactMap { i < $0.count ? $0[i] : nil }
                for start in stride(from: 0, to: wave.count, by: waveSize) {
                    waves.append(Array(wave[start..<min(wave.count, start + waveSize)]))
                }
            }
        }
        return waves
    }
}

import Testing
@testable import SwivelTraining

/// Checks that `waves` hold every block of a `rows x columns` grid once, in waves of at most `size` blocks
/// that share no row and no column.
private func expectConflictFreeCover(_ waves: [[BlockSchedule.Block]], rows: Int, columns: Int, size: Int) {
    var seen = Set<BlockSchedule.Block>()
    for w in waves {
        #expect(w.count <= size && !w.isEmpty)
        #expect(Set(w.map(\.row)).count == w.count && Set(w.map(\.column)).count == w.count)
        for b in w { #expect(seen.insert(b).inserted) }
    }
    #expect(seen.count == rows * columns)
}

@Suite struct BlockScheduleTests {
    @Test func everyBlockOncePerEpochInConflictFreeWaves() {
        for (rows, columns, wave) in [(1, 1, 2), (3, 3, 2), (4, 7, 3), (8, 8, 2), (5, 2, 4)] {
            let schedule = BlockSchedule(rowShards: rows, columnShards: columns, waveSize: wave)
            for epoch in 1...3 {
                expectConflictFreeCover(schedule.waves(epoch: epoch, seed: 9), rows: rows, columns: columns, size: wave)
            }
        }
    }

    @Test func strataCoverEveryBlockOnceSubEpochBySubEpoch() {
        for (rows, columns, p, wave) in [(4, 4, 2, 2), (5, 7, 3, 2), (6, 6, 3, 4), (3, 8, 3, 1), (2, 2, 2, 8)] {
            let schedule = BlockSchedule(rowShards: rows, columnShards: columns, waveSize: wave, strata: p)
            for epoch in 1...2 {
                let waves = schedule.waves(epoch: epoch, seed: 3)
                expectConflictFreeCover(waves, rows: rows, columns: columns, size: wave)
                // Flattened, the waves are the sub-epochs in order, each stratum's blocks in its own order, and
                // stratum k of sub-epoch s pairs row group k with column group (k + s) mod p.
                var flat = waves.flatMap { $0 }[...]
                for s in 0..<p {
                    let lists = (0..<p).map { schedule.stratumBlocks(epoch: epoch, subEpoch: s, stratum: $0, seed: 3) }
                    for (k, list) in lists.enumerated() {
                        #expect(list.allSatisfy { $0.row % p == k && $0.column % p == (k + s) % p })
                    }
                    let count = lists.map(\.count).reduce(0, +)
                    let part = Array(flat.prefix(count))
                    flat = flat.dropFirst(count)
                    for (k, list) in lists.enumerated() { #expect(part.filter { $0.row % p == k } == list) }
                }
                #expect(flat.isEmpty)
            }
        }
    }

    @Test func orderDependsOnSeedAndEpochOnly() {
        let schedule = BlockSchedule(rowShards: 6, columnShards: 6, waveSize: 2)
        #expect(schedule.waves(epoch: 1, seed: 1) == schedule.waves(epoch: 1, seed: 1))
        #expect(schedule.waves(epoch: 1, seed: 1) != schedule.waves(epoch: 2, seed: 1))
        #expect(schedule.waves(epoch: 1, seed: 1) != schedule.waves(epoch: 1, seed: 2))
    }
}

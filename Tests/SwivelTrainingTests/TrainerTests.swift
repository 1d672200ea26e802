import Foundation
import SwivelEmbeddings
import SwivelIO
import SwivelShards
import SwivelTestSupport
import SwivelText
import Testing
@testable import SwivelTraining

/// A prep directory over a corpus with planted structure: `groups` groups of `size` words; each line
/// draws 12 words from one group, plus one word from a shared pool of "stop words".
private func plantedPrep(groups: Int = 10, size: Int = 5, seed: UInt64 = 5) throws -> String {
    var random = RandomSource(seed: seed)
    var text = ""
    for line in 0..<1500 {
        let g = line % groups
        var words = (0..<12).map { _ in "g\(g)w\(Int(random.next() % UInt64(size)))" }
        words.insert("stop\(Int(random.next() % 3))", at: Int(random.next() % 12))
        text += words.joined(separator: " ") + "\n"
    }
    let corpus = try TemporaryFile.write(text)
    let output = TemporaryFile.path()
    var config = PrepConfiguration(inputs: [corpus], output: output)
    config.vocabularyRules = VocabularyRules(minCount: 1)
    config.shardSize = 16
    config.counting = CountingOptions(window: 5)
    _ = try Prep.run(config)
    return output
}

/// Row then column vectors after training `prep` with `config`.
private func trainedVectors(_ prep: String, _ config: TrainingConfiguration) throws -> [Float] {
    let trainer = try Trainer(prepDirectory: prep, config: config)
    _ = try trainer.train()
    return trainer.model.rowEmbeddings.values + trainer.model.columnEmbeddings.values
}

/// The small planted prep (6 groups of 6 words + 3 stop words = 39 features, 3 x 3 shards of 16) and a short
/// run on it: dim 8, 3 epochs, 2 threads.
private func smallPlantedRun() throws -> (prep: String, config: TrainingConfiguration) {
    var config = TrainingConfiguration()
    config.dimension = 8
    config.epochs = 3
    config.threads = 2
    return (try plantedPrep(groups: 6, size: 6, seed: 9), config)
}

@Suite(.serialized) struct TrainerTests {
    @Test func recoversPlantedGroups() throws {
        let prep = try plantedPrep()
        var config = TrainingConfiguration()
        config.dimension = 24
        config.epochs = 40
        config.learningRate = 0.5
        config.threads = 2
        let trainer = try Trainer(prepDirectory: prep, config: config)
        let summary = try trainer.train()
        #expect(summary.log.count == 40)
        #expect(summary.log.last!.meanLoss < summary.log.first!.meanLoss)
        let model = TemporaryFile.path()
        try trainer.writeModel(to: model, summary: summary, force: false)
        let index = NearestNeighbours(try Embeddings.loadModel(directory: model, choice: .sum))
        var hits = 0, total = 0
        for g in 0..<10 {
            for w in 0..<5 {
                let neighbours = try index.nearest(to: "g\(g)w\(w)", k: 4)
                hits += neighbours.filter { $0.token.hasPrefix("g\(g)w") }.count
                total += 4
            }
        }
        // Every word's 4 nearest neighbours should be its 4 group mates.
        #expect(Double(hits) / Double(total) >= 0.95, "\(hits)/\(total) neighbours in the planted group")
    }

    @Test func sameSeedAndThreadsGiveIdenticalVectors() throws {
        var (prep, config) = try smallPlantedRun()
        func vectors(seed: UInt64) throws -> [Float] {
            config.seed = seed
            return try trainedVectors(prep, config)
        }
        let a = try vectors(seed: 4), b = try vectors(seed: 4), c = try vectors(seed: 5)
        #expect(a == b)
        #expect(a != c)
    }

    @Test func blocksReadWaveByWaveGiveTheSameVectors() throws {
        // Waves of 2 blocks, the next one decoded while one trains.
        let (prep, config) = try smallPlantedRun()
        let resident = try Trainer(prepDirectory: prep, config: config, blocksInMemory: true)
        let streamed = try Trainer(prepDirectory: prep, config: config, blocksInMemory: false)
        #expect(!resident.streamsBlocks && streamed.streamsBlocks && streamed.blocks.isEmpty)
        _ = try resident.train()
        _ = try streamed.train()
        #expect(streamed.model.rowEmbeddings.values == resident.model.rowEmbeddings.values)
        #expect(streamed.model.columnEmbeddings.values == resident.model.columnEmbeddings.values)
        #expect(streamed.position.log.map(\.meanLoss) == resident.position.log.map(\.meanLoss))
        // A rank of a distributed run trains from blocks in memory only.
        #expect(throws: TrainingError.self) { try streamed.trainAsRank(ThreadRanks(size: 1).rank(0)) }

        // Stopped mid-epoch while streaming (a prefetched wave is dropped), then resumed: the same vectors.
        let model = TemporaryFile.path()
        try Trainer.prepareModelDirectory(model, force: false)
        let calls = Locked(0)
        let stopping = try Trainer(prepDirectory: prep, config: config, blocksInMemory: false)
        #expect(throws: TrainingError.self) {
            try stopping.train(checkpoints: CheckpointPolicy(directory: model, intervalSeconds: .infinity,
                                                             shouldStop: { calls.withValue { $0 += 1; return $0 > 7 } }))
        }
        let resumed = try Trainer.resuming(modelDirectory: model, blocksInMemory: false)
        #expect(resumed.streamsBlocks)
        #expect(resumed.position.epochsDone == 1 && resumed.position.wavesDone > 0)
        _ = try resumed.train()
        #expect(resumed.model.rowEmbeddings.values == resident.model.rowEmbeddings.values)
        #expect(resumed.model.columnEmbeddings.values == resident.model.columnEmbeddings.values)
    }

    @Test func epochEndsCheckpointOnceAMinuteTheLastEpochAndAStopAlways() throws {
        let (prep, config) = try smallPlantedRun()
        let checkpointPath = { (model: String) in model + "/" + Checkpoint.fileName }
        // Epochs of milliseconds: no checkpoint at the ends of epochs 1 and 2, one after epoch 3.
        let model = TemporaryFile.path()
        try Trainer.prepareModelDirectory(model, force: false)
        var presentAfter: [Bool] = []
        let trainer = try Trainer(prepDirectory: prep, config: config)
        _ = try trainer.train(checkpoints: CheckpointPolicy(directory: model, intervalSeconds: .infinity)) { record in
            // (after the last epoch the checkpoint is being written while onEpoch runs)
            if record.epoch < 3 { presentAfter.append(FileManager.default.fileExists(atPath: checkpointPath(model))) }
        }
        #expect(presentAfter == [false, false])
        #expect(try Trainer.resuming(modelDirectory: model).position.epochsDone == 3)
        #expect(CheckpointPolicy(directory: model, intervalSeconds: 0).epochIntervalSeconds == 0)
        #expect(CheckpointPolicy(directory: model, intervalSeconds: 600).epochIntervalSeconds == 60)
        // The epoch ends follow epochIntervalSeconds, not the interval within epochs: with it at 0 every
        // epoch ends with one (epoch 1's is on disk when epoch 2's save has waited for it).
        let everyEpoch = TemporaryFile.path()
        try Trainer.prepareModelDirectory(everyEpoch, force: false)
        var policy = CheckpointPolicy(directory: everyEpoch, intervalSeconds: .infinity)
        policy.epochIntervalSeconds = 0
        var presentEveryEpoch: [Bool] = []
        _ = try Trainer(prepDirectory: prep, config: config).train(checkpoints: policy) { record in
            if record.epoch == 2 { presentEveryEpoch.append(FileManager.default.fileExists(atPath: checkpointPath(everyEpoch))) }
        }
        #expect(presentEveryEpoch == [true])

        // A stop requested at the end of epoch 1, when no checkpoint is due, still writes one there.
        let stopped = TemporaryFile.path()
        try Trainer.prepareModelDirectory(stopped, force: false)
        let stop = Locked(false)
        let stopping = try Trainer(prepDirectory: prep, config: config)
        #expect(throws: TrainingError.self) {
            try stopping.train(checkpoints: CheckpointPolicy(directory: stopped, intervalSeconds: .infinity,
                                                             shouldStop: { stop.withValue { $0 } })) { _ in
                stop.withValue { $0 = true }
            }
        }
        let resumed = try Trainer.resuming(modelDirectory: stopped)
        #expect(resumed.position.epochsDone == 1 && resumed.position.wavesDone == 0)
        _ = try resumed.train()
        #expect(resumed.model.rowEmbeddings.values == trainer.model.rowEmbeddings.values)
    }

    @Test func stratifiedTrainingDoesNotDependOnTheThreadCount() throws {
        var (prep, config) = try smallPlantedRun()
        config.strata = 3
        func vectors(threads: Int) throws -> [Float] {
            config.threads = threads
            return try trainedVectors(prep, config)
        }
        // Every block runs with single-threaded BLAS whether 1, 2 or 3 workers share a wave, as one MPI rank
        // per stratum would run it.
        let one = try vectors(threads: 1)
        #expect(try vectors(threads: 2) == one)
        #expect(try vectors(threads: 3) == one)
        config.strata = 4
        #expect(throws: TrainingError.self) { try Trainer(prepDirectory: prep, config: config) }
    }

    @Test func rejectsShardsThatDisagreeWithTheManifest() throws {
        let prep = try plantedPrep(groups: 4, size: 4, seed: 1)
        let manifest = try Manifest.read(directory: prep)
        // Swap two shard files: each is intact but sits where another block belongs.
        let a = prep + "/shards/" + manifest.shards[0].file, b = prep + "/shards/" + manifest.shards[1].file
        let bytesA = try Data(contentsOf: URL(fileURLWithPath: a)), bytesB = try Data(contentsOf: URL(fileURLWithPath: b))
        try bytesB.write(to: URL(fileURLWithPath: a))
        try bytesA.write(to: URL(fileURLWithPath: b))
        #expect(throws: ShardError.self) { try Trainer(prepDirectory: prep, config: TrainingConfiguration()) }
    }
}

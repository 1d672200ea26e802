import Foundation
import SwivelIO
import SwivelShards
import SwivelTestSupport
import SwivelText
@testable import SwivelTraining
import Testing

/// Ranks as threads of one process, exchanging through mailboxes: the message pattern of MPI, no network.
@Suite(.serialized) struct RankTests {
    @Test func ranksOnARingGiveTheVectorsOfOneStratifiedProcess() throws {
        // The planted fixture in 4 x 4 shards; 3 ranks (rows and columns in groups of 2, 1 and 1 shards).
        let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Fixtures/planted-corpus.txt").path
        var prepConfig = PrepConfiguration(inputs: [fixtures], output: TemporaryFile.path())
        prepConfig.vocabularyRules = VocabularyRules(minCount: 1)
        let vocabularySize = try { () -> Int in
            var probe = prepConfig
            probe.output = TemporaryFile.path()
            return try PrepPipeline.run(probe).manifest.rows
        }()
        prepConfig.shardSize = (vocabularySize + 3) / 4
        _ = try PrepPipeline.run(prepConfig)
        for (p, optimizer) in [(3, OptimizerKind.adagrad), (2, .rmsprop)] {
            var config = TrainingConfiguration()
            config.ensemble = 1   // ranks train one member
            config.dimension = 8
            config.epochs = 3
            config.strata = p
            config.optimizer = optimizer
            config.threads = 2
            let single = try Trainer(prepDirectory: prepConfig.output, config: config)
            _ = try single.train()

            let ranks = ThreadRanks(size: p)
            nonisolated(unsafe) let trainers = try (0..<p).map {
                try Trainer(prepDirectory: prepConfig.output, config: config, rowGroup: $0, of: p)
            }
            // Each rank decoded only its row group's shards.
            #expect(trainers[1].blocks.filter { !$0.rowStart.isEmpty }.map(\.rowShard).allSatisfy { $0 % p == 1 })
            // One thread a rank, all started at once (a pool narrower than p would deadlock the ring).
            for result in ranks.run({ rank in try trainers[rank.rank].trainAsRank(rank) }) { _ = try result.get() }
            #expect(trainers[0].model.rowEmbeddings.values == single.model.rowEmbeddings.values, "p \(p), \(optimizer)")
            #expect(trainers[0].model.columnEmbeddings.values == single.model.columnEmbeddings.values, "p \(p), \(optimizer)")
            #expect(trainers[0].position.log.count == 3)
        }
    }

    @Test func ranksCheckpointEveryEpochAndResumeBitwise() throws {
        let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Fixtures/planted-corpus.txt").path
        var prepConfig = PrepConfiguration(inputs: [fixtures], output: TemporaryFile.path())
        prepConfig.vocabularyRules = VocabularyRules(minCount: 1)
        prepConfig.shardSize = 16
        _ = try PrepPipeline.run(prepConfig)
        let p = 2
        var config = TrainingConfiguration()
        config.ensemble = 1   // ranks train one member
        config.dimension = 8
        config.epochs = 4
        config.strata = p
        let single = try Trainer(prepDirectory: prepConfig.output, config: config)
        _ = try single.train()

        func runRanks(_ trainers: [Trainer], model: String) throws {
            nonisolated(unsafe) let trainers = trainers
            let ranks = ThreadRanks(size: p)
            let results = ranks.run { rank in
                try trainers[rank.rank].trainAsRank(rank, checkpoints: CheckpointPolicy(directory: model, intervalSeconds: .infinity))
            }
            for result in results { _ = try result.get() }
        }
        // Two epochs, a checkpoint after each; then every rank resumes from the checkpoint for two more.
        let model = TemporaryFile.path()
        try Trainer.prepareModelDirectory(model, force: false)
        config.epochs = 2
        try runRanks(try (0..<p).map { try Trainer(prepDirectory: prepConfig.output, config: config, rowGroup: $0, of: p) }, model: model)
        let resumed = try (0..<p).map { _ in try Trainer.resuming(modelDirectory: model) { $0.epochs = 4 } }
        #expect(resumed[0].position.epochsDone == 2)
        try runRanks(resumed, model: model)
        #expect(resumed[0].model.rowEmbeddings.values == single.model.rowEmbeddings.values)
        #expect(resumed[0].model.columnEmbeddings.values == single.model.columnEmbeddings.values)
        #expect(resumed[0].position.log.count == 4)
    }
}

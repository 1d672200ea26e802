import Foundation
import SwivelConcurrency
import SwivelEmbeddings
import SwivelIO
import SwivelLinearAlgebra
import SwivelShards
import SwivelTestSupport
import SwivelText
import Testing
@testable import SwivelTraining

/// A prep directory over a corpus with planted structure: `groups` groups of `size` words; each line
/// draws 12 words from one group, plus one word from a shared pool of "stop words".
func plantedPrep(groups: Int = 10, size: Int = 5, seed: UInt64 = 5) throws -> String {
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
    _ = try PrepPipeline.run(config)
    return output
}

/// Row then column vectors after training `prep` with `config`.
func trainedVectors(_ prep: String, _ config: TrainingConfiguration) throws -> [Float] {
    let trainer = try Trainer(prepDirectory: prep, config: config)
    _ = try trainer.train()
    return trainer.model.rowEmbeddings.values + trainer.model.columnEmbeddings.values
}

/// The small planted prep (6 groups of 6 words + 3 stop words = 39 features, 3 x 3 shards of 16) and a short
/// run on it: dim 8, 3 epochs, 2 threads, one member.
func smallPlantedRun() throws -> (prep: String, config: TrainingConfiguration) {
    var config = TrainingConfiguration()
    config.dimension = 8
    config.epochs = 3
    config.threads = 2
    config.ensemble = 1
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
        let summary = try trainer.train()   // the default ensemble, from spectral starts
        #expect(summary.log.count == 40 * TrainingConfiguration().ensemble)
        #expect(summary.log.last!.meanLoss < summary.log.first!.meanLoss)
        let model = TemporaryFile.path()
        try trainer.writeModel(to: model, summary: summary)
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

    @Test func resumingWithFewerEpochsThanTheMemberHasTrainedIsRefused() throws {
        var (prep, config) = try smallPlantedRun()
        config.epochs = 6
        // Stopped after the first wave of epoch 5 (each epoch polls once per wave), and at the end of epoch 4.
        let schedule = BlockSchedule(rowShards: 3, columnShards: 3, waveSize: 2)
        let checksOfFourEpochs = (1...4).reduce(0) { $0 + schedule.waves(epoch: $1, seed: config.seed).count }
        for (stopAfter, insideEpoch) in [(checksOfFourEpochs, true), (checksOfFourEpochs - 1, false)] {
            let model = TemporaryFile.path()
            try Trainer.prepareModelDirectory(model, force: false)
            let calls = Locked(0)
            #expect(throws: TrainingError.self) {
                try Trainer(prepDirectory: prep, config: config).train(
                    checkpoints: CheckpointPolicy(directory: model, intervalSeconds: .infinity,
                                                  shouldStop: { calls.withValue { $0 += 1; return $0 > stopAfter } }))
            }
            let stopped = try Trainer.resuming(modelDirectory: model)
            #expect(stopped.position.epochsDone == 4 && (stopped.position.wavesDone > 0) == insideEpoch)
            // Fewer epochs than trained would write the trained state under a smaller epoch count (and a negative
            // rate); inside epoch 5, ending at 4 would keep part of epoch 5.
            let fewest = insideEpoch ? 5 : 4
            for epochs in [1, fewest - 1] {
                let error = #expect(throws: TrainingError.self) {
                    try Trainer.resuming(modelDirectory: model) { $0.epochs = epochs }
                }
                let expected = insideEpoch
                    ? "\(model): --epochs \(epochs) is fewer than the 5 epochs this run has trained or started (it stopped inside epoch 5); give --epochs 5 or more"
                    : "\(model): --epochs \(epochs) is fewer than the 4 epochs this run has already trained; give --epochs 4 or more"
                #expect(error?.description == expected)
            }
            let resumed = try Trainer.resuming(modelDirectory: model) { $0.epochs = fewest }
            let summary = try resumed.train()
            #expect(summary.epochs == fewest && summary.log.count == fewest && summary.cellsPerSecond >= 0)
        }
    }

    @Test func configurationRefusesAnInitialAccumulatorThatIsNotPositive() throws {
        // AdaGrad's step divides by the accumulator's square root: 0 and a zero gradient give 0/0.
        for value: Float in [0, -5, .nan] {
            var config = TrainingConfiguration()
            config.adagradInitialAccumulator = value
            let error = #expect(throws: TrainingError.self) { try config.validate() }
            #expect(error?.description == "--initial-accumulator must be a positive number (got \(value))")
        }
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

@Suite(.serialized) struct EnsembleTests {
    /// A random orthogonal `d x d` matrix: Gram-Schmidt on Gaussian rows.
    func randomRotation(_ d: Int, seed: UInt64) -> Matrix {
        var random = RandomSource(seed: seed)
        var q = Matrix(rows: d, columns: d)
        for i in 0..<d {
            var v = (0..<d).map { _ in random.nextGaussian() }
            for k in 0..<i {
                let dot = (0..<d).reduce(0.0) { $0 + v[$1] * Double(q[k, $1]) }
                for j in 0..<d { v[j] -= dot * Double(q[k, j]) }
            }
            let norm = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
            for j in 0..<d { q[i, j] = Float(v[j] / norm) }
        }
        return q
    }

    @Test func procrustesFindsAPlantedRotation() throws {
        let n = 200, d = 6
        var random = RandomSource(seed: 3)
        let x = Matrix(rows: n, columns: d, values: (0..<(n * d)).map { _ in Float(random.nextGaussian()) })
        let planted = randomRotation(d, seed: 11)
        // Y = X Q0 plus a little noise; the rotation from X^T Y must be Q0.
        var y = Matrix(rows: n, columns: d)
        for i in 0..<n {
            for j in 0..<d {
                y[i, j] = (0..<d).reduce(Float(0)) { $0 + x[i, $1] * planted[$1, j] } + Float(random.nextGaussian() * 1e-3)
            }
        }
        var cross = Matrix(rows: d, columns: d)
        for a in 0..<d { for b in 0..<d { cross[a, b] = (0..<n).reduce(Float(0)) { $0 + x[$1, a] * y[$1, b] } } }
        let q = try OrthogonalProcrustes.rotation(crossProduct: cross)
        for i in 0..<d {
            for j in 0..<d {
                #expect(abs(q[i, j] - planted[i, j]) < 1e-3, "Q[\(i), \(j)] = \(q[i, j]), planted \(planted[i, j])")
                // Q^T Q = I.
                let dot = (0..<d).reduce(Float(0)) { $0 + q[$1, i] * q[$1, j] }
                #expect(abs(dot - (i == j ? 1 : 0)) < 1e-5)
            }
        }
    }

    @Test func aRotatedCopyAveragesBackToTheMember() throws {
        // Member B is member A rotated (rows and columns by the same Q): the mean of the two is A again.
        let rows = 30, columns = 20, d = 5
        var random = RandomSource(seed: 8)
        let r = ParameterMatrix(rows: rows, dimension: d, values: (0..<(rows * d)).map { _ in Float(random.nextGaussian()) })
        let c = ParameterMatrix(rows: columns, dimension: d, values: (0..<(columns * d)).map { _ in Float(random.nextGaussian()) })
        let q = randomRotation(d, seed: 2)
        func rotated(_ m: ParameterMatrix) -> ParameterMatrix {
            let out = ParameterMatrix(rows: m.rows, dimension: d)
            for i in 0..<m.rows { for j in 0..<d { out.storage[i * d + j] = (0..<d).reduce(Float(0)) { $0 + m.storage[i * d + $1] * q[$1, j] } } }
            return out
        }
        let average = EnsembleAverage(rows: rows, columns: columns, dimension: d)
        try average.add(rows: r, columns: c, membersBefore: 0)
        try average.add(rows: rotated(r), columns: rotated(c), membersBefore: 1)
        let meanRows = ParameterMatrix(rows: rows, dimension: d), meanColumns = ParameterMatrix(rows: columns, dimension: d)
        average.writeMean(members: 2, rows: meanRows, columns: meanColumns)
        for (mean, member) in [(meanRows, r), (meanColumns, c)] {
            let worst = zip(mean.values, member.values).map { abs($0 - $1) }.max()!
            #expect(worst < 1e-4, "largest difference from the member \(worst)")
        }
    }

    @Test func anEnsembleIsTheAlignedMeanOfItsMembersRunAlone() throws {
        var (prep, config) = try smallPlantedRun()
        config.ensemble = 3
        let ensemble = try Trainer(prepDirectory: prep, config: config)
        let summary = try ensemble.train()
        #expect(summary.log.count == 9 && summary.log.map(\.member) == [0, 0, 0, 1, 1, 1, 2, 2, 2])
        // Each member alone: a one-member run with the member's seed (fresh vectors and optimizer state).
        var single = config
        single.ensemble = 1
        let average = EnsembleAverage(rows: ensemble.manifest.rows, columns: ensemble.manifest.columns, dimension: 8)
        var memberVectors: [[Float]] = []
        for member in 0..<3 {
            single.seed = config.memberSeed(member)
            let trainer = try Trainer(prepDirectory: prep, config: single)
            let alone = try trainer.train()
            #expect(alone.log.map(\.meanLoss) == Array(summary.log[(3 * member)..<(3 * member + 3)].map(\.meanLoss)))
            try average.add(rows: trainer.model.rowEmbeddings, columns: trainer.model.columnEmbeddings, membersBefore: member)
            memberVectors.append(trainer.model.rowEmbeddings.values)
        }
        #expect(config.memberSeed(0) == config.seed)
        #expect(memberVectors[0] != memberVectors[1] && memberVectors[1] != memberVectors[2])
        let rows = ParameterMatrix(rows: ensemble.manifest.rows, dimension: 8)
        let columns = ParameterMatrix(rows: ensemble.manifest.columns, dimension: 8)
        average.writeMean(members: 3, rows: rows, columns: columns)
        #expect(ensemble.model.rowEmbeddings.values == rows.values)
        #expect(ensemble.model.columnEmbeddings.values == columns.values)
        // The mean is not any one member.
        #expect(ensemble.model.rowEmbeddings.values != memberVectors[0])
        // A finished ensemble trains nothing more when asked again.
        #expect(try ensemble.train().log.count == 9)
        #expect(ensemble.model.rowEmbeddings.values == rows.values)
        // Streamed shards (the next member's first wave decoded ahead): the same vectors.
        let streamed = try Trainer(prepDirectory: prep, config: config, blocksInMemory: false)
        _ = try streamed.train()
        #expect(streamed.model.rowEmbeddings.values == rows.values)
        // An ensemble of no epochs is refused (one member of 0 epochs writes the initial vectors).
        var none = config
        none.epochs = 0
        #expect(throws: TrainingError.self) { try Trainer(prepDirectory: prep, config: none) }
        // Ranks of a distributed run train one member only.
        #expect(throws: TrainingError.self) {
            try Trainer(prepDirectory: prep, config: { var c = config; c.strata = 1; return c }(), blocksInMemory: true)
                .trainAsRank(ThreadRanks(size: 1).rank(0))
        }
    }

    @Test(arguments: [(Initialization.random, false), (.spectral, false), (.spectral, true), (.random, true)])
    func anInterruptedEnsembleResumesToTheSameVectors(start: Initialization, subwords: Bool) throws {
        var (prep, config) = try smallPlantedRun()
        config.ensemble = 3
        config.initialization = start
        if subwords { config.subwords = SubwordScheme(minN: 2, maxN: 4, buckets: 1000) }
        let uninterrupted = try Trainer(prepDirectory: prep, config: config)
        _ = try uninterrupted.train()
        // A stop is asked for after each wave but an epoch's last, and at each epoch end.
        let schedule = BlockSchedule(rowShards: 3, columnShards: 3, waveSize: 2)
        let checksOfMember0 = (1...3).reduce(0) { $0 + schedule.waves(epoch: $1, seed: config.memberSeed(0)).count }
        let wavesOfMember1 = schedule.waves(epoch: 1, seed: config.memberSeed(1)).count
        // At the end of member 1's last epoch (a member boundary, before the member is added to the mean), and
        // after the second wave of member 2's second epoch.
        for (stopAfter, boundary) in [(checksOfMember0 - 1, true), (checksOfMember0 + wavesOfMember1 + 1, false)] {
            let model = TemporaryFile.path()
            try Trainer.prepareModelDirectory(model, force: false)
            let calls = Locked(0)
            let first = try Trainer(prepDirectory: prep, config: config)
            var stoppedAt: TrainingError?
            do {
                _ = try first.train(checkpoints: CheckpointPolicy(directory: model, intervalSeconds: .infinity,
                                                                  shouldStop: { calls.withValue { $0 += 1; return $0 > stopAfter } }))
            } catch let error as TrainingError {
                stoppedAt = error
            }
            guard case let .interrupted(epoch, wave, _, member, members) = stoppedAt else {
                Issue.record("expected an interruption, got \(String(describing: stoppedAt))")
                continue
            }
            #expect(members == 3 && member == 1)
            #expect(boundary ? (epoch == 1 && wave == 0) : (epoch == 2 && wave == 2))
            let resumed = try Trainer.resuming(modelDirectory: model)
            #expect(resumed.position.membersDone == (boundary ? 0 : 1))
            #expect(resumed.position.epochsDone == (boundary ? 3 : 1))
            _ = try resumed.train()
            #expect(resumed.model.rowEmbeddings.values == uninterrupted.model.rowEmbeddings.values)
            #expect(resumed.model.columnEmbeddings.values == uninterrupted.model.columnEmbeddings.values)
            #expect(resumed.model.rowSubwords?.vectors.values == uninterrupted.model.rowSubwords?.vectors.values)
            #expect(resumed.model.columnSubwords?.vectors.values == uninterrupted.model.columnSubwords?.vectors.values)
            #expect((resumed.model.rowSubwords != nil) == subwords && (resumed.model.columnSubwords != nil) == subwords)
            #expect(resumed.position.log == uninterrupted.position.log.enumerated().map { i, record in
                var r = record
                r.seconds = resumed.position.log[i].seconds
                return r
            })
            // Once a member has been added to the mean, the epochs can no longer change; before, they can (every
            // member then trains longer).
            if boundary {
                #expect(try Trainer.resuming(modelDirectory: model) { $0.epochs = 5 }.config.epochs == 5)
                // Fewer epochs than the first member has trained would leave the members unequal.
                let error = #expect(throws: TrainingError.self) { try Trainer.resuming(modelDirectory: model) { $0.epochs = 2 } }
                #expect(error?.description.hasSuffix("--epochs 2 is fewer than the 3 epochs member 1 of 3 has already trained; give --epochs 3 or more") == true)
            } else {
                #expect(throws: CheckpointError.self) { try Trainer.resuming(modelDirectory: model) { $0.epochs = 5 } }
                #expect(throws: CheckpointError.self) { try Trainer.resuming(modelDirectory: model) { $0.epochs = 1 } }
                // Cutting the ensemble below (or to) the members already done is refused like any other change.
                #expect(throws: CheckpointError.self) { try Trainer.resuming(modelDirectory: model) { $0.ensemble = 1 } }
            }
        }
    }

    @Test func checkpointsFromBeforeEnsemblesStillDecode() throws {
        let json = #"{"epochsDone":2,"wavesDone":1,"epochLoss":0.5,"epochCells":10,"log":[{"epoch":1,"meanLoss":0.25,"seconds":1}],"secondsBefore":3}"#
        let position = try JSONDecoder().decode(TrainingPosition.self, from: Data(json.utf8))
        #expect(position.membersDone == 0 && position.epochsDone == 2 && position.log.first?.member == 0)
        var config = TrainingConfiguration()
        config.ensemble = 4
        var encoded = try JSONSerialization.jsonObject(with: JSONEncoder().encode(config)) as! [String: Any]
        encoded.removeValue(forKey: "ensemble")
        let old = try JSONDecoder().decode(TrainingConfiguration.self, from: JSONSerialization.data(withJSONObject: encoded))
        #expect(old.ensemble == 1)
    }
}

@Suite struct TrainingEvaluationTests {
    @Test func undefinedScoresAreLoggedAsUndefinedAndPlottedAsGaps() throws {
        let (prep, config) = try smallPlantedRun()
        let trainer = try Trainer(prepDirectory: prep, config: config)
        let model = TemporaryFile.path()
        try Trainer.prepareModelDirectory(model, force: false)
        let logPath = model + "/" + ModelDirectory.evaluationLog
        let undefined = try TemporaryFile.write("g0w0\tg0w1\t9\ng0w0\tnowhere\t3\n")
        let good = try TemporaryFile.write("g0w0\tg0w1\t9\ng0w0\tg1w1\t1\ng2w0\tg2w3\t8\ng2w0\tg4w1\t2\n")
        let evaluation = try #require(try TrainingEvaluation(similarity: [undefined, good], analogy: [], logPath: logPath))
        let lines = evaluation.run(trainer: trainer, label: "epoch 1", x: 1)
        #expect(lines.first == "epoch 1: \(undefined) spearman undefined (1 pair covered; needs 2) (1/2 pairs)", "\(lines)")
        let rows = try String(contentsOfFile: logPath, encoding: .utf8).split(separator: "\n").map { $0.split(separator: "\t") }
        #expect(rows.count == 3 && rows[1].last == "undefined" && Double(rows[2].last ?? "")?.isFinite == true, "\(rows)")

        // The plot skips undefined scores, and the "nan" that logs once held.
        try trainer.writeModel(to: model, summary: try trainer.train())
        try (String(contentsOfFile: logPath, encoding: .utf8) + "2\t\(undefined)\tspearman\tnan\n2\t\(good)\tspearman\t0.5\n")
            .write(toFile: logPath, atomically: true, encoding: .utf8)
        let svg = try TrainingCurves.svg(modelDirectory: model)
        #expect(svg.contains("Evaluation during training") && !svg.contains("nan") && !svg.contains("NaN"))
    }
}

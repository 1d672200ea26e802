import SwivelText

/// The optimizer that applies gradients to the embeddings.
public enum OptimizerKind: String, CaseIterable, Codable, Sendable {
    /// AdaGrad (Duchi et al. 2011); the accumulator starts at `adagradInitialAccumulator`.
    case adagrad
    /// RMSProp with momentum, as TensorFlow 1's `RMSPropOptimizer` (decay 0.9, epsilon 1e-10, mean square starts at 1).
    case rmsprop
}

/// Every setting of a training run, with the defaults in one place.
///
/// The loss follows Shazeer et al. 2016, eq. (3)-(4) and the reference `swivel.py`: for a cell with count
/// `x > 0`, `1/2 * f(x) * (pred - pmi)^2` with confidence `f(x) = confidenceBase + confidenceScale * x^confidenceExponent`;
/// for `x = 0`, `softplus(pred - pmi*)` with `pmi*` the PMI the cell would have with `x = 1`.
public struct TrainingConfiguration: Codable, Equatable, Sendable {
    /// Embedding dimension `d`.
    public var dimension = 300
    /// Passes over every block, per ensemble member. 2, from the spectral start: on the benchmark corpus at
    /// V 32,768 (docs/benchmarks.md, "Spectral start"), 4 members of 2 epochs scored at least as well as the
    /// earlier default (3 members of 20 epochs from random vectors) on WS353, its relatedness split, its rare half
    /// and Google analogy, and within that default's spread between seeds on the similarity split, in a quarter of
    /// the time; more epochs per member did not pay (3 x 4 below 4 x 2). From random vectors 20 was the measured
    /// best (docs/benchmarks.md, "Defaults").
    public var epochs = 2
    /// Optimizer.
    public var optimizer = OptimizerKind.adagrad
    /// Optimizer learning rate.
    public var learningRate: Float = 0.1
    /// AdaGrad's initial accumulator value. TensorFlow's default, 0.1, dwarfs the squared gradients of Swivel
    /// blocks (which carry a factor 1/shardSize), turning AdaGrad into plain SGD whose step depends on the shard
    /// size; a tiny value keeps AdaGrad's per-coordinate normalisation (docs/benchmarks.md, "AdaGrad accumulator").
    public var adagradInitialAccumulator: Float = 1e-6
    /// RMSProp momentum.
    public var momentum: Float = 0.1
    /// RMSProp decay of the mean square.
    public var rmspropDecay: Float = 0.9
    /// Confidence base `b0` in `f(x) = b0 + s * x^e`. 0: the reference's 0.1 keeps a floor under the weight of
    /// cells with counts below 1 (pairs seen once or twice at a distance); without it their weight follows their
    /// count (see ``epochs`` for the measurement).
    public var confidenceBase: Float = 0
    /// Confidence scale `s`.
    public var confidenceScale: Float = 0.25
    /// Confidence exponent `e`.
    public var confidenceExponent: Float = 0.5
    /// Context distribution smoothing `alpha` (Levy, Goldberg and Dagan 2015): the PMI target uses column
    /// marginals raised to `alpha`, `pmi = log x - log rowSum - alpha log colSum + log sum_c colSum_c^alpha`.
    /// 1 is the paper's plain PMI; below 1 it raises the PMI of rare contexts less than plain PMI does.
    public var contextSmoothing: Float = 1
    /// Strata of the block schedule (1: wrapped diagonals; p > 1: the stratified schedule of distributed
    /// training, see ``BlockSchedule``). Results depend on the seed and the strata; with single-threaded BLAS
    /// per block they do not depend on the thread count.
    public var strata = 1
    /// Worker threads (independent blocks at once; BLAS threads when a wave has one block).
    public var threads = 2
    /// Seed of the initial vectors and the block order.
    public var seed: UInt64 = 1
    /// Members of the ensemble: separate runs of `epochs` each, from different seeds (``memberSeed(_:)``),
    /// whose vectors are rotated onto each other (orthogonal Procrustes, rows and columns together) and averaged
    /// into the model (see ``EnsembleAverage``); 1 trains a single run. 4 was chosen by measurement with the
    /// spectral start (see ``epochs``): Google analogy 48.8% with 3 members of 2 epochs, 50.5% with 4, 51.3%
    /// with 5, against 41.9-43.7% for one; from random vectors 3 members raised it from 41.5% to 49.0%.
    public var ensemble = 4
    /// With a value `t` (nats), each block leaves out the unobserved cells of its rare x rare corner where
    /// `pmi* = log N - log R_i - log C_j >= t` (``RareCorner``): their gradient is at most `sigmoid(p - t)`,
    /// and the saving grows with the vocabulary. Nil: every cell, the paper's exact computation. The default,
    /// 8, scored within the spread between seeds of the exact computation on every shared set at V 32,768 over
    /// 3 seeds, while 6 lost 2 analogy points (docs/benchmarks.md, "Rare corners").
    public var unobservedCutoff: Float? = TrainingConfiguration.suggestedUnobservedCutoff
    /// How each run (each ensemble member) starts: the spectral start (``SpectralStart``, probes drawn from the
    /// member's seed), or random vectors from the seed. The spectral start reaches in 1-3 epochs what random
    /// vectors reach in 20, and its members still differ enough for the ensemble to pay (docs/benchmarks.md,
    /// "Spectral start").
    public var initialization = Initialization.spectral
    /// With a scheme, a subword model: each row feature's vector is the mean of its own vector and its character
    /// n-grams' vectors (``SubwordComposition``), so that features outside the vocabulary get vectors too. Nil (the
    /// default): plain row vectors.
    public var subwords: SubwordScheme?
    /// Which sides of a subword model are composed of n-grams: rows only (as fastText composes its input vectors
    /// only), or rows and columns. Both is the default: the exported sum of row and column vectors then carries
    /// word forms on both sides (docs/benchmarks.md, "Subwords").
    public var subwordSides = SubwordSides.both
    /// Learning rate of a subword model's n-gram vectors (nil: ``learningRate``). An n-gram's summed gradient over
    /// the many words that share it gets a full optimizer step per block, so a lower rate weighs the words' own
    /// vectors more against their shared forms.
    public var subwordLearningRate: Float?
    /// How a subword model weights a feature's own vector against its n-grams' (``SubwordCombination``): by default
    /// the own vector plus the n-grams' mean.
    public var subwordCombination = TrainingConfiguration.suggestedSubwordCombination
    /// The default combination.
    public static let suggestedSubwordCombination = SubwordCombination.ownPlusMean(ownWeight: 1)
    /// In a subword model, the learning rate of the features' own vectors on a composed side, as a fraction of
    /// ``learningRate``. Below 1 a word moves less on its own than with its n-grams, which lines up word forms. At
    /// V 32,768 (docs/benchmarks.md, "Subwords") Google analogy rose from the word model's 50.5% to 56.2% at 1,
    /// 65.6% at 0.3, 66.9% at 0.25 and 68.1% at 0.2, while WS353 went 0.609, 0.607, 0.601, 0.597 (word model:
    /// 0.597-0.606 over three seeds); 0.25 is the highest rate at which analogies reached fastText's 66.7%.
    public var subwordOwnRate: Float = TrainingConfiguration.suggestedSubwordOwnRate
    /// The default own rate.
    public static let suggestedSubwordOwnRate: Float = 0.25
    /// The default and suggested cutoff, in nats.
    public static let suggestedUnobservedCutoff: Float = 8

    /// Creates the default configuration.
    public init() {}

    /// The settings of the optimizer of one side's own feature vectors: these settings, with the learning rate
    /// scaled by ``subwordOwnRate`` when the side is `composed` of n-grams.
    public func ownVectorSettings(composed: Bool) -> TrainingConfiguration {
        guard composed else { return self }
        var settings = self
        settings.learningRate = learningRate * subwordOwnRate
        return settings
    }

    /// The seed of ensemble member `member` (from 0): member 0 uses ``seed`` itself, so a one-member run is
    /// the plain run; the others use seeds mixed from (seed, member) by SplitMix64's finaliser, so no two
    /// members of one run, or of runs with nearby seeds, share a seed by accident.
    public func memberSeed(_ member: Int) -> UInt64 {
        if member == 0 { return seed }
        var z = seed &+ UInt64(member) &* 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    enum CodingKeys: String, CodingKey {
        case dimension, epochs, optimizer, learningRate, adagradInitialAccumulator, momentum, rmspropDecay,
             confidenceBase, confidenceScale, confidenceExponent, contextSmoothing, strata, threads, seed, ensemble,
             unobservedCutoff, initialization, subwords, subwordSides, subwordLearningRate, subwordCombination, subwordOwnRate
    }

    /// Decodes a configuration; settings added after a checkpoint or model was written take the value that
    /// reproduces the old behaviour (`contextSmoothing` 1, `strata` 1, `ensemble` 1, no `unobservedCutoff`,
    /// `initialization` random).
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        dimension = try c.decode(Int.self, forKey: .dimension)
        epochs = try c.decode(Int.self, forKey: .epochs)
        optimizer = try c.decode(OptimizerKind.self, forKey: .optimizer)
        learningRate = try c.decode(Float.self, forKey: .learningRate)
        adagradInitialAccumulator = try c.decode(Float.self, forKey: .adagradInitialAccumulator)
        momentum = try c.decode(Float.self, forKey: .momentum)
        rmspropDecay = try c.decode(Float.self, forKey: .rmspropDecay)
        confidenceBase = try c.decode(Float.self, forKey: .confidenceBase)
        confidenceScale = try c.decode(Float.self, forKey: .confidenceScale)
        confidenceExponent = try c.decode(Float.self, forKey: .confidenceExponent)
        contextSmoothing = try c.decodeIfPresent(Float.self, forKey: .contextSmoothing) ?? 1
        strata = try c.decodeIfPresent(Int.self, forKey: .strata) ?? 1
        threads = try c.decode(Int.self, forKey: .threads)
        seed = try c.decode(UInt64.self, forKey: .seed)
        ensemble = try c.decodeIfPresent(Int.self, forKey: .ensemble) ?? 1
        // Absent: written before the setting existed, by the exact computation.
        unobservedCutoff = try c.decodeIfPresent(Float.self, forKey: .unobservedCutoff)
        initialization = try c.decodeIfPresent(Initialization.self, forKey: .initialization) ?? .random
        subwords = try c.decodeIfPresent(SubwordScheme.self, forKey: .subwords)
        subwordSides = try c.decodeIfPresent(SubwordSides.self, forKey: .subwordSides) ?? .both
        subwordLearningRate = try c.decodeIfPresent(Float.self, forKey: .subwordLearningRate)
        subwordCombination = try c.decodeIfPresent(SubwordCombination.self, forKey: .subwordCombination)
            ?? Self.suggestedSubwordCombination
        subwordOwnRate = try c.decodeIfPresent(Float.self, forKey: .subwordOwnRate) ?? Self.suggestedSubwordOwnRate
    }

    /// The settings that differ between `self` and `other`, as "name X given, the checkpoint has Y", skipping
    /// the fields in `ignoring`.
    public func differences(from other: TrainingConfiguration,
                            ignoring: [PartialKeyPath<TrainingConfiguration>] = []) -> [String] {
        let fields: [(String, PartialKeyPath<TrainingConfiguration>, (TrainingConfiguration) -> String)] = [
            ("dim", \.dimension, { String($0.dimension) }),
            ("epochs", \.epochs, { String($0.epochs) }),
            ("optimizer", \.optimizer, { $0.optimizer.rawValue }),
            ("learning-rate", \.learningRate, { String($0.learningRate) }),
            ("initial-accumulator", \.adagradInitialAccumulator, { String($0.adagradInitialAccumulator) }),
            ("momentum", \.momentum, { String($0.momentum) }),
            ("rmsprop-decay", \.rmspropDecay, { String($0.rmspropDecay) }),
            ("confidence-base", \.confidenceBase, { String($0.confidenceBase) }),
            ("confidence-scale", \.confidenceScale, { String($0.confidenceScale) }),
            ("confidence-exponent", \.confidenceExponent, { String($0.confidenceExponent) }),
            ("context-smoothing", \.contextSmoothing, { String($0.contextSmoothing) }),
            ("strata", \.strata, { String($0.strata) }),
            ("threads", \.threads, { String($0.threads) }),
            ("seed", \.seed, { String($0.seed) }),
            ("ensemble", \.ensemble, { String($0.ensemble) }),
            ("unobserved-cutoff", \.unobservedCutoff, { $0.unobservedCutoff.map { String($0) } ?? "none (exact)" }),
            ("init", \.initialization, { $0.initialization.rawValue }),
            ("subword-sides", \.subwordSides, { $0.subwordSides.rawValue }),
            ("subword-combination", \.subwordCombination, { $0.subwordCombination.description }),
            ("subword-own-rate", \.subwordOwnRate, { String($0.subwordOwnRate) }),
            ("subword-learning-rate", \.subwordLearningRate, { $0.subwordLearningRate.map { String($0) } ?? "the learning rate" }),
            ("subwords", \.subwords, { $0.subwords.map { "on (n-grams \($0.minN)-\($0.maxN), \($0.buckets) buckets)" } ?? "off" }),
        ]
        return fields.compactMap { name, path, text in
            guard !ignoring.contains(path), text(self) != text(other) else { return nil }
            return "--\(name) \(text(self)) given, the checkpoint has \(text(other))"
        }
    }

    /// Checks ranges; the message names the option.
    public func validate() throws {
        func fail(_ message: String) throws -> Never { throw TrainingError.invalidOption(message) }
        if dimension < 1 || dimension > 100_000 { try fail("--dim must be between 1 and 100000 (got \(dimension))") }
        if epochs < 0 { try fail("--epochs must be 0 or more (got \(epochs))") }
        if !(learningRate > 0) || !learningRate.isFinite { try fail("--learning-rate must be a positive number (got \(learningRate))") }
        // AdaGrad divides by the square root of the accumulator: at 0, a zero gradient would give 0/0.
        if !(adagradInitialAccumulator > 0) || !adagradInitialAccumulator.isFinite {
            try fail("--initial-accumulator must be a positive number (got \(adagradInitialAccumulator))")
        }
        if threads < 1 { try fail("--threads must be at least 1 (got \(threads))") }
        if strata < 1 { try fail("--strata must be at least 1 (got \(strata))") }
        if ensemble < 1 || ensemble > 64 { try fail("--ensemble must be between 1 and 64 (got \(ensemble))") }
        if ensemble > 1 && epochs == 0 {
            try fail("--epochs 0 trains no member of the ensemble (--ensemble \(ensemble)); give --ensemble 1 to write the initial vectors")
        }
        if !(confidenceBase >= 0) || !(confidenceScale >= 0) || confidenceBase + confidenceScale <= 0 {
            try fail("--confidence-base and --confidence-scale must be non-negative and not both zero")
        }
        if !confidenceExponent.isFinite { try fail("--confidence-exponent must be finite") }
        if !(contextSmoothing > 0 && contextSmoothing <= 1) { try fail("--context-smoothing must be in (0, 1] (got \(contextSmoothing))") }
        if let unobservedCutoff, !(unobservedCutoff.isFinite) {
            try fail("--unobserved-cutoff must be a finite number of nats (got \(unobservedCutoff))")
        }
        if let problem = subwords?.problem { try fail(problem) }
        if case let .ownPlusMean(weight) = subwordCombination, !(weight > 0) || !weight.isFinite {
            try fail("--subword-combination: the own vector's weight must be a positive number (got \(weight))")
        }
        if !(subwordOwnRate > 0) || !subwordOwnRate.isFinite {
            try fail("--subword-own-rate must be a positive number (got \(subwordOwnRate))")
        }
        if let rate = subwordLearningRate, !(rate > 0) || !rate.isFinite {
            try fail("--subword-learning-rate must be a positive number (got \(rate))")
        }
        if !(momentum >= 0 && momentum < 1) { try fail("--momentum must be in [0, 1) (got \(momentum))") }
    }
}

/// The sides of a subword model whose vectors are composed of character n-grams.
public enum SubwordSides: String, CaseIterable, Codable, Sendable {
    /// Row vectors only; column vectors are plain feature vectors.
    case rows
    /// Row and column vectors, each side with its own n-gram vectors.
    case both
}

/// Errors of a training run.
public enum TrainingError: Error, CustomStringConvertible, Equatable {
    /// An option is out of range.
    case invalidOption(String)
    /// The loss or the parameters stopped being finite.
    case diverged(epoch: Int, rowShard: Int, columnShard: Int, learningRate: Float)
    /// The output directory holds a model already.
    case outputExists(path: String)
    /// Training stopped on request after writing a checkpoint (in `epoch` of ensemble member `member`, from 0).
    case interrupted(epoch: Int, wave: Int, of: Int, member: Int = 0, members: Int = 1)
    /// A resumed run was given fewer `epochs` than ensemble member `member` (from 0, of `members`) has
    /// `trained`, or, when the checkpoint is `insideEpoch`, fewer than `trained + 1`.
    case fewerEpochsThanTrained(modelDirectory: String, epochs: Int, trained: Int, insideEpoch: Bool, member: Int, members: Int)

    public var description: String {
        switch self {
        case let .invalidOption(message): return message
        case let .diverged(epoch, row, column, rate):
            return "training diverged (non-finite loss) in epoch \(epoch), block (\(row), \(column)): lower --learning-rate (now \(rate)) or --confidence-scale"
        case let .outputExists(path):
            return "\(path): already holds a model or an interrupted run (resume it with --resume, choose another directory, or pass --force to replace it)"
        case let .interrupted(epoch, wave, waves, member, members):
            let of = members > 1 ? " of ensemble member \(member + 1)/\(members)" : ""
            return "interrupted in epoch \(epoch)\(of) after wave \(wave) of \(waves); a checkpoint holds all finished work"
        case let .fewerEpochsThanTrained(directory, epochs, trained, insideEpoch, member, members):
            let who = members > 1 ? "member \(member + 1) of \(members)" : "this run"
            let fewest = insideEpoch ? trained + 1 : trained
            let done = insideEpoch ? "has trained or started (it stopped inside epoch \(fewest))" : "has already trained"
            return "\(directory): --epochs \(epochs) is fewer than the \(fewest) epochs \(who) \(done); give --epochs \(fewest) or more"
        }
    }
}

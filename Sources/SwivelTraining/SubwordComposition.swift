import Dispatch
import SwivelText

/// The character n-gram part of one side's vectors in a subword model (`swivel train --subwords`): the row side's,
/// and the column side's.
///
/// Feature `i` of the side is trained through its composed vector `v_i = alpha_i w_i + beta_i sum_{g in G_i} b_g` of its
/// own vector `w_i` and the vectors `b_g` of its n-grams `G_i` (in ``SubwordScheme``'s order, a repeated n-gram counted
/// each time), weighted as ``SubwordCombination`` says: fastText's mean (`alpha = beta = 1 / (1 + |G_i|)`), or a
/// weighted own vector plus the n-grams' mean (`alpha = w`, `beta = 1 / |G_i|`). An unseen word's vector is the mean
/// of its n-grams' vectors either way, as in fastText.
///
/// In a block step the composed vectors of the block's features are gathered into a contiguous matrix
/// (``gather(words:shard:shards:count:into:)``), the step runs unchanged on it, and the gradient `dL/dv_i` is spread
/// back: `w_i` receives `alpha_i dL/dv_i` (applied by the side's own optimizer, at ``TrainingConfiguration/subwordOwnRate``
/// times the learning rate) and each `b_g` `beta_i dL/dv_i`. n-grams are shared between features of blocks that
/// train at once, so their updates wait for the end of the wave: ``applyGradients(of:workers:)`` then takes, block by
/// block in wave order, one optimizer step per n-gram vector with that block's summed gradient. Every block of a wave
/// therefore reads the n-gram vectors as they were when the wave began, and each n-gram vector sees the same sequence
/// of steps for any thread count.
///
/// Only buckets that some feature uses get a vector (``bucketIDs``, ascending); a bucket no feature uses is zero,
/// which is also what an exported fastText model holds for it.
public final class SubwordComposition: @unchecked Sendable {
    /// How features are cut into n-grams and hashed.
    public let scheme: SubwordScheme
    /// How a feature's own vector and its n-grams' vectors are weighted.
    public let combination: SubwordCombination
    /// The buckets some feature uses, ascending; slot `s` holds bucket `bucketIDs[s]`.
    public let bucketIDs: [Int32]
    /// The n-gram vectors, `bucketIDs.count x dimension`, row `s` for slot `s`.
    public let vectors: ParameterMatrix
    /// Optimizer state of ``vectors``.
    public let optimizer: OptimizerState
    /// Feature `i`'s n-gram slots are `ngramSlot[ngramStart[i] ..< ngramStart[i + 1]]` (`features + 1` offsets).
    let ngramStart: [Int32]
    /// Slots of every feature's n-grams, feature after feature.
    let ngramSlot: [Int32]
    /// Per shard, the transpose of its features' n-gram lists: the slots they use (ascending) and, for the
    /// `p`-th of them, the local rows (a block's row `l` is feature `shard + l * shards`) in
    /// `users[shard][userStart[shard][p] ..< userStart[shard][p + 1]]`, a row listed once per occurrence.
    let shardSlots: [[Int32]]
    let userStart: [[Int32]]
    let users: [[Int32]]
    /// Per shard, parallel to ``users``: `beta_i / alpha_i` of the listed feature, which turns the gradient of its own
    /// vector (``spreadGradients(_:shard:shards:count:dimension:)``) into its n-grams' share.
    let userScale: [[Float]]

    /// Hashes the n-grams of `words` (the side's features, in order; shard `s` holds features `s, s + shards, ...`)
    /// under `scheme` and allocates a zero vector and optimizer state (at ``TrainingConfiguration/subwordLearningRate``)
    /// per bucket in use.
    public init(words: [String], scheme: SubwordScheme, shards: Int, config: TrainingConfiguration) {
        self.scheme = scheme
        let combination = config.subwordCombination
        self.combination = combination
        let perWord = words.map { scheme.buckets(of: $0) }
        bucketIDs = Array(Set(perWord.joined())).sorted()
        var slotOf: [Int32: Int32] = [:]
        slotOf.reserveCapacity(bucketIDs.count)
        for (slot, bucket) in bucketIDs.enumerated() { slotOf[bucket] = Int32(slot) }
        var start: [Int32] = [0]
        var slots: [Int32] = []
        start.reserveCapacity(words.count + 1)
        for buckets in perWord {
            for bucket in buckets { slots.append(slotOf[bucket]!) }
            start.append(Int32(slots.count))
        }
        ngramStart = start
        ngramSlot = slots
        var shardSlots: [[Int32]] = [], userStart: [[Int32]] = [], users: [[Int32]] = [], userScale: [[Float]] = []
        for shard in 0..<shards {
            var pairs: [(slot: Int32, row: Int32)] = []
            var i = shard, l: Int32 = 0
            while i < words.count {
                for k in Int(start[i])..<Int(start[i + 1]) { pairs.append((slots[k], l)) }
                i += shards
                l += 1
            }
            pairs.sort { $0.slot != $1.slot ? $0.slot < $1.slot : $0.row < $1.row }
            var used: [Int32] = [], offsets: [Int32] = [], rows: [Int32] = [], scales: [Float] = []
            for (k, pair) in pairs.enumerated() {
                if k == 0 || pairs[k - 1].slot != pair.slot {
                    used.append(pair.slot)
                    offsets.append(Int32(k))
                }
                rows.append(pair.row)
                let i = shard + Int(pair.row) * shards
                let (alpha, beta) = combination.weights(ngrams: Int(start[i + 1] - start[i]))
                scales.append(beta / alpha)
            }
            offsets.append(Int32(pairs.count))
            shardSlots.append(used)
            userStart.append(offsets)
            users.append(rows)
            userScale.append(scales)
        }
        self.userScale = userScale
        self.shardSlots = shardSlots
        self.userStart = userStart
        self.users = users
        vectors = ParameterMatrix(rows: bucketIDs.count, dimension: config.dimension)
        var settings = config
        settings.learningRate = config.subwordLearningRate ?? config.learningRate
        optimizer = OptimizerState(rows: bucketIDs.count, dimension: config.dimension, config: settings)
    }

    /// Number of n-grams of feature `i` (repeats counted).
    @inline(__always) func ngramCount(_ i: Int) -> Int { Int(ngramStart[i + 1] - ngramStart[i]) }

    /// Writes the composed vectors of the `count` features `shard, shard + shards, ...` into `out`
    /// (`count x dimension`, row-major), from the features' own vectors `words` and the n-gram vectors.
    public func gather(words: ParameterMatrix, shard: Int, shards: Int, count: Int,
                       into out: UnsafeMutablePointer<Float>) {
        let d = words.dimension
        for l in 0..<count {
            compose(feature: shard + l * shards, words: words, ngrams: vectors, into: out + l * d)
        }
    }

    /// Writes feature `i`'s composed vector (`dimension` floats) from feature vectors `words` and n-gram
    /// vectors `ngrams` (shaped as ``vectors``) into `out`.
    @inline(__always) func compose(feature i: Int, words: ParameterMatrix, ngrams: ParameterMatrix,
                                   into out: UnsafeMutablePointer<Float>) {
        let d = words.dimension
        let first = Int(ngramStart[i]), end = Int(ngramStart[i + 1])
        guard end > first else {
            out.update(from: words.storage + i * d, count: d)
            return
        }
        for t in 0..<d { out[t] = 0 }
        for k in first..<end {
            let b = ngrams.storage + Int(ngramSlot[k]) * d
            for t in 0..<d { out[t] += b[t] }
        }
        let (alpha, beta) = combination.weights(ngrams: end - first)
        let w = words.storage + i * d
        for t in 0..<d { out[t] = alpha * w[t] + beta * out[t] }
    }

    /// The composed vector of every feature, `features x dimension` (what a model holds as the side's vectors), from
    /// feature vectors `words` and n-gram vectors `ngrams` (default: ``vectors``).
    public func composed(words: ParameterMatrix, ngrams: ParameterMatrix? = nil) -> ParameterMatrix {
        let ngrams = ngrams ?? vectors
        precondition(ngrams.rows == vectors.rows && ngrams.dimension == words.dimension, "n-gram vectors of another shape")
        let result = ParameterMatrix(rows: words.rows, dimension: words.dimension)
        for i in 0..<words.rows { compose(feature: i, words: words, ngrams: ngrams, into: result.storage + i * words.dimension) }
        return result
    }

    /// Turns `dL/dv` of the `count` features of a block (its rows or its columns; `count x dimension`, in place) into
    /// the gradient of each feature's own vector, `alpha_i dL/dv_i`.
    public func spreadGradients(_ gradients: UnsafeMutablePointer<Float>, shard: Int, shards: Int, count: Int,
                                dimension d: Int) {
        for l in 0..<count {
            let (alpha, _) = combination.weights(ngrams: ngramCount(shard + l * shards))
            let g = gradients + l * d
            for t in 0..<d { g[t] *= alpha }
        }
    }

    /// Applies the n-gram gradients of a wave's blocks, in the order given: for each block (its shard on this side and
    /// its features' spread gradients from ``spreadGradients(_:shard:shards:count:dimension:)``), one optimizer step
    /// per n-gram vector its features use, with the sum of those features' shares `beta_i dL/dv_i` (one counted per
    /// occurrence).
    ///
    /// `workers` threads each take the slots `s` with `s % workers` equal to their number; a slot's steps come in
    /// block order whatever the thread count, so the result does not depend on it.
    public func applyGradients(of blocks: [(shard: Int, gradients: UnsafePointer<Float>)], workers: Int) {
        let d = vectors.dimension
        let workers = max(1, workers)
        // The gradient rows are only read, each by every worker; each worker writes its own slots.
        nonisolated(unsafe) let blocks = blocks
        DispatchQueue.concurrentPerform(iterations: workers) { worker in
            let sum = UnsafeMutablePointer<Float>.allocate(capacity: d)
            defer { sum.deallocate() }
            for (shard, gradients) in blocks {
                let slots = shardSlots[shard], start = userStart[shard], rows = users[shard], scales = userScale[shard]
                for p in 0..<slots.count where Int(slots[p]) % workers == worker {
                    sum.update(repeating: 0, count: d)
                    for q in Int(start[p])..<Int(start[p + 1]) {
                        let g = gradients + Int(rows[q]) * d
                        let scale = scales[q]
                        if scale == 1 {
                            for t in 0..<d { sum[t] += g[t] }
                        } else {
                            for t in 0..<d { sum[t] += scale * g[t] }
                        }
                    }
                    optimizer.update(parameters: vectors, firstRow: Int(slots[p]), rowStride: 1, count: 1, gradients: sum)
                }
            }
        }
    }

    /// Splits start vectors between features and n-grams without changing any composed vector: `words` holds a
    /// start vector `x_i` per feature (random or spectral); afterwards each n-gram vector is the mean of the
    /// start vectors of the features that use it (counted per occurrence), and each feature's own vector is
    /// `w_i = (x_i - beta_i sum_{g in G_i} b_g) / alpha_i`, so that `v_i = x_i` exactly in real arithmetic (to rounding
    /// in floats). The n-grams so start with what their words share, which is all an unseen word has.
    public func splitStart(_ words: ParameterMatrix) {
        let d = words.dimension
        let b = vectors.storage
        b.update(repeating: 0, count: vectors.rows * d)
        var uses = [Float](repeating: 0, count: vectors.rows)
        for i in 0..<words.rows {
            let x = words.storage + i * d
            for k in Int(ngramStart[i])..<Int(ngramStart[i + 1]) {
                let s = Int(ngramSlot[k])
                uses[s] += 1
                for t in 0..<d { b[s * d + t] += x[t] }
            }
        }
        for s in 0..<vectors.rows where uses[s] > 0 {
            let scale = 1 / uses[s]
            for t in 0..<d { b[s * d + t] *= scale }
        }
        for i in 0..<words.rows {
            let w = words.storage + i * d
            let first = Int(ngramStart[i]), end = Int(ngramStart[i + 1])
            guard end > first else { continue }
            let (alpha, beta) = combination.weights(ngrams: end - first)
            var sum = [Float](repeating: 0, count: d)
            for k in first..<end {
                let s = Int(ngramSlot[k])
                for t in 0..<d { sum[t] += b[s * d + t] }
            }
            for t in 0..<d { w[t] = (w[t] - beta * sum[t]) / alpha }
        }
    }
}

/// How a subword model weights a feature's own vector and its n-grams' vectors in its composed vector
/// (``SubwordComposition``).
public enum SubwordCombination: Codable, Equatable, Hashable, Sendable, CustomStringConvertible {
    /// fastText's: the mean of the own vector and the n-grams' vectors.
    case mean
    /// `ownWeight` times the own vector, plus the mean of the n-grams' vectors. With AdaGrad a step moves the own
    /// vector about as far whatever its weight, so the weight sets how far the word moves on its own against its
    /// n-grams: 1 as far as a word model's word, less to lean on the forms it shares.
    case ownPlusMean(ownWeight: Float)

    /// The combination a command-line value names: `mean`, or the own vector's weight (a positive number).
    public init?(_ text: String) {
        if text == "mean" { self = .mean; return }
        guard let weight = Float(text), weight > 0, weight.isFinite else { return nil }
        self = .ownPlusMean(ownWeight: weight)
    }

    /// `mean`, or the own vector's weight.
    public var description: String {
        switch self {
        case .mean: return "mean"
        case let .ownPlusMean(weight): return String(weight)
        }
    }

    /// `(alpha, beta)`: the weights of the own vector and of each n-gram vector for a feature with `ngrams` n-grams
    /// (with none, the own vector alone: `(1, 0)`).
    @inline(__always) func weights(ngrams n: Int) -> (own: Float, ngram: Float) {
        guard n > 0 else { return (1, 0) }
        switch self {
        case .mean: return (1 / Float(1 + n), 1 / Float(1 + n))
        case let .ownPlusMean(weight): return (weight, 1 / Float(n))
        }
    }
}

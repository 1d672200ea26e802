/// Parameters shared by the workers of one training run: a `rows x dimension` row-major Float matrix in
/// raw memory, so that workers can update disjoint rows at once without copy-on-write or exclusivity checks.
public final class ParameterMatrix: @unchecked Sendable {
    /// Number of rows.
    public let rows: Int
    /// Number of columns.
    public let dimension: Int
    /// The elements, row-major.
    public let storage: UnsafeMutablePointer<Float>

    /// A matrix filled with `value`.
    public init(rows: Int, dimension: Int, value: Float = 0) {
        self.rows = rows
        self.dimension = dimension
        storage = .allocate(capacity: max(1, rows * dimension))
        storage.initialize(repeating: value, count: rows * dimension)
    }

    /// A matrix holding a copy of `values` (`rows * dimension` of them).
    public convenience init(rows: Int, dimension: Int, values: [Float]) {
        precondition(values.count == rows * dimension, "values do not match the shape")
        self.init(rows: rows, dimension: dimension)
        values.withUnsafeBufferPointer { storage.update(from: $0.baseAddress!, count: values.count) }
    }

    deinit { storage.deallocate() }

    /// A copy of the elements.
    public var values: [Float] { Array(UnsafeBufferPointer(start: storage, count: rows * dimension)) }

    /// Whether every element is finite.
    public var isFinite: Bool {
        for i in 0..<(rows * dimension) where !storage[i].isFinite { return false }
        return true
    }
}

/// The optimizer state of one embedding matrix, updated one block's rows at a time.
///
/// AdaGrad: `a += g^2; w -= lr * g / sqrt(a)` (TensorFlow 1's `AdagradOptimizer`).
/// RMSProp: `ms = rho ms + (1 - rho) g^2; m = momentum m + lr g / sqrt(ms + eps); w -= m`
/// (TensorFlow 1's `RMSPropOptimizer`, which starts `ms` at 1).
public final class OptimizerState: @unchecked Sendable {
    /// Which rule.
    public let kind: OptimizerKind
    /// AdaGrad accumulator, or RMSProp mean square; same shape as the parameters.
    public let accumulator: ParameterMatrix
    /// RMSProp momentum buffer (unused by AdaGrad: 0 x 0).
    public let momentumBuffer: ParameterMatrix
    private let learningRate: Float
    private let momentum: Float
    private let decay: Float
    /// Where the accumulator starts: AdaGrad's initial accumulator, or RMSProp's mean square of 1.
    private let initialAccumulator: Float
    /// RMSProp's epsilon (TensorFlow 1's default).
    static let epsilon: Float = 1e-10

    /// State for a `rows x dimension` matrix under `config`.
    public init(rows: Int, dimension: Int, config: TrainingConfiguration) {
        kind = config.optimizer
        learningRate = config.learningRate
        momentum = config.momentum
        decay = config.rmspropDecay
        initialAccumulator = config.optimizer == .adagrad ? config.adagradInitialAccumulator : 1
        accumulator = ParameterMatrix(rows: rows, dimension: dimension, value: initialAccumulator)
        momentumBuffer = ParameterMatrix(rows: config.optimizer == .rmsprop ? rows : 0, dimension: dimension)
    }

    /// Puts the state back where a new run starts (for the next member of an ensemble).
    public func reset() {
        let count = accumulator.rows * accumulator.dimension
        accumulator.storage.update(repeating: initialAccumulator, count: count)
        momentumBuffer.storage.update(repeating: 0, count: momentumBuffer.rows * momentumBuffer.dimension)
    }

    /// Applies `count` gradient rows to parameter rows `first, first + stride, first + 2 stride, ...`.
    ///
    /// - Parameter gradients: `count x dimension`, row-major.
    public func update(parameters: ParameterMatrix, firstRow: Int, rowStride: Int, count: Int,
                       gradients: UnsafePointer<Float>) {
        let d = parameters.dimension
        let lr = learningRate
        for l in 0..<count {
            let offset = (firstRow + l * rowStride) * d
            let w = parameters.storage + offset
            let a = accumulator.storage + offset
            let g = gradients + l * d
            switch kind {
            case .adagrad:
                for j in 0..<d {
                    let gj = g[j]
                    let aj = a[j] + gj * gj
                    a[j] = aj
                    w[j] -= lr * gj / aj.squareRoot()
                }
            case .rmsprop:
                let m = momentumBuffer.storage + offset
                let rho = decay, mu = momentum
                for j in 0..<d {
                    let gj = g[j]
                    let ms = rho * a[j] + (1 - rho) * gj * gj
                    a[j] = ms
                    let mj = mu * m[j] + lr * gj / (ms + Self.epsilon).squareRoot()
                    m[j] = mj
                    w[j] -= mj
                }
            }
        }
    }
}

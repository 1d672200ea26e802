import SwivelIO
import SwivelShards

/// The contents of `model.json`: how a model was trained and what it is.
public struct ModelInfo: Codable, Sendable {
    /// Always "swivel-model".
    public var format = "swivel-model"
    /// Format version.
    public var formatVersion = 1
    /// Version of the prep that produced the shards.
    public var writtenBy: String
    /// The prep directory trained on.
    public var prepDirectory: String
    /// Row features.
    public var rows: Int
    /// Column features.
    public var columns: Int
    /// Embedding dimension.
    public var dimension: Int
    /// Training settings.
    public var configuration: TrainingConfiguration
    /// Results.
    public var summary: TrainingSummary
    /// Size and CRC-32 of every file the model write made (vocabularies, embeddings, training log), checked
    /// by every reader of the model (``SwivelEmbeddings/ModelDirectory/verify(_:files:)``); absent in models
    /// written before the field existed.
    public var files: [String: FileDigest]?
}

import Dispatch
import Foundation
import SwivelEmbeddings
import SwivelIO
import SwivelLinearAlgebra
import SwivelShards
import SwivelText

extension Trainer {
    /// Entries of a model directory that training writes: the model's files, the checkpoint, the logs.
    public static let modelEntries: Set<String> = [
        ModelDirectory.rowVocabulary, ModelDirectory.columnVocabulary, ModelDirectory.rowEmbeddings,
        ModelDirectory.columnEmbeddings, ModelDirectory.modelInfo, ModelDirectory.trainingLog,
        ModelDirectory.evaluationLog, Checkpoint.fileName, ModelDirectory.subwordBuckets, ModelDirectory.subwordVectors,
        ModelDirectory.columnSubwordBuckets, ModelDirectory.columnSubwordVectors,
    ]

    /// Writes the trained model to `directory` as one unit: vocabularies, both embedding matrices, the training
    /// log and `model.json` (naming the size and CRC-32 of each) go to a ``StagedDirectory`` beside it, which
    /// is then swapped in whole; the checkpoint, the evaluation log and any other file of the directory are
    /// carried over. A reader sees the old model or the new one, never a mix.
    ///
    /// A subword model's vectors are written composed (each feature's mean with its n-grams), beside its n-gram
    /// vectors (``SubwordVectors``, one table per composed side), so that readers need them only for unseen words.
    public func writeModel(to directory: String, summary: TrainingSummary) throws {
        let staged = try StagedDirectory(destination: directory)
        let out = staged.staging
        let d = config.dimension
        try EmbeddingMatrixFile.write(Matrix(rows: manifest.rows, columns: d, values: composedRowVectors.values),
                                      to: out + "/" + ModelDirectory.rowEmbeddings)
        var written = [ModelDirectory.rowEmbeddings, ModelDirectory.columnEmbeddings, ModelDirectory.rowVocabulary,
                       ModelDirectory.columnVocabulary, ModelDirectory.trainingLog]
        for (subwords, side) in [(model.rowSubwords, SubwordVectors.Side.rows), (model.columnSubwords, .columns)] {
            guard let subwords else { continue }
            try SubwordVectors(scheme: subwords.scheme, bucketIDs: subwords.bucketIDs,
                               vectors: Matrix(rows: subwords.vectors.rows, columns: d, values: subwords.vectors.values))
                .write(to: out, side: side)
            written += [side.bucketsFile, side.vectorsFile]
        }
        try EmbeddingMatrixFile.write(Matrix(rows: manifest.columns, columns: d, values: composedColumnVectors.values),
                                      to: out + "/" + ModelDirectory.columnEmbeddings)
        try AtomicFileWriter.write(try FileReader.readAll(prepDirectory + "/" + manifest.rowVocabulary),
                                   to: out + "/" + ModelDirectory.rowVocabulary)
        try AtomicFileWriter.write(try FileReader.readAll(prepDirectory + "/" + manifest.columnVocabulary),
                                   to: out + "/" + ModelDirectory.columnVocabulary)
        var logText = "epoch\tmean_loss\tseconds\tmember\n"
        for r in summary.log { logText += "\(r.epoch)\t\(r.meanLoss)\t\(Self.format(r.seconds))\t\(r.member + 1)\n" }
        try AtomicFileWriter.write(logText, to: out + "/" + ModelDirectory.trainingLog)
        var files: [String: FileDigest] = [:]
        for name in written {
            files[name] = try FileDigest(of: out + "/" + name)
        }
        let info = ModelInfo(writtenBy: manifest.writtenBy, prepDirectory: prepDirectory, rows: manifest.rows,
                             columns: manifest.columns, dimension: d, configuration: config, summary: summary,
                             files: files)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try AtomicFileWriter.write([UInt8](try encoder.encode(info)) + [0x0A], to: out + "/" + ModelDirectory.modelInfo)
        try staged.commit()
    }

    /// Creates the model directory, refusing to replace an existing model unless `force`, and refusing
    /// entries that the final swap could not carry over (directories). Temporary files of killed runs are
    /// removed first. With `force`, the old model stays whole until the new one replaces it; its checkpoint,
    /// evaluation log and n-gram vectors, which belong to the old run, are removed.
    public static func prepareModelDirectory(_ directory: String, force: Bool) throws {
        if FileReader.exists(directory) && !FileReader.isDirectory(directory) {
            throw FileError.cannotOpen(path: directory, reason: "exists and is not a directory")
        }
        if FileReader.isDirectory(directory) {
            FileTree.removeStaleTemporaries(in: directory)
        }
        if !force && (FileReader.exists(directory + "/" + ModelDirectory.modelInfo)
                      || FileReader.exists(directory + "/" + Checkpoint.fileName)) {
            throw TrainingError.outputExists(path: directory)
        }
        try StagedDirectory.checkCarriable(directory, own: modelEntries)
        try FileReader.createDirectory(directory)
        if force {
            unlink(directory + "/" + Checkpoint.fileName)
            unlink(directory + "/" + ModelDirectory.evaluationLog)
            // The old model's n-grams would be carried into a new model that has none.
            for name in [ModelDirectory.subwordBuckets, ModelDirectory.subwordVectors, ModelDirectory.columnSubwordBuckets,
                         ModelDirectory.columnSubwordVectors] {
                unlink(directory + "/" + name)
            }
        }
    }

    /// Readies a model directory for a resumed run: removes temporary files of killed runs and refuses
    /// entries the final swap could not carry over (directories), before any training.
    public static func prepareResumedDirectory(_ directory: String) throws {
        guard FileReader.isDirectory(directory) else { return }
        FileTree.removeStaleTemporaries(in: directory)
        try StagedDirectory.checkCarriable(directory, own: modelEntries)
    }

    static func format(_ x: Double) -> String {
        String(format: "%.4f", x)
    }
}

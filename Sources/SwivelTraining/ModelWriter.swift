import Dispatch
import Foundation
import SwivelEmbeddings
import SwivelIO
import SwivelLinearAlgebra
import SwivelShards
import SwivelText

extension Trainer {
    /// Writes the trained model to `directory`: vocabularies, both embedding matrices, the training log and
    /// `model.json` (last, so a directory with `model.json` is a complete model).
    public func writeModel(to directory: String, summary: TrainingSummary, force: Bool) throws {
        try Self.prepareModelDirectory(directory, force: force)
        let d = config.dimension
        try EmbeddingMatrixFile.write(Matrix(rows: manifest.rows, columns: d, values: model.rowEmbeddings.values),
                                      to: directory + "/" + ModelDirectory.rowEmbeddings)
        try EmbeddingMatrixFile.write(Matrix(rows: manifest.columns, columns: d, values: model.columnEmbeddings.values),
                                      to: directory + "/" + ModelDirectory.columnEmbeddings)
        try AtomicFileWriter.write(try FileReader.readAll(prepDirectory + "/" + manifest.rowVocabulary),
                                   to: directory + "/" + ModelDirectory.rowVocabulary)
        try AtomicFileWriter.write(try FileReader.readAll(prepDirectory + "/" + manifest.columnVocabulary),
                                   to: directory + "/" + ModelDirectory.columnVocabulary)
        var logText = "epoch\tmean_loss\tseconds\tmember\n"
        for r in summary.log { logText += "\(r.epoch)\t\(r.meanLoss)\t\(Self.format(r.seconds))\t\(r.member + 1)\n" }
        try AtomicFileWriter.write(logText, to: directory + "/" + ModelDirectory.trainingLog)
        let info = ModelInfo(writtenBy: manifest.writtenBy, prepDirectory: prepDirectory, rows: manifest.rows,
                             columns: manifest.columns, dimension: d, configuration: config, summary: summary)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try AtomicFileWriter.write([UInt8](try encoder.encode(info)) + [0x0A], to: directory + "/" + ModelDirectory.modelInfo)
    }

    /// Creates the model directory, refusing to replace an existing model unless `force`.
    public static func prepareModelDirectory(_ directory: String, force: Bool) throws {
        if FileReader.exists(directory) && !FileReader.isDirectory(directory) {
            throw FileError.cannotOpen(path: directory, reason: "exists and is not a directory")
        }
        if !force && (FileReader.exists(directory + "/" + ModelDirectory.modelInfo)
                      || FileReader.exists(directory + "/" + Checkpoint.fileName)) {
            throw TrainingError.outputExists(path: directory)
        }
        try FileReader.createDirectory(directory)
    }

    static func format(_ x: Double) -> String {
        String(format: "%.4f", x)
    }
}

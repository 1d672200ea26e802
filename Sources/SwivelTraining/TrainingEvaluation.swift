import Foundation
import SwivelEmbeddings
import SwivelIO

/// Scores the vectors during training and appends the scores to `eval_log.tsv` in the model directory.
public final class TrainingEvaluation {
    /// The word-similarity sets scored after each evaluated epoch.
    public let similarity: [SimilarityBenchmark]
    /// The analogy sets scored after each evaluated epoch (3CosAdd among the 30,000 most frequent words).
    public let analogy: [AnalogyBenchmark]
    private let log: FileHandle
    /// The log's value of a score that is undefined (e.g. a correlation over fewer than two covered pairs).
    public static let undefinedValue = "undefined"

    /// Reads the benchmark files (nil when there are none) and starts the log with a header, or, `resuming` a
    /// run whose log exists, appends to it (the scores of the epochs before the interruption stay).
    public init?(similarity: [String], analogy: [String], logPath: String, resuming: Bool = false) throws {
        if similarity.isEmpty && analogy.isEmpty { return nil }
        self.similarity = try similarity.map { try SimilarityBenchmark(path: $0) }
        self.analogy = try analogy.map { try AnalogyBenchmark(path: $0) }
        let header = Data("epoch\tfile\tmetric\tvalue\n".utf8)
        let keep = resuming && FileReader.exists(logPath)
        guard keep || FileCreation.gate({ FileManager.default.createFile(atPath: logPath, contents: header) }),
              let handle = FileHandle(forWritingAtPath: logPath) else {
            throw FileError.cannotOpen(path: logPath, reason: "cannot create the evaluation log")
        }
        handle.seekToEndOfFile()
        log = handle
    }

    /// Evaluates the current sum vectors; returns one line per benchmark for the terminal, each starting with
    /// `label`, and logs the scores at epoch `x` (epochs counted across ensemble members) under metric names
    /// starting with `metricPrefix`; an undefined score is logged as ``undefinedValue``, its reason only printed.
    public func run(trainer: Trainer, label: String, x: Int, metricPrefix: String = "") -> [String] {
        guard let embeddings = try? trainer.embeddings(.sum) else { return [] }
        var lines: [String] = [], rows = ""
        for benchmark in similarity {
            let r = benchmark.evaluate(embeddings)
            let score = r.spearman.map { String(format: "%.4f", $0) }
                ?? "undefined (\(r.undefinedReason.map(String.init(describing:)) ?? "no reason given"))"
            lines.append("\(label): \(r.file) spearman \(score) (\(r.covered)/\(r.pairs) pairs)")
            rows += "\(x)\t\(r.file)\t\(metricPrefix)spearman\t\(r.spearman.map { String($0) } ?? Self.undefinedValue)\n"
        }
        for benchmark in analogy {
            let all = benchmark.evaluate(embeddings, restrict: 30000)[0]
            lines.append(String(format: "%@: %@ 3CosAdd %.2f%% of covered (%d/%d questions)", label,
                                benchmark.path as NSString, 100 * all.add.accuracyCovered, all.covered, all.questions))
            rows += "\(x)\t\(benchmark.path)\t\(metricPrefix)3cosadd_covered\t\(all.add.accuracyCovered)\n"
        }
        log.write(Data(rows.utf8))
        return lines
    }
}

import ArgumentParser
import Foundation
import SwivelEmbeddings
import SwivelText

extension Swivel {
    struct EvalCommand: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "eval",
            abstract: "Score vectors on word-similarity and analogy benchmarks.",
            discussion: """
                Similarity files: word1<TAB>word2<TAB>score; Spearman (ties by average rank) and Pearson over the \
                pairs with both words known (a subword model, or a fastText .bin, is also scored on every pair, \
                unseen words composed from their n-grams, and on the pairs with an unseen word alone), "undefined" with the reason (JSON: null and undefinedReason) when fewer \
                than 2 pairs are known or the human scores or the similarities are all equal. Analogy files: a<TAB>b<TAB>c<TAB>d, optional ': section' lines; \
                3CosAdd and 3CosMul among the --restrict most frequent words, excluding a, b and c.

                Examples:
                  swivel eval model/ --similarity ws353.tsv --analogy google-analogy.tsv
                  swivel eval vectors.txt --analogy questions-words.txt --restrict 0 --json
                """)

        @Argument(help: "A model directory, or an exported word2vec/TSV file.")
        var vectors: String

        @Option(parsing: .upToNextOption, help: "Word-similarity files.")
        var similarity: [String] = []

        @Option(parsing: .upToNextOption, help: "Analogy files.")
        var analogy: [String] = []

        @Option(parsing: .unconditional, help: "Search answers among this many most frequent words (0: all).")
        var restrict: Int = 30000

        @Option(name: [.customLong("vectors"), .customLong("use")], help: "With a model directory: row, col, or sum (as export --vectors).")
        var use: VectorChoice = .sum

        @Option(help: ArgumentHelp("Corpus word counts (token<TAB>count lines, e.g. a prep's row_vocab.txt): also score the rare-word and frequent-word halves of each similarity set.", valueName: "file"))
        var frequencies: String?

        @Option(help: ArgumentHelp("Treat only the words of this vocabulary (token[<TAB>count] lines, e.g. a prep's row_vocab.txt) as known; the others are unseen, composed from n-grams when the vectors have them.", valueName: "file"))
        var knownWords: String?

        @Flag(help: "Print JSON instead of a table.")
        var json = false

        @OptionGroup var kernel: BLASKernelOptions

        func validate() throws {
            if similarity.isEmpty && analogy.isEmpty { throw ValidationError("give at least one --similarity or --analogy file") }
            if restrict < 0 { throw ValidationError("--restrict must be at least 0 (got \(restrict))") }
        }

        struct Report: Codable {
            var similarity: [SimilarityResult]
            var analogy: [String: [AnalogySection]]
        }

        func run() throws {
            kernel.relaunchIfSlow(quiet: json)
            let report = try reportingErrors { () -> Report in
                var embeddings = try Embeddings.load(vectors, choice: use)
                if let knownWords {
                    embeddings = embeddings.restricted(to: Set(try Vocabulary.read(from: knownWords).tokens))
                }
                let counts = try frequencies.map { path -> [String: Int64] in
                    let vocabulary = try Vocabulary.read(from: path)
                    return Dictionary(zip(vocabulary.tokens, vocabulary.counts), uniquingKeysWith: { a, _ in a })
                }
                let sims = try similarity.map { try SimilarityBenchmark(path: $0).evaluate(embeddings, frequencies: counts) }
                var analogies: [String: [AnalogySection]] = [:]
                for path in analogy {
                    analogies[path] = try AnalogyBenchmark(path: path).evaluate(embeddings, restrict: restrict)
                }
                return Report(similarity: sims, analogy: analogies)
            }
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
                print(String(decoding: try encoder.encode(report), as: UTF8.self))
                return
            }
            /// A correlation with 4 decimals, or "undefined" with its reason (when given).
            func score(_ value: Double?, _ reason: UndefinedCorrelation?) -> String {
                value.map { String(format: "%.4f", $0) } ?? "undefined" + (reason.map { " (\($0))" } ?? "")
            }
            for r in report.similarity {
                print("\(r.file): spearman \(score(r.spearman, r.undefinedReason))  pearson \(score(r.pearson, nil))  covered \(r.covered)/\(r.pairs) (\(r.pairs - r.covered) missing)")
                for (name, half) in [("rare", r.rare), ("frequent", r.frequent)] {
                    guard let half else { continue }
                    print("  \(name) half (rarer word seen \(half.minCount)-\(half.maxCount) times): spearman \(score(half.spearman, half.undefinedReason))  covered \(half.covered)/\(half.pairs)")
                }
                if let every = r.everyPair, let unseen = r.unseenPairs {
                    print("  with unseen words from n-grams: every pair spearman \(score(every.spearman, every.undefinedReason))  covered \(every.covered)/\(r.pairs); pairs with an unseen word spearman \(score(unseen.spearman, unseen.undefinedReason))  covered \(unseen.covered)")
                }
            }
            for path in analogy {
                print("\(path):")
                for s in report.analogy[path] ?? [] {
                    let name = s.name.padding(toLength: max(28, s.name.count), withPad: " ", startingAt: 0)
                    print("  " + name + String(format: " 3CosAdd %6.2f%% (covered %6.2f%%)  3CosMul %6.2f%% (covered %6.2f%%)  covered %d/%d",
                                               100 * s.add.accuracyAll, 100 * s.add.accuracyCovered,
                                               100 * s.mul.accuracyAll, 100 * s.mul.accuracyCovered, s.covered, s.questions))
                }
            }
        }
    }
}

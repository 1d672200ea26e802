import ArgumentParser
import Foundation
import SwivelEmbeddings

extension Swivel {
    struct Nearest: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the nearest neighbours of words by cosine similarity.",
            discussion: "With no words, reads one query per line from standard input.")

        @Argument(help: "A model directory, or an exported word2vec/TSV file.")
        var vectors: String

        @Argument(help: "Query words.")
        var words: [String] = []

        @Option(help: "Neighbours per word.")
        var k: Int = 10

        @Option(help: "With a model directory: row, col, or sum.")
        var use: VectorChoice = .sum

        func validate() throws {
            if k < 1 { throw ValidationError("--k must be at least 1 (got \(k))") }
        }

        func run() throws {
            let index = try reportingErrors { NearestNeighbours(try Embeddings.load(vectors, choice: use)) }
            var queries = words
            if queries.isEmpty {
                while let line = readLine() {
                    let word = line.trimmingCharacters(in: .whitespaces)
                    if !word.isEmpty { queries.append(word) }
                }
            }
            var unknown = 0
            for word in queries {
                do {
                    let neighbours = try index.nearest(to: word, k: k)
                    print(word)
                    let width = max(12, neighbours.map(\.token.count).max() ?? 0)
                    for n in neighbours {
                        let padding = String(repeating: " ", count: width - n.token.count)
                        print("  \(n.token)\(padding) \(String(format: "%.4f", n.similarity))")
                    }
                } catch {
                    printError("swivel: \(error)")
                    unknown += 1
                }
            }
            if unknown > 0 && unknown == queries.count { throw ExitCode(1) }
        }
    }
}

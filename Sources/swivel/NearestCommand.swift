import ArgumentParser
import Foundation
import SwivelEmbeddings

extension Swivel {
    struct NearestCommand: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "nearest",
            abstract: "Print the nearest neighbours of words by cosine similarity.",
            discussion: """
                Queries: a word (its neighbours), 'a : b :: c : ?' (an analogy, 3CosAdd), or 'king - man + woman'. \
                With no query words, reads one query per line from standard input (with a prompt on a terminal).

                Examples:
                  swivel nearest model/ king queen --k 5
                  swivel nearest vectors.txt 'man : king :: woman : ?'
                  swivel nearest model/ king - man + woman
                """)

        @Argument(help: "A model directory, or an exported word2vec/TSV file.")
        var vectors: String

        @Argument(help: "One query: a word, or an analogy or sum written out (quote it or pass its words).")
        var words: [String] = []

        @Option(parsing: .unconditional, help: "Neighbours per word.")
        var k: Int = 10

        @Option(name: [.customLong("vectors"), .customLong("use")], help: "With a model directory: row, col, or sum (as export --vectors).")
        var use: VectorChoice = .sum

        func validate() throws {
            if k < 1 { throw ValidationError("--k must be at least 1 (got \(k))") }
        }

        func run() throws {
            let index = try reportingErrors { NearestNeighbours(try Embeddings.load(vectors, choice: use)) }
            var unknown = 0, asked = 0
            func answer(_ query: String) {
                asked += 1
                do {
                    let neighbours = try index.answer(query, k: k)
                    print(query)
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
            if !words.isEmpty {
                // Several plain words are several queries; operators make the arguments one expression.
                let tokens = words.joined(separator: " ").split(separator: " ").map(String.init)
                if tokens.contains(where: { [":", "::", "?", "+", "-"].contains($0) }) {
                    answer(tokens.joined(separator: " "))
                } else {
                    tokens.forEach(answer)
                }
            } else {
                let interactive = isatty(0) != 0
                if interactive { printError("\(index.normalized.tokens.count) words loaded; a word, 'a : b :: c : ?', or 'king - man + woman'; Ctrl-D ends") }
                while true {
                    if interactive { FileHandle.standardError.write("> ".data(using: .utf8)!) }
                    guard let line = readLine() else { break }
                    let query = line.trimmingCharacters(in: .whitespaces)
                    if !query.isEmpty { answer(query) }
                }
            }
            if unknown > 0 && unknown == asked { throw ExitCode(1) }
        }
    }
}

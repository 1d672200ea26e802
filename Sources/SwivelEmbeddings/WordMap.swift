import Foundation
import SwivelLinearAlgebra

/// A 2-D map of chosen words: their vectors projected on the two leading principal components.
public struct WordMap: Sendable {
    /// Which words a map shows.
    public enum Selection: Sendable {
        /// The first `n` words of the vocabulary (the most frequent, in a swivel vocabulary).
        case top(Int)
        /// These words, in this order; words outside the vocabulary are left out (see ``unknownWords``).
        case words([String])
    }

    /// The words on the map, in the order chosen.
    public let words: [String]
    /// Asked-for words that are not in the vocabulary, left out of the map.
    public let unknownWords: [String]
    /// The projection of the chosen words' vectors (`words.count` points).
    public let components: PrincipalComponents
    /// The vectors' dimension.
    public let dimension: Int

    /// Chooses the words and projects their vectors; throws ``WordMapError`` when fewer than two known
    /// words remain.
    public init(embeddings: Embeddings, selection: Selection) throws {
        var chosen: [Int] = [], unknown: [String] = []
        switch selection {
        case let .top(n):
            chosen = Array(0..<min(n, embeddings.tokens.count))
        case let .words(list):
            for word in list {
                if let id = embeddings.id(of: word) { chosen.append(id) } else { unknown.append(word) }
            }
        }
        guard chosen.count >= 2 else {
            throw WordMapError.tooFewWords(known: chosen.count)
        }
        let d = embeddings.dimension
        var values: [Float] = []
        values.reserveCapacity(chosen.count * d)
        for id in chosen { values += embeddings.vectors.row(id) }
        components = try PrincipalComponents(Matrix(rows: chosen.count, columns: d, values: values))
        words = chosen.map { embeddings.tokens[$0] }
        unknownWords = unknown
        dimension = d
    }

    /// The map as an SVG scatter plot, its axes labelled with the share of variance each component explains.
    public func svg() -> String {
        SVGChart.scatter(points: components.points, labels: words,
                         title: "\(words.count) words, PCA of \(dimension)-dimensional vectors",
                         xTitle: String(format: "PC1 (%.1f%% of variance)", 100 * components.explained.0),
                         yTitle: String(format: "PC2 (%.1f%% of variance)", 100 * components.explained.1))
    }
}

/// Why a word map cannot be drawn.
public enum WordMapError: Error, CustomStringConvertible, Equatable {
    /// Fewer than two of the chosen words are in the vocabulary.
    case tooFewWords(known: Int)

    /// A one-line message.
    public var description: String {
        switch self {
        case let .tooFewWords(known): return "need at least two known words to plot (\(known) known)"
        }
    }
}

import Foundation
import SwivelIO
import SwivelText

/// Errors about a prep directory as a whole (as opposed to one damaged shard).
public enum PrepError: Error, CustomStringConvertible, Equatable {
    /// The output directory already holds files and `--force` was not given (the first few names).
    case outputNotEmpty(path: String, names: [String])
    /// The manifest is missing, unreadable or not a swivel manifest.
    case badManifest(path: String, reason: String)
    /// A file the manifest lists disagrees with it.
    case mismatch(path: String, reason: String)
    /// An option is out of range.
    case invalidOption(String)

    public var description: String {
        switch self {
        case let .outputNotEmpty(path, names):
            return "\(displayPath(path)): output directory is not empty (holds \(names.joined(separator: ", "))); "
                + "choose another, or pass --force to replace a prep written there"
        case let .badManifest(path, reason): return "\(path): \(reason)"
        case let .mismatch(path, reason): return "\(path): \(reason)"
        case let .invalidOption(message): return message
        }
    }
}

/// One shard file as listed in the manifest.
public struct ShardEntry: Codable, Equatable, Sendable {
    /// File name inside the prep directory's `shards/` folder.
    public var file: String
    /// Row shard index.
    public var row: Int
    /// Column shard index.
    public var column: Int
    /// Nonzero cells in the block.
    public var nonzeros: Int
}

/// What a prep run produced and every setting that produced it, stored as `manifest.json`.
///
/// File names are relative to the prep directory. The matrix has `rows x columns` features split into
/// `rowShards x columnShards` blocks by ``ShardLayout``.
public struct Manifest: Codable, Equatable, Sendable {
    /// Always "swivel-prep".
    public var format: String = "swivel-prep"
    /// Manifest format version.
    public var formatVersion: Int = 1
    /// The swivel version that wrote it.
    public var writtenBy: String
    /// Row vocabulary (`token<TAB>count` lines).
    public var rowVocabulary: String = "row_vocab.txt"
    /// Column vocabulary.
    public var columnVocabulary: String = "col_vocab.txt"
    /// Row marginals: one decimal number per line, the exact sum of the row's stored counts.
    public var rowSums: String = "row_sums.txt"
    /// Column marginals.
    public var columnSums: String = "col_sums.txt"
    /// Number of row features.
    public var rows: Int
    /// Number of column features.
    public var columns: Int
    /// Largest number of features per shard.
    public var shardSize: Int
    /// Number of row shards.
    public var rowShards: Int
    /// Number of column shards.
    public var columnShards: Int
    /// Sum of all stored counts.
    public var total: Double
    /// Nonzero cells in the whole matrix.
    public var nonzeros: Int
    /// Co-occurrence window.
    public var window: Int
    /// Weight each token adds to its own diagonal cell.
    public var selfWeight: Double
    /// Tokenizer settings.
    public var tokenizer: TokenizerOptions
    /// Vocabulary rules (ignored when `vocabularyFile` is set).
    public var vocabularyRules: VocabularyRules
    /// The vocabulary file given with `--vocab`, if any.
    public var vocabularyFile: String?
    /// The corpus inputs, as given.
    public var inputs: [String]
    /// Tokens read.
    public var tokens: Int64
    /// Tokens that were in the vocabulary.
    public var inVocabularyTokens: Int64
    /// Distinct tokens seen.
    public var distinctTokens: Int
    /// Every shard file, row-major.
    public var shards: [ShardEntry]
    /// word2vec subsampling threshold and seed, when used (nil: every occurrence counted).
    public var subsample: Double? = nil
    /// Seed of the subsampling.
    public var subsampleSeed: UInt64? = nil
    /// Where the counts came from when not from a corpus: "counts" (`--counts`) or "glove" (GloVe's
    /// `cooccurrence.bin`); nil for a corpus.
    public var source: String? = nil

    /// The layout of rows.
    public var rowLayout: ShardLayout { ShardLayout(featureCount: rows, shardSize: shardSize) }
    /// The layout of columns.
    public var columnLayout: ShardLayout { ShardLayout(featureCount: columns, shardSize: shardSize) }

    /// Reads and checks `manifest.json` in `directory`.
    public static func read(directory: String) throws -> Manifest {
        let path = directory + "/manifest.json"
        guard FileReader.exists(path) else {
            throw PrepError.badManifest(path: directory, reason: "not a swivel prep directory (no manifest.json; run 'swivel prep' first)")
        }
        let bytes = try FileReader.readAll(path)
        let manifest: Manifest
        do {
            manifest = try JSONDecoder().decode(Manifest.self, from: Data(bytes))
        } catch {
            throw PrepError.badManifest(path: path, reason: "not a valid swivel manifest (\(Self.describe(error)))")
        }
        guard manifest.format == "swivel-prep" else {
            throw PrepError.badManifest(path: path, reason: "format is '\(manifest.format)', expected 'swivel-prep'")
        }
        guard manifest.formatVersion == 1 else {
            throw PrepError.badManifest(path: path, reason: "manifest version \(manifest.formatVersion) is not supported")
        }
        guard manifest.rows >= 1, manifest.columns >= 1, manifest.shardSize >= 1,
              manifest.rowShards == manifest.rowLayout.shardCount,
              manifest.columnShards == manifest.columnLayout.shardCount,
              manifest.shards.count == manifest.rowShards * manifest.columnShards,
              manifest.total > 0, manifest.total.isFinite else {
            throw PrepError.badManifest(path: path, reason: "sizes are inconsistent (rows \(manifest.rows), shard size \(manifest.shardSize), \(manifest.shards.count) shards)")
        }
        for (index, entry) in manifest.shards.enumerated() {
            guard entry.row == index / manifest.columnShards, entry.column == index % manifest.columnShards,
                  !entry.file.contains("/") else {
                throw PrepError.badManifest(path: path, reason: "shard list entry \(index) is out of order or malformed")
            }
        }
        return manifest
    }

    /// Writes the manifest as pretty-printed JSON, atomically.
    public func write(directory: String) throws {
        try AtomicFileWriter.write(try encoded() + [0x0A], to: directory + "/manifest.json")
    }

    /// The manifest as the pretty-printed JSON (keys sorted) that `manifest.json` holds.
    public func encoded() throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return [UInt8](try encoder.encode(self))
    }

    private static func describe(_ error: Error) -> String {
        switch error {
        case DecodingError.keyNotFound(let key, _): return "missing field '\(key.stringValue)'"
        case DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context):
            return "wrong type at '\(context.codingPath.map(\.stringValue).joined(separator: "."))'"
        case DecodingError.dataCorrupted: return "malformed JSON"
        default: return "\(error)"
        }
    }
}

/// Reads and writes marginal sums: one decimal number per line, as the reference Swivel does.
public enum MarginalsFile {
    /// Writes `sums`, each printed so that it reads back to the identical Double.
    public static func write(_ sums: [Double], to path: String) throws {
        var text = ""
        text.reserveCapacity(sums.count * 12)
        for s in sums {
            text += s.description
            text += "\n"
        }
        try AtomicFileWriter.write(text, to: path)
    }

    /// Reads `expected` non-negative finite numbers from `path`.
    public static func read(from path: String, expected: Int) throws -> [Double] {
        let text = try FileReader.readText(path)
        var sums: [Double] = []
        sums.reserveCapacity(min(expected, text.utf8.count / 2 + 1))
        for (i, line) in text.split(separator: "\n").enumerated() {
            guard let v = Double(line), v >= 0, v.isFinite else {
                throw PrepError.mismatch(path: path, reason: "line \(i + 1): '\(line)' is not a non-negative number")
            }
            sums.append(v)
        }
        guard sums.count == expected else {
            throw PrepError.mismatch(path: path, reason: "holds \(sums.count) sums, the manifest says \(expected)")
        }
        return sums
    }
}

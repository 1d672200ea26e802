import Foundation
import SwivelLinearAlgebra
import SwivelTestSupport
import Testing
@testable import SwivelEmbeddings

private func sampleEmbeddings() -> Embeddings {
    // Values chosen to exercise printing: negative, tiny, large, and ones with long shortest forms.
    let values: [Float] = [0.1, -2.5, 1e-7, 3.4028235e38, -0.33333334, 1.0 / 3.0, 0, 123456.79, -1e-30]
    return Embeddings(tokens: ["the", "naïve", "x'y"], vectors: Matrix(rows: 3, columns: 3, values: values))
}

@Suite struct EmbeddingFileTests {
    @Test func binaryRoundTripIsExact() throws {
        let path = TemporaryFile.path(".bin")
        let m = sampleEmbeddings().vectors
        try EmbeddingMatrixFile.write(m, to: path)
        #expect(try EmbeddingMatrixFile.read(from: path) == m)
    }

    @Test func damagedBinaryFilesAreRejected() throws {
        let path = TemporaryFile.path(".bin")
        try EmbeddingMatrixFile.write(sampleEmbeddings().vectors, to: path)
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        let truncated = try TemporaryFile.write(Array(bytes.prefix(bytes.count - 4)))
        #expect(throws: EmbeddingError.truncated(path: truncated, expected: bytes.count, found: bytes.count - 4)) {
            try EmbeddingMatrixFile.read(from: truncated)
        }
        bytes[bytes.count - 2] ^= 0x40
        let flipped = try TemporaryFile.write(bytes)
        #expect(throws: EmbeddingError.checksumMismatch(path: flipped)) { try EmbeddingMatrixFile.read(from: flipped) }
        let foreign = try TemporaryFile.write("just some text that is not a matrix file at all, really")
        #expect(throws: EmbeddingError.self) { try EmbeddingMatrixFile.read(from: foreign) }
    }

    @Test func everyFormatRoundTripsExactly() throws {
        let e = sampleEmbeddings()
        // fasttext is written from a subword model's parts (FastTextModelFileTests); from vectors alone it is refused.
        #expect(throws: EmbeddingError.self) { try ExportFormat.fasttext.write(e, to: TemporaryFile.path(".bin")) }
        for format in ExportFormat.allCases where format != .fasttext {
            let path = TemporaryFile.path(".\(format.rawValue)")
            try format.write(e, to: path)
            let back: Embeddings
            if format == .projector {
                // The projector's two files: numbers without words, and the words.
                let numbers = try String(contentsOfFile: path + "/vectors.tsv", encoding: .utf8)
                let words = try String(contentsOfFile: path + "/metadata.tsv", encoding: .utf8)
                #expect(words == "the\nnaïve\nx'y\n")
                let values = numbers.split(whereSeparator: { $0 == "\t" || $0 == "\n" }).map { Float($0)! }
                back = Embeddings(tokens: e.tokens, vectors: Matrix(rows: 3, columns: 3, values: values))
            } else {
                back = try VectorFileReader.read(from: path)
            }
            #expect(back.tokens == e.tokens, "\(format)")
            #expect(back.vectors == e.vectors, "\(format)")
        }
        let path = TemporaryFile.path(".txt")
        try ExportFormat.word2vec.write(e, to: path)
        let text = try String(contentsOfFile: path, encoding: .utf8)
        #expect(text.hasPrefix("3 3\nthe 0.1 -2.5 1e-07\nnaïve 3.4028235e+38 "))
        let npy = TemporaryFile.path(".npy")
        try ExportFormat.npy.write(e, to: npy)
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: npy)))
        #expect(bytes.count == 128 + 9 * 4)   // header padded to 64-byte alignment, then the floats
        #expect(String(decoding: bytes[10..<128], as: UTF8.self).hasPrefix("{'descr': '<f4', 'fortran_order': False, 'shape': (3, 3), }"))
    }

    @Test func wordsWithWhiteSpaceAreRejectedOrEscaped() throws {
        let e = Embeddings(tokens: ["new york", "a%b"], vectors: Matrix(rows: 2, columns: 1, values: [1, 2]))
        let path = TemporaryFile.path(".txt")
        #expect(throws: EmbeddingError.self) { try ExportFormat.word2vec.write(e, to: path) }
        #expect(!FileManager.default.fileExists(atPath: path))
        try ExportFormat.word2vec.write(e, to: path, escapeWhiteSpace: true)
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "2 1\nnew%20york 1.0\na%25b 2.0\n")
    }

    @Test func malformedTextFilesNameTheLine() throws {
        let bad = try TemporaryFile.write("2 3\na 1 2 3\nb 1 x 3\n")
        #expect(throws: EmbeddingError.badFormat(path: bad, reason: "line 3: 'x' is not a finite number")) {
            try VectorFileReader.read(from: bad)
        }
        let short = try TemporaryFile.write("3 2\na 1 2\nb 1 2\n")
        #expect(throws: EmbeddingError.badFormat(path: short, reason: "header promises 3 vectors, file has 2")) {
            try VectorFileReader.read(from: short)
        }
        let ragged = try TemporaryFile.write("a\t1\t2\nb\t1\n")
        #expect(throws: EmbeddingError.self) { try VectorFileReader.read(from: ragged) }
    }
}

@Suite struct NearestNeighbourTests {
    @Test func findsPlantedNeighboursAndAnalogies() throws {
        // Unit-ish vectors on known directions: a and a2 nearly parallel; analogy king - man + woman = queen.
        let tokens = ["a", "a2", "b", "man", "woman", "king", "queen", "far"]
        let values: [Float] = [
            1, 0, 0, 0,
            0.9, 0.1, 0, 0,
            0, 1, 0, 0,
            0, 0, 1, 0,
            0, 0, 1, 1,
            1, 0, 1, 0,
            1, 0, 1, 1,
            -1, -1, -1, -1,
        ]
        let index = NearestNeighbours(Embeddings(tokens: tokens, vectors: Matrix(rows: 8, columns: 4, values: values)))
        let near = try index.nearest(to: "a", k: 2)
        #expect(near.map(\.token) == ["a2", "king"])
        #expect(abs(near[0].similarity - 0.9 / (0.81 + 0.01).squareRoot()) < 1e-5)
        #expect(try index.analogy("man", "king", "woman", k: 1).first?.token == "queen")
        #expect(throws: QueryError.unknownWord("zebra")) { try index.nearest(to: "zebra", k: 3) }
        #expect(try index.nearest(to: "far", k: 100).count == 7)
        #expect(try index.answer("man : king :: woman : ?", k: 1).first?.token == "queen")
        #expect(try index.answer("king - man + woman", k: 1).first?.token == "queen")
        #expect(try index.answer("a", k: 1).first?.token == "a2")
        #expect(throws: QueryError.unknownWord("zebra")) { try index.answer("king - zebra", k: 1) }
    }
}

import Foundation
import SwivelIO
import SwivelLinearAlgebra
import SwivelTestSupport
import Testing
@testable import SwivelEmbeddings

/// Damaged vector files of every format must be rejected with typed errors, never crash.
@Suite struct VectorFuzzTests {
    @Test func mutatedVectorFilesAreRejectedOrRead() throws {
        let e = Embeddings(tokens: ["one", "two", "three"],
                           vectors: Matrix(rows: 3, columns: 4, values: (0..<12).map { Float($0) * 0.37 - 2 }))
        var seed: UInt64 = 10
        for format in [ExportFormat.word2vec, .word2vecBinary, .glove, .tsv, .npy, .bin] {
            let path = TemporaryFile.path("." + format.rawValue)
            try format.write(e, to: path)
            let good = try FileReader.readAll(path)
            seed += 1
            for bytes in Mutations(of: good, seed: seed, defaultCount: 800, name: "vectors") {
                try AtomicFileWriter.write(bytes, to: path)
                do { _ = try VectorFileReader.read(from: path) } catch is EmbeddingError {} catch is FileError {}
            }
        }
        let matrix = TemporaryFile.path(".bin")
        try EmbeddingMatrixFile.write(e.vectors, to: matrix)
        let good = try FileReader.readAll(matrix)
        for bytes in Mutations(of: good, seed: 99, defaultCount: 1500, name: "matrix") where bytes != good {
            #expect(throws: EmbeddingError.self) { try EmbeddingMatrixFile.decodeForTesting(bytes) }
        }
    }
}

extension EmbeddingMatrixFile {
    /// Decodes bytes through a temporary file (the reader works on paths).
    static func decodeForTesting(_ bytes: [UInt8]) throws -> Matrix {
        let path = TemporaryFile.path(".bin")
        try AtomicFileWriter.write(bytes, to: path)
        return try read(from: path)
    }
}

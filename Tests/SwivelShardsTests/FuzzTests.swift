import Foundation
import SwivelIO
import SwivelTestSupport
import SwivelText
import Testing
@testable import SwivelShards

/// Damaged shard files and manifests must be rejected with typed errors, never crash (a crash fails the run).
@Suite struct ShardFuzzTests {
    @Test func mutatedShardsAreRejectedOrDecodedSafely() throws {
        let block = ShardBlock(rowShard: 1, columnShard: 2, rowCount: 5, columnCount: 40,
                               rowStart: [0, 3, 3, 7, 8, 10], columnIndex: [0, 5, 39, 1, 2, 3, 30, 7, 0, 39],
                               values: [1, 0.5, 2, 3, 1e5, 0.25, 7, 1, 2, 0.1])
        let good = try ShardFile.encode(block)
        var rejected = 0, total = 0
        for bytes in Mutations(of: good, seed: 1, defaultCount: 3000, name: "shard") {
            total += 1
            do {
                let decoded = try ShardFile.decode(bytes, path: "fuzz")
                // Anything accepted must satisfy the CSR invariants.
                #expect(decoded.rowStart.count == decoded.rowCount + 1 && Int(decoded.rowStart.last!) == decoded.values.count)
            } catch is ShardError {
                rejected += 1
            }
        }
        #expect(rejected > total * 9 / 10)
    }

    /// Every shard input kept in `Fixtures/fuzz/crashers/` (inputs that once trapped a reader) is refused with a
    /// ``ShardError``; the folder must exist and hold at least the four header traps kept there.
    @Test func regressionCorpusStaysRejected() throws {
        let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Fixtures/fuzz/crashers").path
        let names = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix("shard.input") }
        #expect(names.count >= 4)
        for name in names {
            let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: directory + "/" + name)))
            #expect(throws: ShardError.self) { try ShardFile.decode(bytes, path: name) }
        }
    }

    /// A header with valid checksums but sizes no real shard can have (a huge row count; a payload size no
    /// zlib stream of this length can reach) is refused before anything of that size is allocated.
    @Test func impossibleSizesWithValidChecksumsAreRefused() throws {
        let block = ShardBlock(rowShard: 0, columnShard: 0, rowCount: 2, columnCount: 2,
                               rowStart: [0, 1, 2], columnIndex: [0, 1], values: [1, 2])
        let good = try ShardFile.encode(block)
        /// `good` with the little-endian `value` stored at `offset` and the header CRC made valid again.
        func forged<T: FixedWidthInteger>(_ value: T, at offset: Int) -> [UInt8] {
            var bytes = good
            withUnsafeBytes(of: value.littleEndian) { for (k, b) in $0.enumerated() { bytes[offset + k] = b } }
            withUnsafeBytes(of: Zlib.crc32(Array(bytes[0..<56])).littleEndian) { for (k, b) in $0.enumerated() { bytes[56 + k] = b } }
            return bytes
        }
        #expect(throws: ShardError.self) { try ShardFile.decode(forged(UInt32(0xFFFF_FFF0), at: 20), path: "rows") }
        #expect(throws: ShardError.self) { try ShardFile.decode(forged(UInt64(1) << 40, at: 36), path: "payload size") }
        // Sizes near 2^64 must not overflow the checks: a compressed size past the file's end, and a nonzero count
        // of 2^63 in a block of (2^32 - 1)^2 cells.
        #expect(throws: ShardError.self) { try ShardFile.decode(forged(UInt64.max - 5, at: 44), path: "compressed size") }
        var huge = forged(UInt32.max, at: 20)
        for (offset, value) in [(24, UInt64(UInt32.max)), (28, UInt64(1) << 63)] {
            withUnsafeBytes(of: value.littleEndian) { for (k, b) in $0.prefix(offset == 24 ? 4 : 8).enumerated() { huge[offset + k] = b } }
        }
        withUnsafeBytes(of: Zlib.crc32(Array(huge[0..<56])).littleEndian) { for (k, b) in $0.enumerated() { huge[56 + k] = b } }
        #expect(throws: ShardError.self) { try ShardFile.decode(huge, path: "nonzeros") }
    }

    @Test func mutatedManifestsAreRejectedOrRead() throws {
        let corpus = try TemporaryFile.write("a b c d a b c d e f\nb a d c f e\n")
        let output = TemporaryFile.path()
        var config = PrepConfiguration(inputs: [corpus], output: output)
        config.vocabularyRules = VocabularyRules(minCount: 1)
        config.shardSize = 2
        _ = try PrepPipeline.run(config)
        let good = try FileReader.readAll(output + "/manifest.json")
        for bytes in Mutations(of: good, seed: 2, defaultCount: 1500, name: "manifest") {
            try AtomicFileWriter.write(bytes, to: output + "/manifest.json")
            do {
                let manifest = try Manifest.read(directory: output)
                _ = try MarginalsFile.read(from: output + "/" + manifest.rowSums, expected: manifest.rows)
            } catch is PrepError {
            } catch is FileError {
            }
        }
    }
}

import Testing
@testable import SwivelIO

/// Deterministic bytes: a linear congruential generator mapped through `shape` (state -> byte).
private func bytes(_ count: Int, seed: UInt64, shape: (UInt64) -> UInt8) -> [UInt8] {
    var state = seed
    return (0..<count).map { _ in
        state = state &* 6364136223846793005 &+ 1442695040888963407
        return shape(state >> 11)
    }
}

/// A varint-like skew: byte b drawn with probability ~ 2^-(b/8 + 1), as in a shard payload's small gaps.
private func skewed(_ r: UInt64) -> UInt8 { UInt8(min(255, r.trailingZeroBitCount * 8 + Int(r >> 48) % 8)) }

/// Compresses with ``HuffmanDeflate`` and decompresses with zlib's own `uncompress`.
private func roundTrip(_ input: [UInt8], blockSize: Int = HuffmanDeflate.defaultBlockSize) throws -> [UInt8] {
    let compressed = input.withUnsafeBytes { HuffmanDeflate.compress($0, blockSize: blockSize) }
    let output = try compressed.withUnsafeBytes { try Zlib.decompress($0, size: input.count) }
    #expect(output == input)
    return compressed
}

/// The deflate block type of the stream's first block (0 stored, 1 fixed, 2 dynamic).
private func firstBlockType(_ compressed: [UInt8]) -> Int { Int(compressed[2] >> 1) & 3 }

/// Huffman's optimal cost (sum of frequency x length) for `frequencies`, by repeatedly merging the two smallest.
private func optimalCost(_ frequencies: [UInt32]) -> Int {
    var weights = frequencies.filter { $0 > 0 }.map(Int.init)
    if weights.count < 2 { return weights.reduce(0, +) }
    var cost = 0
    while weights.count > 1 {
        weights.sort(by: >)
        let a = weights.removeLast(), b = weights.removeLast()
        cost += a + b
        weights.append(a + b)
    }
    return cost
}

@Suite struct HuffmanDeflateTests {
    @Test func zlibReadsEveryKindOfInput() throws {
        _ = try roundTrip([])
        _ = try roundTrip([42])
        _ = try roundTrip([UInt8](repeating: 7, count: 100_000))
        _ = try roundTrip((0..<70_000).map { UInt8(truncatingIfNeeded: $0) })
        _ = try roundTrip(bytes(300_000, seed: 1, shape: skewed))
        _ = try roundTrip(bytes(200_000, seed: 2) { UInt8(truncatingIfNeeded: $0) })
        _ = try roundTrip(Array("the quick brown fox jumps over the lazy dog\n".utf8))
    }

    @Test func blocksOfEverySizeAndBoundary() throws {
        let input = bytes(5_000, seed: 3, shape: skewed)
        for blockSize in [1, 2, 3, 4, 5, 7, 100, 1_000, 4_999, 5_000, 5_001, 65_535] {
            _ = try roundTrip(input, blockSize: blockSize)
            _ = try roundTrip(Array(input.prefix(blockSize + 1)), blockSize: blockSize)
        }
    }

    /// Many random inputs: lengths, alphabets, skews and block sizes drawn at random; zlib reads every one.
    @Test func randomInputsRoundTrip() throws {
        var state: UInt64 = 11
        func next() -> UInt64 {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return state >> 11
        }
        for _ in 0..<200 {
            let blockSize = [1, 3, 64, 1_000, 16_384, 65_535][Int(next() % 6)]
            // Every block builds its codes: tiny blocks get short inputs (this test runs unoptimized).
            let length = Int(next() % (blockSize < 64 ? 300 : 20_000))
            let alphabet = 1 + Int(next() % 256)
            let skew = Int(next() % 4)      // 0 uniform; higher: geometric-like
            let input = (0..<length).map { _ -> UInt8 in
                var r = Int(next() % UInt64(alphabet))
                for _ in 0..<skew { r = r * Int(next() % UInt64(alphabet)) / alphabet }
                return UInt8(r)
            }
            _ = try roundTrip(input, blockSize: blockSize)
        }
    }

    @Test func picksStoredFixedOrDynamicByCost() throws {
        // Uniform random bytes cannot be coded shorter than 8 bits: stored, at most 5 bytes per block extra.
        let random = bytes(40_000, seed: 4) { UInt8(truncatingIfNeeded: $0) }
        let stored = try roundTrip(random)
        #expect(firstBlockType(stored) == 0)
        #expect(stored.count <= 2 + random.count + 5 * 3 + 4)
        // Many small stored blocks: the output's worst case against its buffer.
        for blockSize in [1, 16, 64] {
            let tiny = try roundTrip(Array(random.prefix(3_000)), blockSize: blockSize)
            #expect(tiny.count <= 2 + 3_000 + 6 * (3_000 / blockSize) + 4)
        }
        // A short text: the fixed code beats a dynamic code's header and stored's 8 bits a byte.
        #expect(firstBlockType(try roundTrip(Array("hello, hello, hello".utf8))) == 1)
        // Skewed bytes: a dynamic code.
        let skew = try roundTrip(bytes(40_000, seed: 5, shape: skewed))
        #expect(firstBlockType(skew) == 2)
    }

    @Test func asSmallAsZlibsHuffmanOnlyMode() throws {
        for seed: UInt64 in 6...8 {
            let input = bytes(500_000, seed: seed, shape: skewed)
            let ours = try roundTrip(input)
            let zlib = try input.withUnsafeBytes { try Zlib.compress($0, level: 1, strategy: .huffmanOnly) }
            // Both code 16 Ki-byte blocks with optimal length-limited codes: within a few header bytes a block.
            #expect(Double(ours.count) <= Double(zlib.count) * 1.005, "ours \(ours.count), zlib \(zlib.count)")
            #expect(ours.count < input.count * 13 / 20)   // entropy: 2 bits of geometric + 3 uniform = 5 of 8
        }
    }

    @Test func codesAreCompleteAndLimited() throws {
        // Fibonacci frequencies make Huffman's tree as deep as there are symbols: far past 15 bits.
        var fibonacci = [UInt32](repeating: 0, count: 257)
        var (a, b): (UInt32, UInt32) = (1, 1)
        for s in 0..<30 { fibonacci[s] = a; (a, b) = (b, a &+ b) }
        var cases: [[UInt32]] = [fibonacci, [5, 0, 0, 0], [0, 0, 9], [1, 1], [3, 0, 3, 0, 1]]
        var state: UInt64 = 9
        for _ in 0..<200 {
            cases.append((0..<257).map { _ in
                state = state &* 6364136223846793005 &+ 1442695040888963407
                return (state >> 60) < 4 ? 0 : UInt32(state >> 40 & 0xfff) >> UInt32(state >> 33 & 15)
            })
        }
        for frequencies in cases {
            for maxBits in [7, 15] where frequencies.count <= 1 << maxBits {
                let lengths = HuffmanDeflate.codeLengths(frequencies, maxBits: maxBits)
                let kraft = lengths.reduce(0) { $0 + ($1 == 0 ? 0 : 1 << (maxBits - Int($1))) }
                #expect(kraft == 1 << maxBits, "incomplete or oversubscribed: \(lengths)")
                #expect(lengths.allSatisfy { $0 <= maxBits })
                for (f, l) in zip(frequencies, lengths) where f > 0 { #expect(l > 0) }
                let cost = zip(frequencies, lengths).reduce(0) { $0 + Int($1.0) * Int($1.1) }
                let deepest = lengths.max() ?? 0
                if maxBits == 15 && deepest < 15 {
                    #expect(cost == optimalCost(frequencies))   // no limit reached: Huffman's optimum
                }
            }
        }
        // The Fibonacci stream itself round-trips through zlib.
        var input: [UInt8] = []
        for s in 0..<20 { input += [UInt8](repeating: UInt8(s), count: Int(fibonacci[s])) }
        _ = try roundTrip(input, blockSize: 65_535)
    }
}

/// A zlib-format encoder (RFC 1950 around RFC 1951 deflate) that only entropy-codes bytes, as zlib's
/// `Z_HUFFMAN_ONLY` strategy does, several times faster: any zlib `inflate`/`uncompress` reads its output.
///
/// Why it exists: shard payloads are varint streams with no long repeats, so string matching gains nothing and
/// `Z_HUFFMAN_ONLY` is the right coding; but zlib 1.2's Huffman-only path runs at ~85 MB/s here (its bit writer
/// emits 16 bits at a time, one symbol per call), which made it 14% of a whole `swivel prep`. This encoder
/// codes each block of `blockSize` input bytes with its own dynamic Huffman code (lengths limited to 15 bits, as
/// deflate requires), or with the fixed code, or stores it, whichever is shortest, and writes codes through a
/// 64-bit bit buffer three symbols at a time.
///
/// Decoding is zlib's: ``Zlib/decompress(_:size:)``. Output is deterministic: the same input and block size
/// always give the same bytes.
public enum HuffmanDeflate {
    /// Input bytes per deflate block (each block gets its own code). zlib's Huffman-only mode at its default
    /// memory level also starts a new block every 16 Ki symbols.
    public static let defaultBlockSize = 1 << 14

    /// Compresses `input` into a zlib stream: 2-byte header, deflate blocks, Adler-32 of `input` (big-endian).
    ///
    /// - Parameter blockSize: input bytes per block, 1 to 65535 (a stored block holds at most 65535 bytes).
    public static func compress(_ input: UnsafeRawBufferPointer, blockSize: Int = defaultBlockSize) -> [UInt8] {
        precondition(blockSize >= 1 && blockSize <= 65535, "deflate blocks hold 1 to 65535 bytes")
        let n = input.count
        let blocks = max(1, (n + blockSize - 1) / blockSize)
        // No block is longer than stored: 3 header bits, <= 7 padding bits, LEN and NLEN, the bytes. The bit
        // writer stores 8 bytes at a time, so keep 8 bytes of slack past the end.
        let capacity = 2 + n + 6 * blocks + 4 + 8
        return [UInt8](unsafeUninitializedCapacity: capacity) { buffer, count in
            var writer = BitWriter(buffer.baseAddress!)
            writer.out[0] = 0x78   // CM = 8 (deflate), CINFO = 7 (32 KiB window)
            writer.out[1] = 0x01   // FLEVEL = 0 (fastest), no dictionary, FCHECK: 0x7801 % 31 == 0
            writer.at = 2
            var scratch = BlockScratch()
            if n == 0 {
                writer.put(1, 1); writer.put(1, 2)       // final block, fixed code
                writer.put(0, 7)                         // end of block (code 256 = 0000000)
                writer.flush()
            } else {
                let base = input.baseAddress!.assumingMemoryBound(to: UInt8.self)
                var start = 0
                while start < n {
                    let end = min(n, start + blockSize)
                    encodeBlock(base + start, count: end - start, final: end == n, writer: &writer, scratch: &scratch)
                    start = end
                }
            }
            writer.alignToByte()
            let adler = Zlib.adler32(input)
            for shift in [24, 16, 8, 0] as [UInt32] {
                writer.out[writer.at] = UInt8(truncatingIfNeeded: adler >> shift)
                writer.at += 1
            }
            count = writer.at
        }
    }

    /// Writes deflate's bit stream: bits go out least significant first, whole bytes at a time.
    ///
    /// Invariant after ``flush()``: fewer than 8 bits are pending, and they are already stored at `out[at]`;
    /// at most 56 bits may then be put before the next flush.
    struct BitWriter {
        let out: UnsafeMutablePointer<UInt8>
        var at = 0
        var bits: UInt64 = 0
        var pending = 0

        init(_ out: UnsafeMutablePointer<UInt8>) { self.out = out }

        @inline(__always) mutating func put(_ value: UInt64, _ length: Int) {
            bits |= value &<< UInt64(pending)
            pending &+= length
        }

        @inline(__always) mutating func flush() {
            UnsafeMutableRawPointer(out + at).storeBytes(of: bits.littleEndian, as: UInt64.self)
            let whole = pending &>> 3
            at &+= whole
            bits = whole == 8 ? 0 : bits &>> UInt64(whole &* 8)
            pending &= 7
        }

        /// Flushes and pads to a byte boundary (deflate's stored blocks and the stream's end need it).
        mutating func alignToByte() {
            flush()
            if pending > 0 { at += 1; bits = 0; pending = 0 }
        }
    }

    /// Per-compression scratch: histograms and the symbol tables of the current block.
    struct BlockScratch {
        var histogram = [UInt32](repeating: 0, count: 4 * 256)
        var frequencies = [UInt32](repeating: 0, count: 257)
        /// Packed literal codes: bit-reversed code in the low 16 bits, length above (288 entries: the fixed
        /// code is defined over all of deflate's literal/length symbols).
        var table = [UInt32](repeating: 0, count: 288)
        var lengths = [UInt8](repeating: 0, count: 259)
    }

    /// Lengths of deflate's fixed literal/length code (RFC 1951 3.2.6), all 288 symbols.
    static let fixedLengths: [UInt8] = (0..<288).map { s in s < 144 ? 8 : s < 256 ? 9 : s < 280 ? 7 : 8 }

    /// Order in which the code-length code's lengths are sent (RFC 1951 3.2.7).
    static let codeLengthOrder: [Int] = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15]

    private static func encodeBlock(_ bytes: UnsafePointer<UInt8>, count: Int, final: Bool,
                                    writer: inout BitWriter, scratch: inout BlockScratch) {
        // Histogram in four interleaved tables (neighbouring equal bytes would otherwise stall on one counter).
        scratch.histogram.withUnsafeMutableBufferPointer { h in
            h.update(repeating: 0)
            var i = 0
            while i + 4 <= count {
                h[Int(bytes[i])] &+= 1
                h[256 + Int(bytes[i + 1])] &+= 1
                h[512 + Int(bytes[i + 2])] &+= 1
                h[768 + Int(bytes[i + 3])] &+= 1
                i += 4
            }
            while i < count { h[Int(bytes[i])] &+= 1; i += 1 }
            for s in 0..<256 { scratch.frequencies[s] = h[s] &+ h[256 + s] &+ h[512 + s] &+ h[768 + s] }
        }
        scratch.frequencies[256] = 1   // end of block

        // The literal code. Deflate also needs a distance code: like zlib, send two distance codes of 1 bit
        // (complete, never used).
        let literalLengths = codeLengths(scratch.frequencies, maxBits: 15)
        for s in 0..<257 { scratch.lengths[s] = literalLengths[s] }
        scratch.lengths[257] = 1
        scratch.lengths[258] = 1

        // Run-length code the 259 lengths with the code-length alphabet (RFC 1951 3.2.7).
        var runs: [(symbol: UInt8, extra: UInt8, extraBits: UInt8)] = []
        runs.reserveCapacity(259)
        var i = 0
        while i < 259 {
            let length = scratch.lengths[i]
            var run = 1
            while i + run < 259 && scratch.lengths[i + run] == length { run += 1 }
            var left = run
            if length == 0 {
                while left >= 11 { let k = min(left, 138); runs.append((18, UInt8(k - 11), 7)); left -= k }
                if left >= 3 { runs.append((17, UInt8(left - 3), 3)); left = 0 }
            } else {
                runs.append((length, 0, 0)); left -= 1
                while left >= 3 { let k = min(left, 6); runs.append((16, UInt8(k - 3), 2)); left -= k }
            }
            while left > 0 { runs.append((length, 0, 0)); left -= 1 }
            i += run
        }
        var codeLengthFrequencies = [UInt32](repeating: 0, count: 19)
        for r in runs { codeLengthFrequencies[Int(r.symbol)] += 1 }
        let codeLengthLengths = codeLengths(codeLengthFrequencies, maxBits: 7)
        var sentCodeLengths = 19
        while sentCodeLengths > 4 && codeLengthLengths[codeLengthOrder[sentCodeLengths - 1]] == 0 { sentCodeLengths -= 1 }

        // Cost of each way to send the block, in bits.
        var dynamicBits = 3 + 5 + 5 + 4 + 3 * sentCodeLengths
        for r in runs { dynamicBits += Int(codeLengthLengths[Int(r.symbol)]) + Int(r.extraBits) }
        var fixedBits = 3 + 7
        for s in 0..<256 {
            let f = Int(scratch.frequencies[s])
            dynamicBits += f * Int(literalLengths[s])
            fixedBits += f * (s < 144 ? 8 : 9)
        }
        dynamicBits += Int(literalLengths[256])
        let storedBits = 3 + ((8 - (writer.pending + 3) % 8) % 8) + 32 + 8 * count

        if storedBits <= dynamicBits && storedBits <= fixedBits {
            writer.put(final ? 1 : 0, 1); writer.put(0, 2)
            writer.alignToByte()
            let length = UInt16(count)
            for b in [UInt8(length & 0xff), UInt8(length >> 8), UInt8(~length & 0xff), UInt8(~length >> 8)] {
                writer.out[writer.at] = b
                writer.at += 1
            }
            (writer.out + writer.at).initialize(from: bytes, count: count)
            writer.at += count
            return
        }

        if fixedBits < dynamicBits {
            writer.put(final ? 1 : 0, 1); writer.put(1, 2)
            fillTable(&scratch.table, lengths: fixedLengths)
        } else {
            writer.put(final ? 1 : 0, 1); writer.put(2, 2)
            writer.put(0, 5)                                   // HLIT: 257 literal/length codes
            writer.put(1, 5)                                   // HDIST: 2 distance codes
            writer.put(UInt64(sentCodeLengths - 4), 4)         // HCLEN
            writer.flush()
            for k in 0..<sentCodeLengths {
                writer.put(UInt64(codeLengthLengths[codeLengthOrder[k]]), 3)
                writer.flush()
            }
            var codeLengthTable = [UInt32](repeating: 0, count: 19)
            fillTable(&codeLengthTable, lengths: codeLengthLengths)
            for r in runs {
                let entry = codeLengthTable[Int(r.symbol)]
                writer.put(UInt64(entry & 0xffff), Int(entry >> 16))
                writer.put(UInt64(r.extra), Int(r.extraBits))
                writer.flush()
            }
            fillTable(&scratch.table, lengths: literalLengths)
        }

        // The block's bytes, three codes (<= 45 bits) per flush.
        scratch.table.withUnsafeBufferPointer { table in
            var w = writer
            var k = 0
            while k + 3 <= count {
                let a = table[Int(bytes[k])], b = table[Int(bytes[k + 1])], c = table[Int(bytes[k + 2])]
                w.put(UInt64(a & 0xffff), Int(a >> 16))
                w.put(UInt64(b & 0xffff), Int(b >> 16))
                w.put(UInt64(c & 0xffff), Int(c >> 16))
                w.flush()
                k += 3
            }
            while k < count {
                let a = table[Int(bytes[k])]
                w.put(UInt64(a & 0xffff), Int(a >> 16))
                k += 1
            }
            let end = table[256]
            w.put(UInt64(end & 0xffff), Int(end >> 16))
            w.flush()
            writer = w
        }
    }

    /// Canonical deflate codes for `lengths` (RFC 1951 3.2.2), stored bit-reversed (deflate sends a code's
    /// most significant bit first into a least-significant-first stream) with the length in bits 16 and up.
    static func fillTable(_ table: inout [UInt32], lengths: [UInt8]) {
        var lengthCount = [UInt32](repeating: 0, count: 16)
        for l in lengths where l > 0 { lengthCount[Int(l)] += 1 }
        var next = [UInt32](repeating: 0, count: 16)
        var code: UInt32 = 0
        for bits in 1...15 {
            code = (code + lengthCount[bits - 1]) << 1
            next[bits] = code
        }
        for (symbol, l) in lengths.enumerated() {
            guard l > 0 else { table[symbol] = 0; continue }
            let c = next[Int(l)]
            next[Int(l)] += 1
            var r = c   // reverse 16 bits, then keep the top `l`
            r = (r & 0x5555) << 1 | (r >> 1) & 0x5555
            r = (r & 0x3333) << 2 | (r >> 2) & 0x3333
            r = (r & 0x0f0f) << 4 | (r >> 4) & 0x0f0f
            r = (r & 0x00ff) << 8 | (r >> 8) & 0x00ff
            table[symbol] = r >> (16 - UInt32(l)) | UInt32(l) << 16
        }
    }

    /// Lengths of a complete prefix code for `frequencies`, none over `maxBits`: Huffman's code, then, if it
    /// is too deep, codes moved between lengths until the Kraft sum is exactly 1 again (zlib's inflate rejects
    /// incomplete codes). Symbols of frequency 0 get length 0. Fewer than two used symbols are padded with
    /// unused ones (a code needs two), which then get length 1 too.
    static func codeLengths(_ frequencies: [UInt32], maxBits: Int) -> [UInt8] {
        let n = frequencies.count
        precondition(n >= 2 && n <= 1 << 16 && n <= 1 << maxBits, "2 to min(2^16, 2^maxBits) symbols")
        // Leaves sorted by (frequency, symbol): deterministic.
        var leaves: [UInt64] = []
        leaves.reserveCapacity(n)
        for (s, f) in frequencies.enumerated() where f > 0 { leaves.append(UInt64(f) << 16 | UInt64(s)) }
        var pad = 0
        while leaves.count < 2 {
            if frequencies[pad] == 0 { leaves.append(UInt64(pad)) }   // frequency 0, sorts first
            pad += 1
        }
        leaves.sort()
        let m = leaves.count

        // Huffman's tree by two queues: leaves in order, internal nodes made in non-decreasing weight order.
        var weight = [UInt64](repeating: 0, count: 2 * m - 1)
        var parent = [Int](repeating: 0, count: 2 * m - 1)
        for k in 0..<m { weight[k] = leaves[k] >> 16 }
        var nextLeaf = 0, nextNode = m, made = m
        @inline(__always) func takeSmallest() -> Int {
            if nextLeaf < m && (nextNode >= made || weight[nextLeaf] <= weight[nextNode]) {
                nextLeaf += 1; return nextLeaf - 1
            }
            nextNode += 1; return nextNode - 1
        }
        while made < 2 * m - 1 {
            let a = takeSmallest(), b = takeSmallest()
            weight[made] = weight[a] + weight[b]
            parent[a] = made; parent[b] = made
            made += 1
        }
        var depth = [Int](repeating: 0, count: 2 * m - 1)
        for k in stride(from: 2 * m - 3, through: 0, by: -1) { depth[k] = depth[parent[k]] + 1 }

        // Count codes per length, the too-deep ones at maxBits; then restore Kraft sum == 2^maxBits.
        var lengthCount = [Int](repeating: 0, count: maxBits + 1)
        for k in 0..<m { lengthCount[min(depth[k], maxBits)] += 1 }
        let full = 1 << maxBits
        var kraft = 0
        for l in 1...maxBits { kraft += lengthCount[l] << (maxBits - l) }
        while kraft > full {
            // Lengthen the longest code shorter than maxBits: the smallest step down.
            var l = maxBits - 1
            while lengthCount[l] == 0 { l -= 1 }
            lengthCount[l] -= 1; lengthCount[l + 1] += 1
            kraft -= 1 << (maxBits - l - 1)
        }
        while kraft < full {
            // Shorten the longest code whose step up fits in what is missing (a maxBits code always does,
            // and every deficit is a multiple of the longest code's step).
            var l = maxBits
            while lengthCount[l] == 0 || (1 << (maxBits - l)) > full - kraft { l -= 1 }
            lengthCount[l] -= 1; lengthCount[l - 1] += 1
            kraft += 1 << (maxBits - l)
        }

        // Shortest lengths to the most frequent symbols (the end of `leaves`).
        var result = [UInt8](repeating: 0, count: n)
        var k = m - 1
        for l in 1...maxBits {
            for _ in 0..<lengthCount[l] {
                result[Int(leaves[k] & 0xffff)] = UInt8(l)
                k -= 1
            }
        }
        return result
    }
}

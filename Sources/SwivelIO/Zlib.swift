import CZlib

/// Errors from zlib compression and decompression.
public enum ZlibError: Error, CustomStringConvertible, Equatable {
    /// zlib refused or failed an operation; `code` is zlib's return code (e.g. `Z_DATA_ERROR` = -3 for corrupt input).
    case failed(operation: String, code: Int32)
    /// The decompressed data did not have the size the header promised.
    case sizeMismatch(expected: Int, found: Int)

    public var description: String {
        switch self {
        case let .failed(operation, code):
            return "zlib \(operation) failed (zlib code \(code)\(code == Z_DATA_ERROR ? ": corrupt data" : ""))"
        case let .sizeMismatch(expected, found):
            return "decompressed \(found) bytes where \(expected) were expected"
        }
    }
}

/// Whole-buffer zlib compression, decompression and CRC-32, the only Swift file that talks to zlib.
public enum Zlib {
    /// CRC-32 (the zlib/PNG polynomial) of `bytes`, continuing from `initial` (0 for a fresh checksum).
    public static func crc32(_ bytes: UnsafeRawBufferPointer, initial: UInt32 = 0) -> UInt32 {
        checksum(bytes, initial: UInt(initial)) { CZlib.crc32($0, $1, $2) }
    }

    /// CRC-32 of a byte array.
    public static func crc32(_ bytes: [UInt8], initial: UInt32 = 0) -> UInt32 {
        bytes.withUnsafeBytes { crc32($0, initial: initial) }
    }

    /// Adler-32 of `bytes` (RFC 1950's checksum of a zlib stream's uncompressed data).
    public static func adler32(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        checksum(bytes, initial: CZlib.adler32(0, nil, 0)) { CZlib.adler32($0, $1, $2) }
    }

    /// Runs zlib's checksum `update` over `bytes` from `initial`; zlib's length parameter is 32-bit, so large
    /// buffers go in 1 GiB pieces.
    private static func checksum(_ bytes: UnsafeRawBufferPointer, initial: UInt,
                                 _ update: (UInt, UnsafePointer<Bytef>, uInt) -> UInt) -> UInt32 {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return UInt32(truncatingIfNeeded: initial) }
        var sum = initial
        var offset = 0
        while offset < bytes.count {
            let piece = min(bytes.count - offset, 1 << 30)
            sum = update(sum, base.advanced(by: offset).assumingMemoryBound(to: Bytef.self), uInt(piece))
            offset += piece
        }
        return UInt32(truncatingIfNeeded: sum)
    }

    /// How deflate looks for redundancy: `.standard` searches for repeated strings (zlib's default);
    /// `.huffmanOnly` only entropy-codes bytes, 2-3x faster, and compresses varint streams about as well.
    public enum Strategy: Sendable {
        /// zlib's default strategy (string matching plus Huffman coding).
        case standard
        /// Huffman coding only (`Z_HUFFMAN_ONLY`), no string matching.
        case huffmanOnly
    }

    /// Compresses `input` with zlib (RFC 1950) at `level` (1 = fastest, 9 = smallest) with `strategy`.
    ///
    /// swivel's own files are written by ``HuffmanDeflate`` (several times faster); zlib's encoder stays for
    /// the tests, which build files of earlier formats with it and measure ``HuffmanDeflate`` against it.
    public static func compress(_ input: UnsafeRawBufferPointer, level: Int32 = 1, strategy: Strategy = .standard) throws -> [UInt8] {
        precondition(input.count < Int(UInt32.max), "zlib buffers are limited to 4 GiB")
        var stream = z_stream()
        let zStrategy = strategy == .huffmanOnly ? Z_HUFFMAN_ONLY : Z_DEFAULT_STRATEGY
        var code = swivel_deflateInit2(&stream, level, zStrategy)
        guard code == Z_OK else { throw ZlibError.failed(operation: "compress", code: code) }
        defer { deflateEnd(&stream) }
        let bound = Int(deflateBound(&stream, uLong(input.count)))
        var output = [UInt8](repeating: 0, count: bound)
        let empty: [Bytef] = [0]
        code = output.withUnsafeMutableBufferPointer { out -> Int32 in
            empty.withUnsafeBufferPointer { emptyPtr in
                stream.next_in = UnsafeMutablePointer(mutating: input.baseAddress?.assumingMemoryBound(to: Bytef.self) ?? emptyPtr.baseAddress)
                stream.avail_in = uInt(input.count)
                stream.next_out = out.baseAddress
                stream.avail_out = uInt(bound)
                return deflate(&stream, Z_FINISH)
            }
        }
        guard code == Z_STREAM_END else { throw ZlibError.failed(operation: "compress", code: code) }
        output.removeLast(bound - Int(stream.total_out))
        return output
    }

    /// Decompresses a zlib stream whose decompressed size is known to be exactly `size` bytes.
    public static func decompress(_ input: UnsafeRawBufferPointer, size: Int) throws -> [UInt8] {
        var output = [UInt8](repeating: 0, count: max(size, 1))
        var destLength = uLongf(size)
        let code = output.withUnsafeMutableBufferPointer { out -> Int32 in
            guard let source = input.baseAddress?.assumingMemoryBound(to: Bytef.self) else { return Z_DATA_ERROR }
            return uncompress(out.baseAddress, &destLength, source, uLong(input.count))
        }
        guard code == Z_OK else { throw ZlibError.failed(operation: "decompress", code: code) }
        guard Int(destLength) == size else { throw ZlibError.sizeMismatch(expected: size, found: Int(destLength)) }
        if size == 0 { output.removeAll() }
        return output
    }
}

/// Appends fixed-width little-endian integers and floats to a byte array (for file headers and payloads).
public struct ByteWriter {
    /// The bytes written so far.
    public private(set) var bytes: [UInt8] = []

    /// Creates an empty writer, reserving `capacity` bytes.
    public init(capacity: Int = 0) { bytes.reserveCapacity(capacity) }

    /// Appends raw bytes.
    public mutating func append(_ raw: [UInt8]) { bytes.append(contentsOf: raw) }

    /// Appends the bytes of a buffer (e.g. an array of floats, in memory order).
    public mutating func append(contentsOf raw: UnsafeRawBufferPointer) { bytes.append(contentsOf: raw) }

    /// Appends an integer in little-endian byte order.
    public mutating func append<T: FixedWidthInteger>(_ value: T) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    /// Appends `bytes` after a varint of their count (read back with ``ByteReader/readCountedBytes()``).
    public mutating func appendCounted<C: Collection>(_ bytes: C) where C.Element == UInt8 {
        appendVarint(UInt64(bytes.count))
        self.bytes.append(contentsOf: bytes)
    }

    /// Appends an unsigned LEB128 varint (7 bits a byte, low bits first).
    public mutating func appendVarint(_ value: UInt64) {
        var v = value
        while v >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }
}

/// Reads fixed-width little-endian values from a byte buffer, throwing instead of reading past the end.
public struct ByteReader {
    /// Thrown when a read would pass the end of the buffer or a varint is malformed.
    public struct OutOfBounds: Error {}

    private let bytes: UnsafeRawBufferPointer
    /// Offset of the next byte to read.
    public private(set) var offset: Int

    /// Reads from `bytes`, starting at `offset`. The buffer must outlive the reader.
    public init(_ bytes: UnsafeRawBufferPointer, offset: Int = 0) {
        self.bytes = bytes
        self.offset = offset
    }

    /// Bytes left to read.
    public var remaining: Int { bytes.count - offset }

    /// Reads an integer stored in little-endian byte order.
    public mutating func read<T: FixedWidthInteger>(_: T.Type = T.self) throws -> T {
        let size = MemoryLayout<T>.size
        guard remaining >= size else { throw OutOfBounds() }
        let value = bytes.loadUnaligned(fromByteOffset: offset, as: T.self)
        offset += size
        return T(littleEndian: value)
    }

    /// Reads bytes written by ``ByteWriter/appendCounted(_:)``: a varint count, then that many bytes (a view
    /// into the reader's buffer).
    public mutating func readCountedBytes() throws -> UnsafeRawBufferPointer {
        let count = try readVarint()
        guard count <= UInt64(remaining) else { throw OutOfBounds() }
        defer { offset += Int(count) }
        return UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + Int(count))])
    }

    /// Reads an unsigned LEB128 varint of at most 10 bytes.
    @inline(__always)
    public mutating func readVarint() throws -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard offset < bytes.count, shift < 64 else { throw OutOfBounds() }
            let byte = bytes[offset]
            offset += 1
            result |= UInt64(byte & 0x7F) << shift
            if byte < 0x80 { return result }
            shift += 7
        }
    }
}

/// LEB128 varints written straight into memory the caller has sized (at most 10 bytes a value), and read back
/// from memory the process wrote itself: for encoders that know a bound on their output and write millions of
/// values (shards, in-memory runs). Bytes from files go through ``ByteReader``, which checks every read.
public enum UnsafeVarint {
    /// Writes `value` at `out[at...]` and advances `at` past it.
    @inlinable @inline(__always)
    public static func write(_ value: UInt64, to out: UnsafeMutablePointer<UInt8>, at: inout Int) {
        var v = value
        while v >= 0x80 {
            out[at] = UInt8(truncatingIfNeeded: v) | 0x80
            at += 1
            v >>= 7
        }
        out[at] = UInt8(v)
        at += 1
    }

    /// Reads the varint at `bytes[at...]`, written by ``write(_:to:at:)``, and advances `at` past it.
    @inlinable @inline(__always)
    public static func read(from bytes: UnsafePointer<UInt8>, at: inout Int) -> UInt64 {
        var value: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            let byte = bytes[at]
            at += 1
            value |= UInt64(byte & 0x7F) << shift
            if byte < 0x80 { return value }
            shift += 7
        }
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import SwivelIO
import SwivelLinearAlgebra
import SwivelText

/// Why a model cannot be written as a fastText `.bin`, or why a file cannot be read as one.
public enum FastTextModelError: Error, CustomStringConvertible, Equatable {
    /// The word cannot be stored in fastText's dictionary: it is empty, or holds a NUL byte (which ends a word in
    /// the file) or white space (fastText splits the words it is asked about at white space, so it could never
    /// be looked up). Rename or drop the word.
    case unstorableWord(word: String, reason: String)
    /// The word occurs twice; a fastText dictionary holds each word once.
    case duplicateWord(word: String)
    /// The model's parts disagree (shapes, counts, bucket ids); `reason` says which.
    case invalidModel(reason: String)
    /// The file does not start with fastText's magic number 793712314.
    case badMagic(path: String, found: Int32)
    /// The file is a fastText model of a format version other than 12 (fastText 0.9).
    case unsupportedVersion(path: String, version: Int32)
    /// The file ends before the model does: `needed` bytes at least, `found` in the file.
    case truncated(path: String, needed: Int64, found: Int64)
    /// The model was compressed with `fasttext quantize` (a `.ftz`); only full models can be read.
    case quantized(path: String)
    /// A fastText model of a kind this reader does not take (a supervised classifier, invalid UTF-8 words).
    case unsupported(path: String, reason: String)
    /// The file's header and contents disagree.
    case corrupt(path: String, reason: String)

    public var description: String {
        switch self {
        case let .unstorableWord(word, reason):
            return "the word \"\(word)\" cannot be stored in a fastText model: it \(reason)"
        case let .duplicateWord(word): return "the word \"\(word)\" occurs twice; a fastText dictionary holds each word once"
        case let .invalidModel(reason): return "cannot write a fastText model: \(reason)"
        case let .badMagic(path, found):
            return "\(path): not a fastText model (magic number \(found), expected \(FastTextModelFile.magic))"
        case let .unsupportedVersion(path, version):
            return "\(path): fastText format version \(version) is not supported (only \(FastTextModelFile.version), fastText 0.9)"
        case let .truncated(path, needed, found):
            return "\(path): file is truncated (needs at least \(needed) bytes, has \(found))"
        case let .quantized(path):
            return "\(path): a quantized fastText model (.ftz) cannot be read; use the full .bin model"
        case let .unsupported(path, reason): return "\(path): \(reason)"
        case let .corrupt(path, reason): return "\(path): \(reason)"
        }
    }
}


/// Writes and reads fastText's binary model format (`.bin`, format version 12, fastText 0.9), which the
/// `fasttext` tool and gensim's `load_facebook_model` / `load_facebook_vectors` load.
///
/// Layout, all little-endian (fastText `FastText::saveModel`: `signModel`, `Args::save`, `Dictionary::save`,
/// `DenseMatrix::save`):
/// ```
/// int32 magic 793712314, int32 version 12
/// args:  int32 dim, ws, epoch, minCount, neg, wordNgrams (1), loss (2 = ns), model (2 = skipgram),
///        bucket, minn, maxn, lrUpdateRate (100); float64 t (1e-4)
/// dict:  int32 size, nwords, nlabels (0); int64 ntokens (sum of counts), pruneidx_size (-1: not pruned;
///        fastText refuses a full model whose dictionary is pruned); per word: UTF-8 bytes, NUL,
///        int64 count, int8 type (0 = word); no pruneidx pairs
/// uint8 quant_input (0); int64 rows (nwords + bucket), int64 cols (dim); rows x cols float32, row-major
/// uint8 qout (0);        int64 rows (nwords),          int64 cols (dim); rows x cols float32
/// ```
/// The file ends there (gensim checks that it does).
public enum FastTextModelFile {
    /// fastText's `FASTTEXT_FILEFORMAT_MAGIC_INT32`.
    public static let magic: Int32 = 793_712_314
    /// fastText's `FASTTEXT_VERSION` since 0.9 (12, "Version 1b").
    public static let version: Int32 = 12
    /// fastText's `loss_name::ns` and `model_name::sg` (enums from 1: hs, ns, ...; cbow, sg, sup).
    static let negativeSamplingLoss: Int32 = 2, skipgramModel: Int32 = 2
    /// fastText's defaults for settings swivel does not have: word n-grams 1, learning-rate update rate 100,
    /// sampling threshold 1e-4.
    static let wordNgrams: Int32 = 1, learningRateUpdateRate: Int32 = 100, samplingThreshold = 1e-4
    /// Not pruned (`Dictionary::pruneidx_size_`'s initial value).
    static let unpruned: Int64 = -1

    /// Bytes that end a word when fastText reads text (`Dictionary::readWord`): space, `\n`, `\r`, `\t`, `\v`,
    /// `\f`, NUL.
    static func isSeparator(_ byte: UInt8) -> Bool {
        byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09 || byte == 0x0B || byte == 0x0C || byte == 0
    }

    /// Writes `model` to `path` atomically. The bucket rows are streamed: absent buckets are written as zero rows
    /// from a small buffer, so a 2,000,000 x 300 input matrix is never built in memory.
    /// Throws ``FastTextModelError`` when ``FastTextModel/validate()`` refuses the model, `FileError` on I/O.
    public static func write(_ model: FastTextModel, to path: String) throws {
        try model.validate()
        let n = model.words.count, d = model.dimension
        var head = ByteWriter(capacity: 1 << 16)
        head.append(magic)
        head.append(version)
        for value in [d, model.window, model.epochs, model.minCount, model.negatives] { head.append(Int32(value)) }
        head.append(wordNgrams)
        head.append(negativeSamplingLoss)
        head.append(skipgramModel)
        for value in [model.scheme.buckets, model.scheme.minN, model.scheme.maxN] { head.append(Int32(value)) }
        head.append(learningRateUpdateRate)
        head.append(samplingThreshold.bitPattern)
        head.append(Int32(n))
        head.append(Int32(n))
        head.append(Int32(0))
        head.append(model.counts.reduce(0, +))   // validate() checked that this cannot overflow
        head.append(unpruned)
        for (word, count) in zip(model.words, model.counts) {
            head.append(Array(word.utf8))
            head.append(UInt8(0))
            head.append(count)
            head.append(Int8(0))
        }
        head.append(UInt8(0))
        head.append(Int64(n + model.scheme.buckets))
        head.append(Int64(d))
        let writer = try AtomicFileWriter(path: path)
        try writer.write(head.bytes)
        try writer.writeRaw(model.wordRows.values)
        try writeBucketRows(model, to: writer)
        var tail = ByteWriter()
        tail.append(UInt8(0))
        tail.append(Int64(n))
        tail.append(Int64(d))
        try writer.write(tail.bytes)
        try writer.writeRaw(model.outputRows.values)
        try writer.commit()
    }

    /// Writes all `scheme.buckets` bucket rows: each run of consecutive held buckets straight from `bucketRows`,
    /// each gap from a buffer of about 1 MiB of zeros.
    private static func writeBucketRows(_ model: FastTextModel, to writer: AtomicFileWriter) throws {
        let d = model.dimension, ids = model.bucketIDs
        let zeroRows = max(1, (1 << 18) / d)
        let zeros = [Float](repeating: 0, count: zeroRows * d)
        func writeZeroRows(_ count: Int) throws {
            var left = count
            while left > 0 {
                let rows = min(left, zeroRows)
                try zeros.withUnsafeBytes { try writer.write(UnsafeRawBufferPointer(rebasing: $0[0..<(rows * d * 4)])) }
                left -= rows
            }
        }
        var next = 0
        try model.bucketRows.values.withUnsafeBytes { rows in
            var k = 0
            while k < ids.count {
                var end = k + 1
                while end < ids.count && ids[end] == ids[end - 1] + 1 { end += 1 }
                try writeZeroRows(Int(ids[k]) - next)
                try writer.write(UnsafeRawBufferPointer(rebasing: rows[(k * d * 4)..<(end * d * 4)]))
                next = Int(ids[end - 1]) + 1
                k = end
            }
        }
        try writeZeroRows(model.scheme.buckets - next)
    }

    /// Reads a fastText `.bin` (swivel's or fastText's own, format version 12) front to back, never holding more
    /// than the model and a 1 MiB buffer. Bucket rows that are all zero are dropped from `bucketIDs` (they change
    /// no vector). Loss and model type are not kept; `counts` are as stored.
    /// Throws ``FastTextModelError`` (bad magic, other version, truncated, quantized, supervised, corrupt) naming
    /// `path`, and `FileError` when the file cannot be opened or read.
    public static func read(from path: String) throws -> FastTextModel {
        let file = try SequentialFile(path: path)
        func corrupt(_ reason: String) -> FastTextModelError { .corrupt(path: path, reason: reason) }
        let foundMagic = try file.read(Int32.self)
        guard foundMagic == magic else { throw FastTextModelError.badMagic(path: path, found: foundMagic) }
        let foundVersion = try file.read(Int32.self)
        guard foundVersion == version else { throw FastTextModelError.unsupportedVersion(path: path, version: foundVersion) }
        var args = [Int](repeating: 0, count: 12)   // dim ws epoch minCount neg wordNgrams loss model bucket minn maxn lrUpdateRate
        for k in args.indices { args[k] = Int(try file.read(Int32.self)) }
        _ = try file.read(UInt64.self)   // t
        let (d, buckets, minN, maxN) = (args[0], args[8], args[9], args[10])
        let scheme = SubwordScheme(minN: minN, maxN: maxN, buckets: buckets)
        guard d > 0, buckets >= 0, scheme.problem == nil || (maxN == 0 && buckets == 0) else {
            throw corrupt("impossible settings: dim \(d), bucket \(buckets), minn \(minN), maxn \(maxN)")
        }
        let size = Int(try file.read(Int32.self)), n = Int(try file.read(Int32.self)), labels = try file.read(Int32.self)
        guard labels == 0 else {
            throw FastTextModelError.unsupported(path: path, reason: "a supervised fastText model (\(labels) labels) has no word vectors to read")
        }
        guard n >= 0, size == n else { throw corrupt("dictionary of \(size) entries but \(n) words") }
        _ = try file.read(Int64.self)   // ntokens
        let pruned = try file.read(Int64.self)
        guard pruned == unpruned else {
            // Only `fasttext quantize -cutoff` prunes a dictionary; fastText refuses a full model that is pruned.
            if pruned >= 0 { throw FastTextModelError.quantized(path: path) }
            throw corrupt("pruned-index size \(pruned)")
        }
        guard Int64(n) * 10 <= file.remaining else {   // each entry: at least a NUL, an int64 count and a type byte
            throw FastTextModelError.truncated(path: path, needed: file.offset + Int64(n) * 10, found: file.size)
        }
        var words: [String] = [], counts: [Int64] = []
        words.reserveCapacity(n)
        counts.reserveCapacity(n)
        for i in 0..<n {
            let bytes = try file.readThroughNul()
            guard let word = String(validating: bytes, as: UTF8.self) else {
                throw FastTextModelError.unsupported(path: path, reason: "word \(i) is not valid UTF-8")
            }
            words.append(word)
            counts.append(try file.read(Int64.self))
            guard try file.read(Int8.self) == 0 else { throw corrupt("entry \(i) (\"\(word)\") is not a word") }
        }
        guard try file.read(UInt8.self) == 0 else { throw FastTextModelError.quantized(path: path) }
        try readMatrixHead(file, rows: n + buckets, columns: d, name: "input", path: path)
        var wordValues = [Float](repeating: 0, count: n * d)
        try wordValues.withUnsafeMutableBytes { try file.read(into: $0) }
        var bucketIDs: [Int32] = [], bucketValues: [Float] = []
        let chunkRows = min(max(1, (1 << 18) / d), buckets)   // at most what the size check allowed
        var chunk = [Float](repeating: 0, count: chunkRows * d)
        var bucket = 0
        while bucket < buckets {
            let rows = min(chunkRows, buckets - bucket)
            try chunk.withUnsafeMutableBytes { try file.read(into: UnsafeMutableRawBufferPointer(rebasing: $0[0..<(rows * d * 4)])) }
            for r in 0..<rows where chunk[(r * d)..<((r + 1) * d)].contains(where: { $0 != 0 }) {
                bucketIDs.append(Int32(bucket + r))
                bucketValues.append(contentsOf: chunk[(r * d)..<((r + 1) * d)])
            }
            bucket += rows
        }
        _ = try file.read(UInt8.self)   // qout: fastText reads the output matrix dense whenever the input is
        try readMatrixHead(file, rows: n, columns: d, name: "output", path: path)
        var outputValues = [Float](repeating: 0, count: n * d)
        try outputValues.withUnsafeMutableBytes { try file.read(into: $0) }
        guard file.remaining == 0 else { throw corrupt("\(file.remaining) unexpected bytes after the output matrix") }
        return FastTextModel(
            words: words, counts: counts, scheme: scheme,
            wordRows: Matrix(rows: n, columns: d, values: wordValues),
            bucketIDs: bucketIDs, bucketRows: Matrix(rows: bucketIDs.count, columns: d, values: bucketValues),
            outputRows: Matrix(rows: n, columns: d, values: outputValues),
            window: args[1], epochs: args[2], minCount: args[3], negatives: args[4])
    }

    /// Reads a matrix's `int64 rows, int64 cols` and checks them against the header and the bytes left.
    private static func readMatrixHead(_ file: SequentialFile, rows: Int, columns: Int, name: String, path: String) throws {
        let foundRows = try file.read(Int64.self), foundColumns = try file.read(Int64.self)
        guard foundRows == Int64(rows), foundColumns == Int64(columns) else {
            throw FastTextModelError.corrupt(path: path, reason: "\(name) matrix is \(foundRows) x \(foundColumns), the header says \(rows) x \(columns)")
        }
        let (bytes, overflow) = Int64(rows).multipliedReportingOverflow(by: Int64(columns) * 4)
        let (needed, beyond) = file.offset.addingReportingOverflow(bytes)
        guard !overflow, !beyond, needed <= file.size else {
            throw FastTextModelError.truncated(path: path, needed: overflow || beyond ? Int64.max : needed, found: file.size)
        }
    }
}

/// `read(2)`, named apart from ``SequentialFile``'s own `read` methods.
private func readDescriptor(_ descriptor: Int32, _ destination: UnsafeMutableRawPointer, _ count: Int) -> Int {
    read(descriptor, destination, count)
}

/// A file read front to back through a 1 MiB buffer; reading past its end throws
/// ``FastTextModelError/truncated(path:needed:found:)``.
private final class SequentialFile {
    let path: String
    /// Size of the file in bytes, when opened.
    let size: Int64
    /// File offset of the next byte to read.
    private(set) var offset: Int64 = 0
    private let descriptor: Int32
    private var buffer = [UInt8](repeating: 0, count: 1 << 20)
    private var start = 0, end = 0   // unread bytes: buffer[start..<end]

    init(path: String) throws {
        self.path = path
        descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw FileError.cannotOpen(path: path, reason: systemErrorMessage()) }
        var info = stat()
        guard fstat(descriptor, &info) == 0 else {
            let reason = systemErrorMessage()
            close(descriptor)
            throw FileError.ioFailed(path: path, reason: reason)
        }
        guard (info.st_mode & S_IFMT) != S_IFDIR else {
            close(descriptor)
            throw FileError.cannotOpen(path: path, reason: "is a directory")
        }
        size = Int64(info.st_size)
    }

    deinit { close(descriptor) }

    /// Bytes between the read position and the end of the file.
    var remaining: Int64 { size - offset }

    /// Reads up to `count` bytes into `destination`; 0 at the end of the file.
    private func readSome(_ destination: UnsafeMutableRawPointer, _ count: Int) throws -> Int {
        while true {
            let got = readDescriptor(descriptor, destination, count)
            if got >= 0 { return got }
            if errno != EINTR { throw FileError.ioFailed(path: path, reason: "read failed: \(systemErrorMessage())") }
        }
    }

    /// Makes at least `count` (at most the buffer's size) unread bytes available in the buffer.
    private func fill(_ count: Int) throws {
        guard end - start < count else { return }
        try buffer.withUnsafeMutableBytes { raw in
            if start > 0 {
                raw.baseAddress!.copyMemory(from: raw.baseAddress! + start, byteCount: end - start)
                end -= start
                start = 0
            }
            while end < count {
                let got = try readSome(raw.baseAddress! + end, raw.count - end)
                guard got > 0 else { throw FastTextModelError.truncated(path: path, needed: offset + Int64(count), found: size) }
                end += got
            }
        }
    }

    /// Reads a little-endian integer.
    func read<T: FixedWidthInteger>(_: T.Type) throws -> T {
        let width = MemoryLayout<T>.size
        try fill(width)
        let value = buffer.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: start, as: T.self) }
        start += width
        offset += Int64(width)
        return T(littleEndian: value)
    }

    /// Reads the bytes before the next NUL, and the NUL.
    func readThroughNul() throws -> [UInt8] {
        var bytes: [UInt8] = []
        while true {
            try fill(1)
            let nul = buffer[start..<end].firstIndex(of: 0)
            bytes.append(contentsOf: buffer[start..<(nul ?? end)])
            let used = (nul ?? end) - start + (nul == nil ? 0 : 1)
            start += used
            offset += Int64(used)
            if nul != nil { return bytes }
        }
    }

    /// Fills `destination` with the next bytes: first what the buffer holds, then straight from the file.
    func read(into destination: UnsafeMutableRawBufferPointer) throws {
        guard let base = destination.baseAddress else { return }
        let buffered = min(end - start, destination.count)
        buffer.withUnsafeBytes { base.copyMemory(from: $0.baseAddress! + start, byteCount: buffered) }
        start += buffered
        var filled = buffered
        while filled < destination.count {
            let got = try readSome(base + filled, destination.count - filled)
            guard got > 0 else {
                throw FastTextModelError.truncated(path: path, needed: offset + Int64(destination.count), found: size)
            }
            filled += got
        }
        offset += Int64(destination.count)
    }
}

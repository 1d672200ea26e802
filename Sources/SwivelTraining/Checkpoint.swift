import Foundation
import SwivelIO
import SwivelShards

/// Where a run is in its schedule: enough, with the parameters and optimizer state, to continue it exactly.
///
/// The block order of an epoch is a pure function of (seed, epoch), so the position is three numbers:
/// ensemble members finished, epochs of the current member finished, waves of its current epoch finished.
public struct TrainingPosition: Codable, Equatable, Sendable {
    /// Ensemble members finished and added to the mean (always 0 for a one-member run). A checkpoint never holds
    /// all of them: the last member's final checkpoint is taken before it is added, which a resumed run redoes.
    public var membersDone = 0
    /// Epochs of the current member finished.
    public var epochsDone = 0
    /// Waves of epoch `epochsDone + 1` finished.
    public var wavesDone = 0
    /// Loss summed over those waves' blocks.
    public var epochLoss: Double = 0
    /// Cells in those waves' blocks.
    public var epochCells: Double = 0
    /// Records of the finished epochs.
    public var log: [EpochRecord] = []
    /// Training seconds spent before this process started (by runs this one resumes).
    public var secondsBefore: Double = 0

    /// The start of a run.
    public init() {}

    enum CodingKeys: String, CodingKey {
        case membersDone, epochsDone, wavesDone, epochLoss, epochCells, log, secondsBefore
    }

    /// Decodes a position; checkpoints written before ensembles have no `membersDone` (0).
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        membersDone = try c.decodeIfPresent(Int.self, forKey: .membersDone) ?? 0
        epochsDone = try c.decode(Int.self, forKey: .epochsDone)
        wavesDone = try c.decode(Int.self, forKey: .wavesDone)
        epochLoss = try c.decode(Double.self, forKey: .epochLoss)
        epochCells = try c.decode(Double.self, forKey: .epochCells)
        log = try c.decode([EpochRecord].self, forKey: .log)
        secondsBefore = try c.decode(Double.self, forKey: .secondsBefore)
    }
}

/// The description part of a checkpoint file.
struct CheckpointDescription: Codable {
    var format = "swivel-checkpoint"
    var formatVersion = 1
    /// The prep directory trained on, as given to `swivel train`.
    var prepDirectory: String
    /// ``ShardSetIdentity`` of that prep directory when training started.
    var shardSetIdentity: String
    var configuration: TrainingConfiguration
    var position: TrainingPosition
    var rows: Int
    var columns: Int
}

/// Errors reading or using a checkpoint.
public enum CheckpointError: Error, CustomStringConvertible, Equatable {
    /// There is no checkpoint to resume from.
    case missing(directory: String)
    /// The file is damaged, truncated or foreign.
    case corrupt(path: String, reason: String)
    /// The prep directory changed since the checkpoint was written.
    case shardsChanged(prepDirectory: String, expected: String, found: String)
    /// Options given with `--resume` differ from the checkpoint's.
    case incompatible(differences: [String])

    public var description: String {
        switch self {
        case let .missing(directory):
            return "\(directory): no checkpoint to resume from (\(Checkpoint.fileName) is missing)"
        case let .corrupt(path, reason): return "\(path): \(reason)"
        case let .shardsChanged(prep, expected, found):
            return "\(prep): the shards differ from the ones this run was trained on (manifest, marginals or shard files changed) (identity \(found), checkpoint has \(expected)); resume refused"
        case let .incompatible(differences):
            return "cannot resume with different settings: " + differences.joined(separator: "; ")
        }
    }
}

/// A checkpoint of a training run: configuration, schedule position, embeddings and optimizer state.
///
/// Byte layout (little-endian): magic `SWVCKPT1` (8 bytes), format version (u32), description length `n`
/// (u32), the description as `n` bytes of JSON, then float32 arrays: row embeddings, column embeddings,
/// row accumulator, column accumulator, (RMSProp only) row and column momentum, and (ensembles only) the
/// ensemble's row and column sums; last, the CRC-32 of every
/// byte before it (u32). Written to a temporary file, fsynced and renamed, so the previous checkpoint stays
/// intact until the new one is complete.
public enum Checkpoint {
    /// File name inside the model directory.
    public static let fileName = "checkpoint.swvc"
    static let magic: [UInt8] = Array("SWVCKPT1".utf8)

    /// A consistent copy of a run's state, taken between waves, that can be written while training goes on.
    struct Snapshot: @unchecked Sendable {
        var description: CheckpointDescription
        /// A copy of ``Trainer/stateMatrices``, in order.
        var state: StateCopy
    }

    /// Memory for a copy of ``Trainer/stateMatrices`` (16 V d bytes with AdaGrad, 24 V d in an ensemble), allocated once per
    /// ``Trainer/train(progress:checkpoints:onEpoch:)`` and reused by its checkpoints: fresh arrays would be
    /// zeroed by the kernel page by page at each checkpoint (perf: 2% of the CPU of a 2-epoch run that wrote
    /// one checkpoint per epoch).
    final class StateCopy: @unchecked Sendable {
        /// One buffer per state matrix, `rows x dimension` floats each.
        let buffers: [UnsafeMutableBufferPointer<Float>]

        init(shapesOf matrices: [ParameterMatrix]) {
            buffers = matrices.map { .allocate(capacity: $0.rows * $0.dimension) }
        }

        /// Whether the buffers have the sizes of `matrices`.
        func fits(_ matrices: [ParameterMatrix]) -> Bool {
            buffers.count == matrices.count
                && zip(buffers, matrices).allSatisfy { $0.count == $1.rows * $1.dimension }
        }

        deinit { for buffer in buffers { buffer.deallocate() } }
    }

    /// Copies the state of `trainer` at `position` (about as fast as memcpy) into `reusing` when it fits (its
    /// previous snapshot must be written by then), else into new memory.
    static func snapshot(_ trainer: Trainer, position: TrainingPosition, reusing: StateCopy?) -> Snapshot {
        let description = CheckpointDescription(prepDirectory: trainer.prepDirectory,
                                                shardSetIdentity: trainer.shardSetIdentity,
                                                configuration: trainer.config, position: position,
                                                rows: trainer.manifest.rows, columns: trainer.manifest.columns)
        let matrices = trainer.stateMatrices
        let state = reusing.flatMap { $0.fits(matrices) ? $0 : nil } ?? StateCopy(shapesOf: matrices)
        for (buffer, matrix) in zip(state.buffers, matrices) {
            buffer.baseAddress!.update(from: matrix.storage, count: buffer.count)
        }
        return Snapshot(description: description, state: state)
    }

    /// Writes `snapshot` into `directory` atomically (temporary file, fsync, rename).
    static func write(_ snapshot: Snapshot, to directory: String) throws {
        let json = [UInt8](try JSONEncoder().encode(snapshot.description))
        var header = ByteWriter()
        header.append(magic)
        header.append(UInt32(1))
        header.append(UInt32(json.count))
        header.append(json)
        let writer = try AtomicFileWriter(path: directory + "/" + fileName)
        var crc = Zlib.crc32(header.bytes)
        try writer.write(header.bytes)
        for buffer in snapshot.state.buffers {
            let bytes = UnsafeRawBufferPointer(buffer)
            crc = Zlib.crc32(bytes, initial: crc)
            try writer.write(bytes)
        }
        var tail = ByteWriter()
        tail.append(crc)
        try writer.write(tail.bytes)
        try writer.commit()
    }

    /// Reads and validates the checkpoint in `directory`: its description and its raw state arrays.
    static func read(directory: String) throws -> (CheckpointDescription, [UInt8], Int) {
        let path = directory + "/" + fileName
        guard FileReader.exists(path) else { throw CheckpointError.missing(directory: directory) }
        let bytes = try FileReader.readAll(path)
        func corrupt(_ reason: String) -> CheckpointError { .corrupt(path: path, reason: reason) }
        guard bytes.count >= 20, bytes.starts(with: magic) else { throw corrupt("not a swivel checkpoint (bad magic bytes)") }
        let stored = bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: bytes.count - 4, as: UInt32.self) }
        guard bytes.withUnsafeBytes({ Zlib.crc32(UnsafeRawBufferPointer(rebasing: $0[0..<(bytes.count - 4)])) }) == UInt32(littleEndian: stored) else {
            throw corrupt("CRC-32 does not match: the checkpoint is damaged or truncated")
        }
        let (version, length) = bytes.withUnsafeBytes { raw in
            (UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 8, as: UInt32.self)),
             UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 12, as: UInt32.self)))
        }
        guard version == 1 else { throw corrupt("checkpoint version \(version) is not supported") }
        guard 16 + Int(length) <= bytes.count - 4 else { throw corrupt("description runs past the end of the file") }
        let description: CheckpointDescription
        do {
            description = try JSONDecoder().decode(CheckpointDescription.self, from: Data(bytes[16..<(16 + Int(length))]))
        } catch {
            throw corrupt("description is not valid (\(error))")
        }
        return (description, bytes, 16 + Int(length))
    }
}

/// A fingerprint of a prep directory's contents: CRC-32 over `manifest.json`, the marginal files and every
/// shard file's header (which holds the CRC-32 of its payload). Cheap to compute; changes when any shard does.
public enum ShardSetIdentity {
    /// The fingerprint of the prep directory `directory` described by `manifest`, as 8 hex digits. Every shard's
    /// header is checked on the way (``ShardFile/header(_:fileSize:path:)``) against the manifest's entry and
    /// layouts, so a missing, truncated or foreign shard is refused before training starts.
    public static func compute(directory: String, manifest: Manifest) throws -> String {
        var crc: UInt32 = 0
        for name in ["manifest.json", manifest.rowSums, manifest.columnSums] {
            crc = Zlib.crc32(try FileReader.readAll(directory + "/" + name), initial: crc)
        }
        for entry in manifest.shards {
            let path = directory + "/shards/" + entry.file
            let fd = open(path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { throw FileError.cannotOpen(path: path, reason: systemErrorMessage()) }
            defer { close(fd) }
            var info = stat()
            guard fstat(fd, &info) == 0 else { throw FileError.ioFailed(path: path, reason: systemErrorMessage()) }
            var header = [UInt8](repeating: 0, count: ShardFile.headerSize)
            let n = header.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
            let found = try ShardFile.header(Array(header[0..<max(n, 0)]), fileSize: Int(info.st_size), path: path)
            let expected = ShardFile.Header(rowShard: entry.row, columnShard: entry.column,
                                            rowCount: manifest.rowLayout.size(of: entry.row),
                                            columnCount: manifest.columnLayout.size(of: entry.column),
                                            nonzeros: UInt64(entry.nonzeros))
            guard found == expected else {
                throw ShardError.inconsistent(path: path, reason: "holds block (\(found.rowShard), \(found.columnShard)) of \(found.rowCount) x \(found.columnCount) with \(found.nonzeros) nonzeros; the manifest expects (\(expected.rowShard), \(expected.columnShard)) of \(expected.rowCount) x \(expected.columnCount) with \(expected.nonzeros)\(found.rowCount != expected.rowCount || found.columnCount != expected.columnCount ? "; was it prepared with another shard size?" : "")")
            }
            crc = Zlib.crc32(header, initial: crc)
        }
        return String(crc, radix: 16)
    }
}

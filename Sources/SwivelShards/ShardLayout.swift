/// How features are dealt into shards: feature `i` goes to shard `i mod n` at local offset `i div n`.
///
/// With `n = ceil(V / shardSize)` shards, every shard holds at most `shardSize` features and mixes
/// frequent ones (small ids) with rare ones (large ids), so every block of the co-occurrence matrix
/// has a similar mix of dense and sparse cells. Shards differ in size by at most one feature; the
/// vocabulary is never cut to a multiple of the shard size (the reference did that).
public struct ShardLayout: Equatable, Sendable, Codable {
    /// Number of features `V`.
    public let featureCount: Int
    /// Largest number of features in one shard.
    public let shardSize: Int
    /// Number of shards, `ceil(V / shardSize)`.
    public let shardCount: Int

    /// Creates the layout for `featureCount >= 1` features and `shardSize >= 1`.
    public init(featureCount: Int, shardSize: Int) {
        precondition(featureCount >= 1 && shardSize >= 1, "layout needs at least one feature and shard size >= 1")
        self.featureCount = featureCount
        self.shardSize = shardSize
        self.shardCount = (featureCount + shardSize - 1) / shardSize
    }

    /// The shard holding feature `id`.
    @inline(__always) public func shard(of id: Int) -> Int { id % shardCount }

    /// The offset of feature `id` within its shard.
    @inline(__always) public func localIndex(of id: Int) -> Int { id / shardCount }

    /// The feature at `local` offset in `shard`.
    @inline(__always) public func featureID(shard: Int, local: Int) -> Int { local * shardCount + shard }

    /// Number of features in `shard` (either `floor(V/n)` or one more).
    public func size(of shard: Int) -> Int {
        (featureCount - shard + shardCount - 1) / shardCount
    }

    /// The feature ids of `shard`, in local order.
    public func featureIDs(of shard: Int) -> [Int32] {
        (0..<size(of: shard)).map { Int32(featureID(shard: shard, local: $0)) }
    }
}

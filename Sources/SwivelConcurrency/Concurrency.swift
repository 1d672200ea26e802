import Synchronization

/// A buffer pointer that may cross into `concurrentPerform` workers, which only read it.
public struct UnsafeSendableBuffer<T>: @unchecked Sendable {
    /// The wrapped buffer.
    public let buffer: UnsafeBufferPointer<T>
    /// Wraps `buffer`.
    public init(_ buffer: UnsafeBufferPointer<T>) { self.buffer = buffer }
}

/// Slots that distinct workers of one `concurrentPerform` fill, one slot each, without locks.
///
/// Raw memory rather than an Array in a class: Swift's exclusivity checks would (rightly) flag
/// concurrent writes through one array property.
public final class ConcurrentSlots<T>: @unchecked Sendable {
    private let storage: UnsafeMutablePointer<T>
    /// Number of slots.
    public let count: Int

    /// Creates `count` slots holding `value`.
    public init(repeating value: T, count: Int) {
        self.count = count
        storage = .allocate(capacity: max(count, 1))
        storage.initialize(repeating: value, count: count)
    }

    deinit {
        storage.deinitialize(count: count)
        storage.deallocate()
    }

    /// Slot `index`; each slot must be written by one worker at a time.
    public subscript(index: Int) -> T {
        get { storage[index] }
        set { storage[index] = newValue }
    }

    /// All slots, in order.
    public var values: [T] { Array(UnsafeBufferPointer(start: storage, count: count)) }
}

/// A value shared between threads, reached only through ``withValue(_:)`` under the standard library's
/// `Mutex`. A class, so that escaping closures (progress callbacks, worker bodies) can share one instance.
public final class Locked<Value: Sendable>: Sendable {
    private let mutex: Mutex<Value>

    /// Wraps `value`.
    public init(_ value: Value) { mutex = Mutex(value) }

    /// Runs `body` with exclusive access to the value.
    public func withValue<T: Sendable>(_ body: (inout Value) throws -> T) rethrows -> T {
        try mutex.withLock { value throws -> T in try body(&value) }
    }
}

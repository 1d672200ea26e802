import Dispatch
import SwivelConcurrency
import Testing

@Suite struct ConcurrencyTests {
    /// 8 workers x 10,000 increments through one `Locked` counter: a lost update would leave fewer.
    @Test func lockedCountsEveryIncrementFromManyThreads() {
        let counter = Locked(0)
        DispatchQueue.concurrentPerform(iterations: 8) { _ in
            for _ in 0..<10_000 { counter.withValue { $0 += 1 } }
        }
        #expect(counter.withValue { $0 } == 80_000)
    }

    /// Each worker writes its own slot; the slots read back in order.
    @Test func concurrentSlotsKeepEachWorkersValue() {
        let slots = ConcurrentSlots<Int>(repeating: -1, count: 16)
        DispatchQueue.concurrentPerform(iterations: 16) { i in slots[i] = i * i }
        #expect(slots.values == (0..<16).map { $0 * $0 })
    }
}

// TimerHeap: the flow entries' timeout deadlines as a binary min-heap (control path only).

/// A min-heap of (deadline, flow, token); an item whose token no longer matches its flow's
/// is stale and skipped by the reader.
struct TimerHeap {
    struct Item {
        var deadline: Int64
        var flow: Int32
        var token: UInt32
    }

    private(set) var items: [Item] = []

    /// An empty heap.
    init() {}

    /// A heap of items already sorted by deadline (a sorted array is a valid heap).
    init(sorted: [Item]) { items = sorted }

    /// The earliest item.
    var top: Item? { items.first }

    mutating func push(_ item: Item) {
        items.append(item)
        var i = items.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            guard items[i].deadline < items[parent].deadline else { break }
            items.swapAt(i, parent)
            i = parent
        }
    }

    mutating func pop() {
        guard !items.isEmpty else { return }
        items.swapAt(0, items.count - 1)
        items.removeLast()
        var i = 0
        while true {
            let l = 2 * i + 1, r = l + 1
            var m = i
            if l < items.count && items[l].deadline < items[m].deadline { m = l }
            if r < items.count && items[r].deadline < items[m].deadline { m = r }
            if m == i { break }
            items.swapAt(i, m)
            i = m
        }
    }
}

// MACTable: the learning table of a switch, keyed by (VLAN, MAC).
//
// Key. An entry is found by the pair (VLAN, MAC): the same MAC may live on different ports
// in different VLANs (a host with one NIC per VLAN, or a router), so the VLAN is part of the
// key, as in Open vSwitch and the Linux bridge. The pair packs into one UInt64
// (VLAN << 48 | MAC) and the table is open addressing with linear probing over 16-byte
// slots that hold the key and the index of the entry, so a hit costs one hash, one cache
// line and one compare. Deletion shifts the following slots back, so no tombstones
// accumulate.
//
// Hash. Source MACs are chosen by whoever sends frames, so the hash must not be one they can
// compute: with a fixed hash (the table used to multiply by a public constant) an attacker
// picks MACs that share a home slot, every learn and lookup walks one long probe run, and
// every frame of every port gets slow. The home slot is a keyed hash of the key under a
// 256-bit secret drawn from the system's random source when the table is made (each table its
// own): two folded multiplies, each the 128-bit product of the key (xored with a secret word)
// and a secret odd word, its halves xored together: the mixing Go's runtime map hash and
// Rust's aHash use against hash flooding. Colliding keys can only be found by guessing the
// secret, and the product's carries make the home slot a non-linear function of both. It is
// not a PRF with a security proof, as SipHash is: SipHash-1-3 (five rounds for one word) was
// measured here at 15 ns a frame (33 -> 21 Mpps in `bench switch`, a hash for the source and
// one for the destination), the folded multiply at about 2; docs/benchmarks.md has both.
//
// Aging. Every dynamic entry remembers when its MAC last sent a frame. An entry idle for the
// aging time (default 300 s) is dead: lookups treat it as a miss at once, and `age(now:)`,
// which the datapath calls about once a second, removes it. Each port keeps its entries in
// least-recently-seen order (a doubly linked list through the entry array), so the sweep
// touches only the entries that expire. Time is an argument, never read from a clock here,
// so tests warp it instead of sleeping.
//
// Flooding. A miss floods the frame within its VLAN; so does a broadcast or multicast
// destination. The table never learns multicast sources (the pipeline drops those frames).
//
// Eviction. The table holds at most `capacity` entries (default 8192, as Open vSwitch). When
// it is full and a new MAC arrives, the least recently seen entry of the port holding the
// most entries is evicted. A port flooding random source MACs thus mostly evicts its own
// entries, and the other ports keep theirs (Open vSwitch's fairness policy). A port may also
// have a learning limit, beyond which new MACs on it are not learned at all.
//
// Static entries are never aged, evicted or moved by learning; they count toward capacity.
//
// Moves. A known MAC seen on another port in the same VLAN moves there (a VM migrated, a
// cable changed) and is counted as moved.

import Frames

/// A MAC learning table keyed by (VLAN, MAC) with aging, fair eviction and static entries.
public final class MACTable {
    /// What happened to the table since it was created.
    public struct Counters: Equatable, Sendable, Codable {
        public var learned: UInt64 = 0
        public var aged: UInt64 = 0
        public var evicted: UInt64 = 0
        public var moved: UInt64 = 0
        /// New MACs not learned because their port reached its learning limit, or the table
        /// was full of static entries.
        public var notLearned: UInt64 = 0
        public init() {}
    }

    /// One entry as reported to users and saved for migration.
    public struct Entry: Equatable, Sendable, Codable {
        public var mac: MACAddress
        public var vlan: VLANID
        public var port: Int
        public var isStatic: Bool
        /// When the MAC was last seen, in the table's clock (nanoseconds).
        public var lastSeen: Int64
    }

    @usableFromInline struct Slot {
        @usableFromInline var key: UInt64
        @usableFromInline var entry: Int32
    }

    @usableFromInline struct Record {
        @usableFromInline var key: UInt64
        @usableFromInline var lastSeen: Int64
        @usableFromInline var port: Int32
        @usableFromInline var prev: Int32
        @usableFromInline var next: Int32
        @usableFromInline var isStatic: Bool
    }

    public let capacity: Int
    public let portCount: Int
    /// Idle time after which a dynamic entry expires, in nanoseconds.
    public var agingNanoseconds: Int64
    public private(set) var counters = Counters()
    /// Entries in use, static ones included.
    public private(set) var count = 0
    /// Slots of the hash index (a power of two, at least twice the capacity).
    public var slotCount: Int { slotMask + 1 }

    @usableFromInline let slots: UnsafeMutablePointer<Slot>
    @usableFromInline let slotMask: Int
    @usableFromInline let hashShift: UInt64
    @usableFromInline let records: UnsafeMutablePointer<Record>
    @usableFromInline let freeRecords: UnsafeMutablePointer<Int32>
    @usableFromInline var freeCount: Int
    @usableFromInline let perPort: UnsafeMutablePointer<Int32>   // dynamic entries per port
    @usableFromInline let lruHead: UnsafeMutablePointer<Int32>
    @usableFromInline let lruTail: UnsafeMutablePointer<Int32>
    @usableFromInline let limits: UnsafeMutablePointer<Int32>
    /// This table's secret: four words, the multipliers odd.
    @usableFromInline let seeds: (UInt64, UInt64, UInt64, UInt64)

    /// A table for `portCount` ports holding at most `capacity` entries, its hash keyed by a
    /// fresh random secret.
    public convenience init(capacity: Int = 8192, portCount: Int, agingSeconds: Int = 300) {
        var random = SystemRandomNumberGenerator()
        self.init(capacity: capacity, portCount: portCount, agingSeconds: agingSeconds,
                  secret: (random.next(), random.next(), random.next(), random.next()))
    }

    /// A table whose hash is keyed by `secret` (tests; everyone else gets a random one).
    init(capacity: Int, portCount: Int, agingSeconds: Int, secret: (UInt64, UInt64, UInt64, UInt64)) {
        precondition(capacity >= 1 && capacity <= 1 << 24 && portCount >= 1)
        seeds = (secret.0, secret.1 | 1, secret.2, secret.3 | 1)
        self.capacity = capacity
        self.portCount = portCount
        self.agingNanoseconds = Int64(agingSeconds) * 1_000_000_000
        var slotCount = 16
        while slotCount < capacity * 2 { slotCount <<= 1 }
        slotMask = slotCount - 1
        hashShift = UInt64(64 - slotCount.trailingZeroBitCount)
        slots = .allocate(capacity: slotCount)
        slots.initialize(repeating: Slot(key: 0, entry: -1), count: slotCount)
        records = .allocate(capacity: capacity)
        freeRecords = .allocate(capacity: capacity)
        for i in 0..<capacity { freeRecords[i] = Int32(capacity - 1 - i) }
        freeCount = capacity
        perPort = .allocate(capacity: portCount)
        perPort.initialize(repeating: 0, count: portCount)
        lruHead = .allocate(capacity: portCount)
        lruHead.initialize(repeating: -1, count: portCount)
        lruTail = .allocate(capacity: portCount)
        lruTail.initialize(repeating: -1, count: portCount)
        limits = .allocate(capacity: portCount)
        limits.initialize(repeating: Int32.max, count: portCount)
    }

    deinit {
        slots.deallocate()
        records.deallocate()
        freeRecords.deallocate()
        perPort.deallocate()
        lruHead.deallocate()
        lruTail.deallocate()
        limits.deallocate()
    }

    /// The packed key of (VLAN, MAC).
    public static func key(vlan: UInt16, mac: UInt64) -> UInt64 { UInt64(vlan) << 48 | mac }

    /// The home slot of `key`: the top bits of its keyed hash.
    @inline(__always)
    func home(_ key: UInt64) -> Int { Int(truncatingIfNeeded: Self.keyedHash(key, seeds) >> hashShift) }

    /// The keyed hash of `key` under `seeds`: two folded multiplies (the full 128-bit product
    /// of two words, its halves xored), each keyed by two secret words.
    @inline(__always)
    static func keyedHash(_ key: UInt64, _ seeds: (UInt64, UInt64, UInt64, UInt64)) -> UInt64 {
        fold(fold(key ^ seeds.0, seeds.1) ^ seeds.2, seeds.3)
    }

    /// The 128-bit product of `a` and `b`, folded to 64 bits (high xor low).
    @inline(__always)
    static func fold(_ a: UInt64, _ b: UInt64) -> UInt64 {
        let p = a.multipliedFullWidth(by: b)
        return p.high ^ p.low
    }

    /// Limits learning on `port` to `limit` MACs (nil: no limit).
    public func setLearningLimit(port: Int, _ limit: Int?) {
        limits[port] = Int32(clamping: limit ?? Int(Int32.max))
    }

    /// Dynamic entries currently on `port`.
    public func entryCount(port: Int) -> Int { Int(perPort[port]) }

    // MARK: Lookup and learning (the per-frame path)

    /// The port that (VLAN, MAC) was learned on, or -1 for an unknown or expired entry.
    public func lookup(key: UInt64, now: Int64) -> Int {
        var i = home(key)
        while true {
            let slot = slots[i]
            if slot.key == key {
                let r = records[Int(slot.entry)]
                if !r.isStatic && now &- r.lastSeen >= agingNanoseconds { return -1 }
                return Int(r.port)
            }
            if slot.key == 0 { return -1 }
            i = (i &+ 1) & slotMask
        }
    }

    /// Records that (VLAN, MAC) was seen on `port` at `now`.
    public func learn(key: UInt64, port: Int, now: Int64) {
        var i = home(key)
        while true {
            let slot = slots[i]
            if slot.key == key {
                refresh(entry: Int(slot.entry), port: Int32(truncatingIfNeeded: port), now: now)
                return
            }
            if slot.key == 0 { break }
            i = (i &+ 1) & slotMask
        }
        insert(key: key, port: Int32(truncatingIfNeeded: port), now: now, isStatic: false)
    }

    func refresh(entry e: Int, port: Int32, now: Int64) {
        let r = records + e
        if r.pointee.isStatic { return }
        if r.pointee.port != port {
            unlink(e)
            perPort[Int(r.pointee.port)] &-= 1
            r.pointee.port = port
            perPort[Int(port)] &+= 1
            r.pointee.lastSeen = now
            append(e)
            counters.moved &+= 1
        } else if r.pointee.lastSeen != now {
            r.pointee.lastSeen = now
            if lruTail[Int(port)] != Int32(truncatingIfNeeded: e) {
                unlink(e)
                append(e)
            }
        }
    }

    @usableFromInline
    func insert(key: UInt64, port: Int32, now: Int64, isStatic: Bool) {
        if !isStatic && perPort[Int(port)] >= limits[Int(port)] {
            counters.notLearned &+= 1
            return
        }
        if count == capacity {
            guard evictOne() else {
                counters.notLearned &+= 1
                return
            }
        }
        freeCount -= 1
        let e = Int(freeRecords[freeCount])
        records[e] = Record(key: key, lastSeen: now, port: port, prev: -1, next: -1, isStatic: isStatic)
        var i = home(key)
        while slots[i].key != 0 { i = (i &+ 1) & slotMask }
        slots[i] = Slot(key: key, entry: Int32(e))
        count += 1
        if !isStatic {
            perPort[Int(port)] += 1
            append(e)
            counters.learned &+= 1
        }
    }

    // MARK: Aging and eviction

    /// Removes every dynamic entry idle for the aging time; returns how many.
    @discardableResult
    public func age(now: Int64) -> Int {
        var removed = 0
        for port in 0..<portCount {
            while lruHead[port] >= 0 {
                let e = Int(lruHead[port])
                guard now &- records[e].lastSeen >= agingNanoseconds else { break }
                remove(entry: e)
                removed += 1
            }
        }
        counters.aged &+= UInt64(removed)
        return removed
    }

    /// Evicts the least recently seen entry of the port with the most entries.
    @usableFromInline
    func evictOne() -> Bool {
        var victimPort = -1
        var most: Int32 = 0
        for p in 0..<portCount where perPort[p] > most {
            most = perPort[p]
            victimPort = p
        }
        guard victimPort >= 0 else { return false }
        remove(entry: Int(lruHead[victimPort]))
        counters.evicted &+= 1
        return true
    }

    /// Removes every dynamic entry on `port` (the port went down or was removed).
    public func flush(port: Int) {
        while lruHead[port] >= 0 { remove(entry: Int(lruHead[port])) }
    }

    /// Removes every dynamic entry.
    public func flushDynamic() {
        for p in 0..<portCount { flush(port: p) }
    }

    @usableFromInline
    func remove(entry e: Int) {
        let key = records[e].key
        var i = home(key)
        while slots[i].key != key { i = (i &+ 1) & slotMask }
        // Backward-shift deletion: pull later members of the probe run into the hole.
        var hole = i
        var j = i
        while true {
            j = (j &+ 1) & slotMask
            let k = slots[j].key
            if k == 0 { break }
            let h = home(k)
            let between = hole <= j ? (hole < h && h <= j) : (hole < h || h <= j)
            if !between {
                slots[hole] = slots[j]
                hole = j
            }
        }
        slots[hole] = Slot(key: 0, entry: -1)
        if !records[e].isStatic {
            unlink(e)
            perPort[Int(records[e].port)] -= 1
        }
        freeRecords[freeCount] = Int32(e)
        freeCount += 1
        count -= 1
    }

    // MARK: LRU lists

    @usableFromInline
    func unlink(_ e: Int) {
        let r = records[e]
        let port = Int(r.port)
        if r.prev >= 0 { records[Int(r.prev)].next = r.next } else { lruHead[port] = r.next }
        if r.next >= 0 { records[Int(r.next)].prev = r.prev } else { lruTail[port] = r.prev }
    }

    @usableFromInline
    func append(_ e: Int) {
        let port = Int(records[e].port)
        let tail = lruTail[port]
        records[e].prev = tail
        records[e].next = -1
        if tail >= 0 { records[Int(tail)].next = Int32(e) } else { lruHead[port] = Int32(e) }
        lruTail[port] = Int32(e)
    }

    // MARK: Control path

    /// Adds or replaces a static entry.
    public func addStatic(mac: MACAddress, vlan: VLANID, port: Int) {
        let key = Self.key(vlan: vlan.rawValue, mac: mac.rawValue)
        if let e = findEntry(key) { remove(entry: e) }
        insert(key: key, port: Int32(port), now: 0, isStatic: true)
    }

    /// Installs a dynamic entry with a given last-seen time (restoring a saved table).
    public func install(_ entry: Entry) {
        if entry.isStatic {
            addStatic(mac: entry.mac, vlan: entry.vlan, port: entry.port)
            return
        }
        let key = Self.key(vlan: entry.vlan.rawValue, mac: entry.mac.rawValue)
        if let e = findEntry(key) {
            refresh(entry: e, port: Int32(entry.port), now: entry.lastSeen)
        } else {
            insert(key: key, port: Int32(entry.port), now: entry.lastSeen, isStatic: false)
        }
    }

    /// Removes the entry for (VLAN, MAC), if any.
    public func remove(mac: MACAddress, vlan: VLANID) {
        if let e = findEntry(Self.key(vlan: vlan.rawValue, mac: mac.rawValue)) { remove(entry: e) }
    }

    /// Slots between `key`'s home slot and the slot holding it (0 at home), nil when absent:
    /// what a lookup of it walks.
    func probeDistance(_ key: UInt64) -> Int? {
        var i = home(key), n = 0
        while slots[i].key != 0 {
            if slots[i].key == key { return n }
            i = (i &+ 1) & slotMask
            n += 1
        }
        return nil
    }

    func findEntry(_ key: UInt64) -> Int? {
        var i = home(key)
        while slots[i].key != 0 {
            if slots[i].key == key { return Int(slots[i].entry) }
            i = (i &+ 1) & slotMask
        }
        return nil
    }

    /// The live entries (expired ones left out), sorted by VLAN then MAC.
    public func entries(now: Int64) -> [Entry] {
        var out: [Entry] = []
        for i in 0...slotMask where slots[i].key != 0 {
            let r = records[Int(slots[i].entry)]
            if !r.isStatic && now - r.lastSeen >= agingNanoseconds { continue }
            out.append(Entry(mac: MACAddress(rawValue: r.key), vlan: VLANID(unchecked: UInt16(r.key >> 48)),
                             port: Int(r.port), isStatic: r.isStatic, lastSeen: r.lastSeen))
        }
        return out.sorted { ($0.vlan, $0.mac) < ($1.vlan, $1.mac) }
    }
}

extension UInt64 {
    /// Rotated left by `n` bits.
    @inline(__always) fileprivate func rotated(_ n: UInt64) -> UInt64 { self << n | self >> (64 &- n) }
}

import Testing
import Frames
@testable import Switching

@Suite struct MACTableTests {
    func key(_ v: UInt16, _ m: MACAddress) -> UInt64 { MACTable.key(vlan: v, mac: m.rawValue) }

    @Test func learnsPerVLAN() {
        let table = MACTable(portCount: 4)
        table.learn(key: key(10, mac(1)), port: 0, now: t0)
        table.learn(key: key(20, mac(1)), port: 2, now: t0)
        #expect(table.lookup(key: key(10, mac(1)), now: t0) == 0)
        #expect(table.lookup(key: key(20, mac(1)), now: t0) == 2)
        #expect(table.lookup(key: key(30, mac(1)), now: t0) == -1)
        #expect(table.counters.learned == 2 && table.count == 2)
    }

    @Test func agingWithAWarpedClock() {
        let table = MACTable(portCount: 2, agingSeconds: 300)
        table.learn(key: key(10, mac(1)), port: 0, now: t0)
        table.learn(key: key(10, mac(2)), port: 1, now: t0 + 200_000_000_000)
        let at299 = t0 + 299_000_000_000
        #expect(table.lookup(key: key(10, mac(1)), now: at299) == 0)
        let at300 = t0 + 300_000_000_000
        #expect(table.lookup(key: key(10, mac(1)), now: at300) == -1, "expired entries miss at once")
        #expect(table.age(now: at300) == 1)
        #expect(table.counters.aged == 1 && table.count == 1)
        #expect(table.lookup(key: key(10, mac(2)), now: at300) == 1)
        // Being seen again keeps an entry alive.
        table.learn(key: key(10, mac(2)), port: 1, now: at300)
        #expect(table.age(now: t0 + 550_000_000_000) == 0)
        #expect(table.age(now: t0 + 600_000_000_000) == 1)
    }

    @Test func fairEvictionTakesFromTheBusiestPort() {
        let table = MACTable(capacity: 8, portCount: 3)
        table.learn(key: key(1, mac(1)), port: 0, now: t0)
        table.learn(key: key(1, mac(2)), port: 1, now: t0)
        // Port 2 floods random source MACs.
        for i in 0..<50 { table.learn(key: key(1, mac(UInt8(100 + i))), port: 2, now: t0 + Int64(i)) }
        #expect(table.count == 8)
        #expect(table.counters.evicted == 44)
        #expect(table.lookup(key: key(1, mac(1)), now: t0 + 100) == 0, "the quiet ports keep their entries")
        #expect(table.lookup(key: key(1, mac(2)), now: t0 + 100) == 1)
        #expect(table.lookup(key: key(1, mac(149)), now: t0 + 100) == 2, "the newest survives")
        #expect(table.lookup(key: key(1, mac(100)), now: t0 + 100) == -1, "the oldest was evicted")
    }

    @Test func perPortLimit() {
        let table = MACTable(portCount: 2)
        table.setLearningLimit(port: 0, 3)
        for i in 0..<5 { table.learn(key: key(1, mac(UInt8(i))), port: 0, now: t0) }
        #expect(table.entryCount(port: 0) == 3 && table.counters.notLearned == 2)
        table.learn(key: key(1, mac(9)), port: 1, now: t0)
        #expect(table.entryCount(port: 1) == 1)
    }

    @Test func staticEntriesDoNotAgeOrMove() {
        let table = MACTable(portCount: 2, agingSeconds: 1)
        table.addStatic(mac: mac(7), vlan: vlan(10), port: 1)
        table.learn(key: key(10, mac(7)), port: 0, now: t0)
        #expect(table.lookup(key: key(10, mac(7)), now: t0 + 10_000_000_000) == 1)
        #expect(table.age(now: t0 + 10_000_000_000) == 0 && table.counters.moved == 0)
    }

    @Test func movesAreCounted() {
        let table = MACTable(portCount: 2)
        table.learn(key: key(10, mac(1)), port: 0, now: t0)
        table.learn(key: key(10, mac(1)), port: 1, now: t0 + 1)
        #expect(table.lookup(key: key(10, mac(1)), now: t0 + 1) == 1)
        #expect(table.counters.moved == 1 && table.entryCount(port: 0) == 0 && table.entryCount(port: 1) == 1)
    }

    /// Random learning, moving, aging and eviction against a dictionary model: the
    /// backward-shift deletion must never lose or resurrect an entry.
    @Test func agreesWithAModelUnderChurn() {
        var rng = SystemRandomNumberGenerator()
        let capacity = 64
        let table = MACTable(capacity: capacity, portCount: 4, agingSeconds: 1)
        var now = t0
        for _ in 0..<20_000 {
            now += Int64.random(in: 0...20_000_000, using: &rng)
            let k = key(UInt16.random(in: 1...3, using: &rng), mac(UInt8.random(in: 0...120, using: &rng)))
            let port = Int.random(in: 0..<4, using: &rng)
            table.learn(key: k, port: port, now: now)
            #expect(table.lookup(key: k, now: now) == port)
            if Int.random(in: 0..<100, using: &rng) == 0 { table.age(now: now) }
        }
        // Every entry the table reports can be found, and counts add up.
        let live = table.entries(now: now)
        for e in live { #expect(table.lookup(key: key(e.vlan.rawValue, e.mac), now: now) == e.port) }
        #expect(table.count <= capacity)
        #expect((0..<4).map { table.entryCount(port: $0) }.reduce(0, +) == table.count)
    }
}

/// The keyed hash: every secret word matters, a different hash in every table, and MACs chosen to
/// collide under the former unkeyed hash spread out.
@Suite struct MACTableHashTests {
    @Test func theHashDependsOnEveryWordOfTheSecretAndIsNotLinear() {
        let base: (UInt64, UInt64, UInt64, UInt64) = (1, 3, 5, 7)
        let key = MACTable.key(vlan: 10, mac: 0x5254_0000_0001)
        let h = MACTable.keyedHash(key, base)
        #expect(MACTable.keyedHash(key, (2, 3, 5, 7)) != h && MACTable.keyedHash(key, (1, 5, 5, 7)) != h)
        #expect(MACTable.keyedHash(key, (1, 3, 6, 7)) != h && MACTable.keyedHash(key, (1, 3, 5, 9)) != h)
        // Keys one apart do not land a fixed distance apart (a multiply-shift hash would).
        let seeds: (UInt64, UInt64, UInt64, UInt64) = (0x9E37_79B9_7F4A_7C15, 0xBF58_476D_1CE4_E5B9, 0x94D0_49BB_1331_11EB, 0x2545_F491_4F6C_DD1D)
        let steps = (0..<8).map { MACTable.keyedHash(key + UInt64($0) + 1, seeds) &- MACTable.keyedHash(key + UInt64($0), seeds) }
        #expect(Set(steps).count == steps.count)
    }

    @Test func everyTableHasItsOwnHash() {
        let a = MACTable(portCount: 2), b = MACTable(portCount: 2)
        let keys = (0..<64).map { MACTable.key(vlan: 10, mac: 0x0200_0000_0000 | UInt64($0)) }
        #expect(keys.map(a.home) != keys.map(b.home), "two tables place 64 keys identically")
        // A fixed secret gives a fixed placement (the secret is the only input besides the key).
        let c = MACTable(capacity: 8192, portCount: 2, agingSeconds: 300, secret: (7, 9, 11, 13))
        let d = MACTable(capacity: 8192, portCount: 2, agingSeconds: 300, secret: (7, 9, 11, 13))
        #expect(keys.map(c.home) == keys.map(d.home))
    }

    @Test func macsCollidingUnderTheOldHashSpreadOut() {
        let table = MACTable(capacity: 1024, portCount: 4)
        let slots = table.slotCount
        var rng = SplitMix64(seed: 7)
        let vlans = [UInt16](repeating: 10, count: 512)
        let macs = SwitchBenchmark.macs(512, rng: &rng, collidingAt: 99, slotCount: slots, vlans: vlans)
        let keys = macs.map { MACTable.key(vlan: 10, mac: $0.rawValue) }
        // The attack is real: one home slot for all 512 under the unkeyed hash.
        #expect(Set(keys.map { SwitchBenchmark.unkeyedHome($0, slotCount: slots) }) == [99])
        for (i, k) in keys.enumerated() { table.learn(key: k, port: i % 4, now: t0) }
        #expect(table.count == 512)
        // Keyed: about 2048 x (1 - e^(-1/4)) = 453 distinct homes expected; all in one would
        // be the attack working.
        let homes = Set(keys.map(table.home))
        #expect(homes.count > 350, "\(homes.count) distinct home slots for 512 keys")
        // Probe runs stay short (under the old hash the last key would walk 511 slots).
        let longest = keys.compactMap(table.probeDistance).max() ?? .max
        #expect(longest < 32, "longest probe \(longest)")
        for (i, k) in keys.enumerated() { #expect(table.lookup(key: k, now: t0) == i % 4) }
    }
}

// The VMM side of the hart: the run loop that alternates between the interpreter and the
// emulation of the exits it reports (CSRs, xRET, WFI, SFENCE.VMA, ECALL/SBI, MMIO), counting
// every exit by reason, and injecting timer and software interrupts between budgets.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Dispatch
import Machine

extension Hart: VCPU {
    /// The Codable state type.
    public typealias State = HartState

    /// Exit counts so far.
    public var exitStatistics: ExitStatistics { stats }

    /// Instructions retired so far.
    public var instructionsRetired: UInt64 { instret }

    /// Instructions run between interrupt checks.
    static let chunk = 8192

    /// Runs up to `budget` instructions, emulating exits. Returns early after a WFI sleep, on
    /// power off, reset or a fatal condition.
    public func run(budget: Int) -> VCPURunResult {
        inRun.store(true, ordering: .sequentiallyConsistent)
        defer { inRun.store(false, ordering: .releasing) }
        if let group, group.outcomeSet.load(ordering: .acquiring), let r = group.requestedOutcome { return r }
        if runState.load(ordering: .acquiring) != HartRunState.started.rawValue && !enterFromHSM() {
            return shutdownRequest ?? .continue
        }
        if memory.writeProtectGeneration != seenWriteProtectGeneration {
            writeTLB.flush()
            seenWriteProtectGeneration = memory.writeProtectGeneration
        }
        var left = budget
        while left > 0 {
            if let r = shutdownRequest { return r }
            if let group, group.outcomeSet.load(ordering: .acquiring), let r = group.requestedOutcome { return r }
            if exitRequested.load(ordering: .relaxed) {
                exitRequested.store(false, ordering: .relaxed)
                return .continue
            }
            refreshInterrupts()
            takePendingInterrupt()
            pendingExit = nil
            // At least one unit per chunk, so a run of exits that retire nothing in the loop
            // (MMIO accesses) still ends this `run`.
            let spent = engine.map { $0.execute(self, budget: min(left, Hart.chunk)) } ?? execute(budget: min(left, Hart.chunk))
            left -= max(1, spent)
            guard let e = pendingExit else {
                stats.record(.budget)
                continue
            }
            pendingExit = nil
            stats.record(e)
            if traceExits {
                print("exit \(e.rawValue) pc=0x\(String(pc, radix: 16)) priv=\(privilege) op=\(exitInstruction.op)")
            }
            if handleExit(e) { return shutdownRequest ?? .continue }
        }
        return shutdownRequest ?? .continue
    }

    /// Ends a `run` in progress after its current chunk (from any thread): a pause for
    /// migration then waits microseconds, not a whole budget.
    public func requestExit() {
        exitRequested.store(true, ordering: .relaxed)
        wakeup.signal()
    }

    /// Updates mip from the platform's interrupt inputs (and the builtin SBI timer).
    func refreshInterrupts() {
        serviceRequests()
        let now = timer.mtime
        var m = mip & ~(CSRBits.mtip | CSRBits.msip)
        if now >= timer.timerCompare(hart: hartID) { m |= CSRBits.mtip }
        if timer.softwareInterrupt(hart: hartID) { m |= CSRBits.msip }
        if firmwareMode == .builtinSBI && now >= sbiTimerDeadline { m |= CSRBits.stip }
        if let externalInputs {
            let external = externalInputs.externalInterrupts(hart: hartID)
            m = (m & ~(CSRBits.meip | plicSEIP)) | external
            plicSEIP = external & CSRBits.seip
        }
        mip = m
    }

    /// Emulates one exit. Returns true when `run` should return now (slept in WFI).
    func handleExit(_ e: ExitReason) -> Bool {
        let d = exitInstruction
        switch e {
        case .systemRegister:
            emulateCSR(d)
        case .trapReturn:
            if d.op == .mret {
                guard privilege == .machine else { return illegal(d) }
                doMret()
            } else {
                guard privilege == .machine || (privilege == .supervisor && mstatus & CSRBits.tsr == 0) else {
                    return illegal(d)
                }
                doSret()
            }
        case .tlbFlush:
            guard privilege == .machine || (privilege == .supervisor && mstatus & CSRBits.tvm == 0) else {
                return illegal(d)
            }
            flushTLB()
            pc &+= UInt64(d.length)
        case .instructionFence:
            // Another hart may have written code through its own TLB (see dropAllDecoded).
            if let group, group.harts.count > 1 { dropAllDecoded() }
            pc &+= UInt64(d.length)
        case .halt:
            guard privilege == .machine || (privilege == .supervisor && mstatus & CSRBits.tw == 0) else {
                return illegal(d)
            }
            pc &+= UInt64(d.length)
            waitForInterrupt()
            return true
        case .hypercall:
            if firmwareMode == .builtinSBI && privilege == .supervisor {
                handleSBI()
                pc &+= UInt64(d.length)
            } else {
                let cause: ExceptionCause
                switch privilege {
                case .user: cause = .ecallFromU
                case .supervisor: cause = .ecallFromS
                case .machine: cause = .ecallFromM
                }
                takeException(cause, tval: 0)
            }
        case .mmioRead:
            let raw = bus.read(GuestPhysicalAddress(mmioAddress), size: mmioSize) ?? 0
            let v: UInt64
            switch d.op {
            case .lb: v = UInt64(bitPattern: Int64(Int8(truncatingIfNeeded: raw)))
            case .lh: v = UInt64(bitPattern: Int64(Int16(truncatingIfNeeded: raw)))
            case .lw: v = sext32(raw)
            case .lbu: v = raw & 0xFF
            case .lhu: v = raw & 0xFFFF
            case .lwu: v = raw & 0xFFFF_FFFF
            default: v = raw
            }
            x[Int(d.rd)] = v
            pc &+= UInt64(d.length)
            instret &+= 1
        case .mmioWrite:
            bus.write(GuestPhysicalAddress(mmioAddress), size: mmioSize, value: mmioValue)
            pc &+= UInt64(d.length)
            instret &+= 1
        default:
            break
        }
        return false
    }

    private func illegal(_ d: DecodedInstruction) -> Bool {
        let raw: UInt64
        switch d.op {
        case .mret: raw = 0x3020_0073
        case .sret: raw = 0x1020_0073
        case .wfi: raw = 0x1050_0073
        default: raw = 0x1200_0073 | UInt64(d.rs1) << 15 | UInt64(d.rs2) << 20
        }
        takeException(.illegalInstruction, tval: raw)
        return false
    }

    /// WFI: sleeps the host thread until the next timer deadline unless an interrupt is already
    /// pending. Everything else that can wake the hart signals `wakeup` (PLIC outputs, CLINT
    /// software interrupts, SBI IPIs and fences, HSM starts, `requestExit`), so the sleep is
    /// capped only at 1 s (housekeeping such as expect timeouts): an idle guest costs about
    /// one host wake-up a second per hart beyond its own timer.
    func waitForInterrupt() {
        refreshInterrupts()
        if mip & mie != 0 { return }
        let now = timer.mtime
        var deadline = UInt64.max
        if mie & CSRBits.mtip != 0 { deadline = min(deadline, timer.timerCompare(hart: hartID)) }
        if firmwareMode == .builtinSBI && mie & CSRBits.stip != 0 { deadline = min(deadline, sbiTimerDeadline) }
        let ticks = deadline > now ? deadline - now : 0
        let nanos = min(ticks, 10_000_000) * 100 // 10 MHz ticks, capped at 1 s
        if nanos == 0 { return }
        // An external interrupt (the inputs' onAssert) ends the sleep early.
        _ = wakeup.wait(timeout: .now() + .nanoseconds(Int(nanos)))
    }

    /// A hart that is not started (HSM): starts it when a start or resume is pending, otherwise
    /// sleeps until woken (`requestExit` and hart_start signal it; at most 1 s). Returns true when
    /// the hart now runs guest code.
    func enterFromHSM() -> Bool {
        serviceRequests()
        switch hsmState {
        case .startPending:
            enterSupervisor(startParameters.withLock { $0 })
            runState.store(HartRunState.started.rawValue, ordering: .releasing)
            return true
        case .suspended:
            refreshInterrupts()
            if mip & mie != 0 {
                let p = startParameters.withLock { $0 }
                if p.resume { enterSupervisor(p) }
                runState.store(HartRunState.started.rawValue, ordering: .releasing)
                return true
            }
            _ = wakeup.wait(timeout: .now() + .milliseconds(1000))
            return false
        case .started:
            return true
        case .stopped, .stopPending:
            runState.store(HartRunState.stopped.rawValue, ordering: .releasing)
            _ = wakeup.wait(timeout: .now() + .milliseconds(1000))
            return false
        }
    }

    /// Enters S-mode at an HSM start or resume address as the SBI specifies: satp 0,
    /// sstatus.SIE 0, a0 = hart id, a1 = the caller's opaque value.
    private func enterSupervisor(_ p: (address: UInt64, opaque: UInt64, resume: Bool)) {
        privilege = .supervisor
        satp = 0
        mstatus &= ~CSRBits.sie
        flushTLB()
        pc = p.address
        x[10] = hartID
        x[11] = p.opaque
    }
}

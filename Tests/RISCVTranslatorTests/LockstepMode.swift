// LockstepMode: the privilege mode a lockstep program runs in (its trap handlers run in M and S).

/// The privilege mode a lockstep program runs in.
enum LockstepMode: CaseIterable {
    case machine, supervisor, user
}

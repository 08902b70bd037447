//! Size limits of a scenario, so that a typo (`replicas: 4294967295`) is a clear error instead of
//! an allocation failure. Documented in `docs/scenario-format.md`; `sim generate` uses the same.

/// Most nodes a scenario may have (twice upstream's tested 5,000-node cluster).
pub const MAX_NODES: usize = 10_000;
/// Most pods a scenario may make in total (upstream's tested 150,000 pods per cluster).
pub const MAX_PODS: usize = 150_000;
/// Most `replicas` (or Job completions) of one workload.
pub const MAX_REPLICAS: u32 = 150_000;

// Package schedule owns the per-customer agent schedules of the daemon: one
// robfig/cron entry per (customer, job) — ingest every 5 s, relationship
// every hour, learning every two hours, as the customer's file says — and
// what the daemon and its metrics need to know about them.
//
// # Spread
//
// cron's "@every d" fires at start+d, so customers added at start would fire
// together. Here each entry is an Aligned schedule: it fires at the instants
// t with (t − offset) mod interval = 0 (Unix time), where the offset is a
// hash of (customer, job) within the interval (see Offset). Firing times are
// deterministic, stable across restarts, independent of when the entry was
// added, and 1,000 customers spread evenly over the interval.
//
// # Runs
//
// A (customer, job) never runs twice at once: a fire while the previous run
// is still going is skipped and counted (Counters.Skipped). Each run calls the
// Runner with a context that ends when the customer is removed or Stop gives
// up waiting; a panic in the Runner is recovered and counted as a failure.
// The last HistorySize runs of each (customer, job) — start, duration,
// error — are kept in memory (History); counters of runs, failures and skips
// are kept per job name and in total (Stats) and per (customer, job) (Status).
//
// # Lifecycle
//
// Set creates or updates a customer's entries (an unchanged interval keeps
// its entry), Suspend removes the entries but keeps the configuration and
// history (Resume adds them back), Remove drops the customer with its history
// and cancels its running jobs. Stop stops firing and waits for running jobs.
package schedule

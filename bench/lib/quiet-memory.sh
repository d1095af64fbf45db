# Sourced by bench/speed.sh and bench/store-floor.sh (kept in bench/lib/: `make bench` runs each bench/*.sh).
# In this project's VMs the guest hands freed memory back to the host as soon as it is freed (free page
# reporting, page_reporting.min_free_ms=0). Touching it again then costs several times more, in some runs and not
# others: 512 MiB written to a fresh file in 1 MiB writes (a small C program, an fdatasync every 8 MiB) took
# 0.46-1.8 s, 0.27-1.5 s of it kernel time, in six runs, and 0.28-0.33 s in five of six once reporting waited 30 s
# (2026-12-01). Every program a bench compares writes fresh memory (ddrescue's output, a cache's data file, page
# cache), so this noise hides differences of 20% between builds.
# QUIET_MEMORY=1: reporting waits QUIET_MEMORY_MS (60000) for the bench's run, and is set back at its end. Both
# sides of every comparison run under the same setting; the header line says which one applied.
PAGE_REPORTING_KNOB=/sys/module/page_reporting/parameters/min_free_ms
PAGE_REPORTING_WAS=""
MEMORY_NOTE=""

# Sets MEMORY_NOTE to what applies; with QUIET_MEMORY=1 (and the knob there, writable) delays the reporting first.
# Call it in the bench's own shell, not in $(...): quiet_memory_end needs what it saw.
quiet_memory_start() {
  if [ ! -r "$PAGE_REPORTING_KNOB" ]; then
    MEMORY_NOTE="memory: no free page reporting knob ($PAGE_REPORTING_KNOB)"
    return 0
  fi
  local now
  now=$(cat "$PAGE_REPORTING_KNOB")
  if [ "${QUIET_MEMORY:-0}" = 1 ] && [ -w "$PAGE_REPORTING_KNOB" ]; then
    PAGE_REPORTING_WAS=$now
    echo "${QUIET_MEMORY_MS:-60000}" >"$PAGE_REPORTING_KNOB"
    MEMORY_NOTE="memory: free page reporting delayed to ${QUIET_MEMORY_MS:-60000} ms for this run (QUIET_MEMORY=1; it was $now ms)"
  else
    MEMORY_NOTE="memory: free page reporting after $now ms (QUIET_MEMORY=1 delays it for the run: fewer slow first touches)"
  fi
}

# Sets the knob back (from the bench's cleanup).
quiet_memory_end() {
  if [ -n "$PAGE_REPORTING_WAS" ]; then echo "$PAGE_REPORTING_WAS" >"$PAGE_REPORTING_KNOB"; fi
  PAGE_REPORTING_WAS=""
}

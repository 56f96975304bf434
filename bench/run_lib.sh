# run_lib.sh - what bench/compare.sh and bench/scaling.sh share: finding
# the port a broker started on 127.0.0.1:0 reports, its CPU time, the file
# limit a thousand connections need, the host line of environment.txt, and
# the settings that must be counts. Sourced (bash); the caller defines die().

# The port of the "listening on ws://127.0.0.1:PORT" line in log file $1,
# waiting up to 10 s for it.
listening_port() {
    for _ in $(seq 100); do
        p=$(grep -o 'listening on ws://127.0.0.1:[0-9]*' "$1" | head -1 | sed 's/.*://') || true
        [ -n "$p" ] && { echo "$p"; return 0; }
        sleep 0.1
    done
    die "no listening line in $1"
}

# utime + stime of process $1, in clock ticks (1/100 s).
cpu_ticks() { awk '{print $14 + $15}' /proc/"$1"/stat; }

# Enough descriptors for every generator connection: 65536, else the hard limit.
raise_file_limit() { ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"; }

# Dies unless setting $1 (named for the message) has value $2, a positive integer.
need_count() { [[ $2 =~ ^[1-9][0-9]*$ ]] || die "$1 must be a positive integer, not '$2'"; }

# "date:" and "host:" lines for environment.txt.
host_lines() {
    echo "date: $(date -u +%FT%TZ)"
    echo "host: $(nproc) CPUs, $(uname -r), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)"
}

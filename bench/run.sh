#!/bin/sh
# run.sh BUILD [SECONDS] - the benchmark, by hand (`make bench`): builds a
# throw-away test PKI, runs mailseal-bench (SECONDS per figure, default 2),
# then times in the same run what a script does today, one process per
# message: `openssl cms -sign | openssl cms -encrypt` and
# `openssl cms -decrypt | openssl cms -verify`, for N10K (default 50) 10 KB
# and N1M (default 10) 1 MB messages, and prints the ratios of issue #2.
# Nothing outside a temp directory changes.
set -eu
build=${1:?usage: run.sh BUILD [SECONDS]}
secs=${2:-2}
n10k=${N10K:-50}
n1m=${N1M:-10}
here=$(cd "$(dirname "$0")" && pwd)
bench=$build/bench/mailseal-bench
ms=$build/cli/mailseal
for f in "$bench" "$ms"; do
    [ -x "$f" ] || { echo "run.sh: $f is missing (build first)" >&2; exit 2; }
done
command -v openssl >/dev/null || { echo "run.sh: no openssl" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT INT TERM
p=$work/pki

echo "== test PKI and benchmark keys (in $work)"
bash "$here/../tests/fixtures/gen-pki.sh" "$p" >/dev/null 2>&1
printf '[ req ]\ndistinguished_name = dn\n[ dn ]\n' >"$work/req.cnf"
# bench_cert NAME ALGORITHM-OPTIONS...: NAME signing cert under ca-v2.
bench_cert()
{
    name=$1
    shift
    openssl genpkey "$@" -out "$p/bench-$name.key" 2>/dev/null
    openssl req -new -config "$work/req.cnf" -key "$p/bench-$name.key" \
        -subj "/CN=Bench $name/emailAddress=john.doe@example.org" \
        -out "$work/$name.csr"
    cat >"$work/$name.ext" <<EOF
basicConstraints = CA:FALSE
keyUsage = critical, digitalSignature, nonRepudiation
extendedKeyUsage = emailProtection
subjectAltName = email:john.doe@example.org
certificatePolicies = 2.25.70987990664227431197429845594075621128.1.2
EOF
    openssl x509 -req -in "$work/$name.csr" -CA "$p/ca-v2.pem" \
        -CAkey "$p/ca-v2.key" -set_serial "0x$(openssl rand -hex 8)" \
        -days 365 -sha256 -extfile "$work/$name.ext" \
        -out "$p/bench-$name.pem" 2>/dev/null
}
# bench_rcpt N: RSA-2048 encryption certificate bench-rcptN under ca-v2,
# one of the ten recipients of seal10 (the test PKI has too few RSA
# certificates whose keyUsage allows encryption).
bench_rcpt()
{
    openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 \
        -out "$p/bench-rcpt$1.key" 2>/dev/null
    openssl req -new -config "$work/req.cnf" -key "$p/bench-rcpt$1.key" \
        -subj "/CN=Bench recipient $1" -out "$work/rcpt$1.csr"
    cat >"$work/rcpt$1.ext" <<EOF
basicConstraints = CA:FALSE
keyUsage = critical, keyEncipherment
extendedKeyUsage = emailProtection
subjectAltName = email:rcpt$1@example.org
EOF
    openssl x509 -req -in "$work/rcpt$1.csr" -CA "$p/ca-v2.pem" \
        -CAkey "$p/ca-v2.key" -set_serial "0x$(openssl rand -hex 8)" \
        -days 365 -sha256 -extfile "$work/rcpt$1.ext" \
        -out "$p/bench-rcpt$1.pem" 2>/dev/null
}
bench_cert rsa2048 -algorithm RSA -pkeyopt rsa_keygen_bits:2048
bench_cert rsa3072 -algorithm RSA -pkeyopt rsa_keygen_bits:3072
bench_cert p256 -algorithm EC -pkeyopt ec_paramgen_curve:P-256
for i in 1 2 3 4 5 6 7 8 9; do bench_rcpt "$i"; done
"$bench" --message 10240 >"$work/msg-10k.eml"
"$bench" --message 1048576 >"$work/msg-1m.eml"

echo "== machine: $(uname -srm), $(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | sed 's/.*: //'), $(nproc) CPUs"
echo "== $(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo
"$bench" "$p" "$secs" "$work/bench.tsv"
echo

now() { date +%s.%N; }
# rate N START END: messages per second.
rate() { awk -v n="$1" -v a="$2" -v b="$3" 'BEGIN { printf "%.2f", n / (b - a) }'; }

# Pipelines, as a shell script runs them: two processes per message.
seal_pipe()
{
    openssl cms -sign -md sha256 -signer "$p/bench-$1.pem" \
        -inkey "$p/bench-$1.key" -certfile "$p/v2-chain.pem" -in "$2" |
        openssl cms -encrypt -aes256 "$p/v3-enc.pem" "$p/v2-enc.pem" \
            >"$work/pipe.out"
}
open_pipe()
{
    openssl cms -decrypt -recip "$p/v3-enc.pem" -inkey "$p/v3-enc.key" \
        -in "$1" |
        openssl cms -verify -CAfile "$p/root.pem" -out /dev/null 2>/dev/null
}

echo "openssl cms pipelines, one process per step and message (messages/s)"
printf '%-9s %-5s %4s %12s %12s\n' key size N seal1/s open/s
: >"$work/pipe.tsv"
for key in rsa2048 rsa3072 p256; do
    for size in 10k 1m; do
        n=$n10k
        [ "$size" = 1m ] && n=$n1m
        msg=$work/msg-$size.eml
        sealed=$work/sealed-$key-$size.eml
        "$ms" seal --cert "$p/bench-$key.pem" --key "$p/bench-$key.key" \
            --chain "$p/v2-chain.pem" --encryption-cert "$p/v2-enc.pem" \
            --recipient-cert "$p/v3-enc.pem" <"$msg" >"$sealed"
        # Both pipelines must work before they are timed.
        seal_pipe "$key" "$msg" ||
            { echo "run.sh: the openssl seal pipeline fails" >&2; exit 1; }
        open_pipe "$sealed" ||
            { echo "run.sh: the openssl open pipeline fails" >&2; exit 1; }
        t0=$(now)
        i=0
        while [ $i -lt "$n" ]; do seal_pipe "$key" "$msg"; i=$((i + 1)); done
        t1=$(now)
        i=0
        while [ $i -lt "$n" ]; do open_pipe "$sealed"; i=$((i + 1)); done
        t2=$(now)
        s=$(rate "$n" "$t0" "$t1")
        o=$(rate "$n" "$t1" "$t2")
        printf '%-9s %-5s %4s %12s %12s\n' "$key" "$size" "$n" "$s" "$o"
        printf '%s\t%s\tseal1\t%s\n%s\t%s\topen\t%s\n' "$key" "$size" "$s" \
            "$key" "$size" "$o" >>"$work/pipe.tsv"
    done
done
echo

echo "mailseal / openssl pipeline (same run)"
printf '%-9s %-5s %10s %10s\n' key size seal1 open
awk -F'\t' '
    NR == FNR { ms[$1 "/" $2 "/" $3] = $4; next }
    { pipe[$1 "/" $2 "/" $3] = $4; order[++n] = $1 "/" $2 }
    END {
        for (i = 1; i <= n; i += 2) {
            split(order[i], k, "/")
            printf "%-9s %-5s %9.1fx %9.1fx\n", k[1], k[2],
                ms[order[i] "/seal1"] / pipe[order[i] "/seal1"],
                ms[order[i] "/open"] / pipe[order[i] "/open"]
        }
    }' "$work/bench.tsv" "$work/pipe.tsv"
echo

echo "goals (issue #2), RSA-2048 signer, 1 recipient"
awk -F'\t' '
    NR == FNR { ms[$1 "/" $2 "/" $3] = $4; next }
    { pipe[$1 "/" $2 "/" $3] = $4 }
    function goal(what, value, want, unit) {
        printf "  %-42s %8.1f%s  goal >= %s%s  %s\n", what, value, unit,
            want, unit, (value >= want ? "met" : "MISSED")
    }
    END {
        goal("seal 10 KB vs sign|encrypt pipeline",
             ms["rsa2048/10k/seal1"] / pipe["rsa2048/10k/seal1"], 40, "x")
        goal("seal 10 KB vs RSA-2048 signing ceiling (paired)",
             100 * ms["rsa2048/10k/seal1-paired-ratio"], 60, "%")
        goal("open 10 KB vs decrypt|verify pipeline",
             ms["rsa2048/10k/open"] / pipe["rsa2048/10k/open"], 30, "x")
        goal("open 1 MB vs decrypt|verify pipeline",
             ms["rsa2048/1m/open"] / pipe["rsa2048/1m/open"], 3, "x")
    }' "$work/bench.tsv" "$work/pipe.tsv"

/*
 * services/mailseald/pid.c - getpid() answered from memory.
 *
 * OpenSSL 3.0's random generator calls getpid() on every request for
 * bytes, to notice that it runs in a forked child and must reseed; every
 * ECDSA signature asks it for a nonce, so every P-256 timestamp paid one
 * system call for a value that never changes, and system calls are dear
 * on virtual machines (docs/performance.md has the measurement). glibc
 * stopped caching the PID in 2.25; this definition in the executable
 * interposes libc's for the whole process, libcrypto included.
 *
 * The PID is read from the kernel on first use and read again after every
 * fork(): the child handler registered by ms_pid_cache_init() clears it
 * before fork() returns in the child, so OpenSSL still sees the new PID
 * and reseeds. mailseald makes no other processes (no vfork, no raw
 * clone), so no code runs under a stale PID. Thread-safe: the cache is
 * one atomic int; a race on first use stores the same value twice.
 */
#define _DEFAULT_SOURCE /* syscall(2) */
#include <pthread.h>
#include <stdatomic.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

#include "commands.h"

static atomic_int cached_pid; /* 0: not read since start or fork */

pid_t
getpid(void)
{
    pid_t pid = atomic_load_explicit(&cached_pid, memory_order_relaxed);

    if (pid == 0) {
        pid = (pid_t)syscall(SYS_getpid); /* cannot fail */
        atomic_store_explicit(&cached_pid, pid, memory_order_relaxed);
    }
    return pid;
}

static void
forget_pid(void)
{
    atomic_store_explicit(&cached_pid, 0, memory_order_relaxed);
}

int
ms_pid_cache_init(void)
{
    forget_pid();
    return pthread_atfork(NULL, NULL, forget_pid) == 0 ? 0 : -1;
}

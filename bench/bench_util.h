/* memcoord benchmarks — small shared helpers (header-only): clocks,
 * quantiles of sample arrays, the process's own costs (/proc/self), the
 * limits that bound thread counts, and the RESULT lines that bench/run.sh
 * aggregates over repeated runs.
 *
 * RESULT lines: "RESULT <bench> <n> <metric> <value> <unit>", one figure
 * each, so that `bench/run.sh --repeat K` can print the median and the
 * spread of every figure over K runs. */
#ifndef MEMCOORD_BENCH_UTIL_H
#define MEMCOORD_BENCH_UTIL_H

#include <dirent.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "memcoord/util.h"

static inline int64_t bu_now_ns(void)
{
	return mc_real_now_ns();
}

static inline int bu_cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

static inline void bu_sort(int64_t *v, size_t n)
{
	qsort(v, n, sizeof(*v), bu_cmp_i64);
}

/* The q-quantile of a sorted array (nearest rank); 0 when empty. */
static inline int64_t bu_q(const int64_t *sorted, size_t n, double q)
{
	size_t k;

	if (!n)
		return 0;
	k = (size_t)(q * (double)n + 0.999999);
	if (k < 1)
		k = 1;
	if (k > n)
		k = n;
	return sorted[k - 1];
}

/* One figure for bench/run.sh's aggregation. */
static inline void bu_result(const char *bench, long n, const char *metric, double value,
			     const char *unit)
{
	printf("RESULT %s %ld %s %.6g %s\n", bench, n, metric, value, unit);
	fflush(stdout);
}

/* A "Key:   value kB" line of /proc/self/status; -1 if absent. */
static inline long bu_status_field(const char *key)
{
	char line[256];
	size_t kl = strlen(key);
	long v = -1;
	FILE *f = fopen("/proc/self/status", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, key, kl) == 0 && line[kl] == ':') {
			v = strtol(line + kl + 1, NULL, 10);
			break;
		}
	}
	fclose(f);
	return v;
}

static inline long bu_rss_kib(void) { return bu_status_field("VmRSS"); }

/* Threads of this process: the entries of /proc/self/task. */
static inline long bu_threads(void)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	long n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

/* CPU time (user + system) of this process, all threads. */
static inline int64_t bu_cpu_ns(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru) < 0)
		return 0;
	return ((int64_t)ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * MC_NS_PER_S +
	       ((int64_t)ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000;
}

/* utime + stime of a stat line ("pid (comm) S ..."), in ns; -1 on error. */
static inline int64_t bu_stat_line_cpu_ns(const char *line)
{
	const char *p = strrchr(line, ')');
	unsigned long long ut = 0, st = 0;
	long tck = sysconf(_SC_CLK_TCK);

	/* After ") ": state(3) ppid pgrp session tty tpgid flags minflt
	 * cminflt majflt cmajflt utime(14) stime(15). */
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
			 &ut, &st) != 2 || tck <= 0)
		return -1;
	return (int64_t)((ut + st) * (unsigned long long)(MC_NS_PER_S / tck));
}

/* CPU time of another process (e.g. libvirtd); -1 if it cannot be read. */
static inline int64_t bu_pid_cpu_ns(long pid)
{
	char path[64], line[1024];
	FILE *f;
	int64_t v = -1;

	if (pid <= 0)
		return -1;
	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	if (fgets(line, sizeof(line), f))
		v = bu_stat_line_cpu_ns(line);
	fclose(f);
	return v;
}

/* Threads of another process ("Threads:" of /proc/PID/status). */
static inline long bu_pid_threads(long pid)
{
	char path[64], line[256];
	long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%ld/status", pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, "Threads:", 8) == 0)
			v = strtol(line + 8, NULL, 10);
	fclose(f);
	return v;
}

/* CPU time of one thread of this process, exactly (the scheduler's
 * runtime, through the thread's CPU clock; /proc's per-thread utime and
 * stime are whole clock ticks, which a thread that runs 20 us a second
 * never accumulates). -1 if the thread is gone. */
static inline int64_t bu_tid_cpu_ns(long tid)
{
	/* MAKE_THREAD_CPUCLOCK(tid, CPUCLOCK_SCHED) of the kernel. */
	clockid_t clk = (clockid_t)((~(unsigned)tid << 3) | 6u);
	struct timespec ts;

	if (clock_gettime(clk, &ts) < 0)
		return -1;
	return (int64_t)ts.tv_sec * MC_NS_PER_S + ts.tv_nsec;
}

/* The id of this process's first thread named `name`, or -1. */
static inline long bu_find_thread(const char *name)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	long tid = -1;

	if (!d)
		return -1;
	while (tid < 0 && (e = readdir(d))) {
		char path[300], comm[64] = "";
		FILE *f;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%s/comm", e->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		if (fgets(comm, sizeof(comm), f)) {
			comm[strcspn(comm, "\n")] = '\0';
			if (strcmp(comm, name) == 0)
				tid = strtol(e->d_name, NULL, 10);
		}
		fclose(f);
	}
	closedir(d);
	return tid;
}

/* CPU time of this process's threads by role, from their names:
 * collectors ("mc/<domain>"), the arbiter, the host collector, liburcu's
 * call_rcu worker (named "urcu-call-rcu" by bu_name_call_rcu_thread), the
 * main thread, and the rest (the backend's threads). Threads that exited
 * are not counted. */
struct bu_cpu_split {
	int64_t collectors, arbiter, host, call_rcu, main, other;
	long ncollectors;
};

static inline void bu_cpu_by_role(struct bu_cpu_split *out)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	long self = (long)getpid();

	memset(out, 0, sizeof(*out));
	if (!d)
		return;
	while ((e = readdir(d))) {
		char path[300], comm[64] = "";
		FILE *f;
		int64_t ns;
		long tid;

		if (e->d_name[0] == '.')
			continue;
		tid = strtol(e->d_name, NULL, 10);
		snprintf(path, sizeof(path), "/proc/self/task/%s/comm", e->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;   /* the thread exited meanwhile */
		if (!fgets(comm, sizeof(comm), f))
			comm[0] = '\0';
		fclose(f);
		ns = bu_tid_cpu_ns(tid);
		if (ns < 0)
			continue;
		if (strncmp(comm, "mc/", 3) == 0) {
			out->collectors += ns;
			out->ncollectors++;
		} else if (strncmp(comm, "mc-arbiter", 10) == 0) {
			out->arbiter += ns;
		} else if (strncmp(comm, "mc-host", 7) == 0) {
			out->host += ns;
		} else if (strncmp(comm, "urcu-call-rcu", 13) == 0) {
			out->call_rcu += ns;
		} else if (tid == self) {
			out->main += ns;
		} else {
			out->other += ns;
		}
	}
	closedir(d);
}

/* Call right after get_default_call_rcu_data() when this process had no
 * other thread: the one thread besides main is liburcu's worker. */
static inline void bu_name_call_rcu_thread(void)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	long self = (long)getpid();

	if (!d)
		return;
	while ((e = readdir(d))) {
		char path[300];
		FILE *f;

		if (e->d_name[0] == '.' || strtol(e->d_name, NULL, 10) == self)
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%s/comm", e->d_name);
		f = fopen(path, "w");
		if (f) {
			fputs("urcu-call-rcu", f);
			fclose(f);
		}
	}
	closedir(d);
}

static inline long bu_read_long_file(const char *path)
{
	FILE *f = fopen(path, "r");
	long v = -1;

	if (f) {
		if (fscanf(f, "%ld", &v) != 1)
			v = -1;
		fclose(f);
	}
	return v;
}

static inline void bu_print_rlim(const char *what, int res)
{
	struct rlimit rl;

	if (getrlimit(res, &rl) < 0)
		return;
	if (rl.rlim_cur == RLIM_INFINITY)
		printf("#   %-34s unlimited\n", what);
	else
		printf("#   %-34s %llu\n", what, (unsigned long long)rl.rlim_cur);
}

/* What bounds the number of threads (10,000 collectors need 10,000
 * threads, two memory mappings each: stack and guard page). */
static inline void bu_print_limits(void)
{
	printf("# limits that bound collector threads:\n");
	bu_print_rlim("RLIMIT_NPROC (ulimit -u)", RLIMIT_NPROC);
	bu_print_rlim("RLIMIT_STACK (main thread only)", RLIMIT_STACK);
	bu_print_rlim("RLIMIT_NOFILE", RLIMIT_NOFILE);
	printf("#   %-34s %ld\n", "kernel.threads-max",
	       bu_read_long_file("/proc/sys/kernel/threads-max"));
	printf("#   %-34s %ld\n", "kernel.pid_max", bu_read_long_file("/proc/sys/kernel/pid_max"));
	printf("#   %-34s %ld\n", "vm.max_map_count",
	       bu_read_long_file("/proc/sys/vm/max_map_count"));
	{
		long pids = bu_read_long_file("/sys/fs/cgroup/pids.max");

		if (pids < 0)
			pids = bu_read_long_file("/sys/fs/cgroup/pids/pids.max");
		if (pids >= 0)
			printf("#   %-34s %ld\n", "cgroup pids.max", pids);
	}
}

/* Memory mappings of this process (vm.max_map_count bounds them). */
static inline long bu_maps(void)
{
	FILE *f = fopen("/proc/self/maps", "r");
	long n = 0;
	int c;

	if (!f)
		return -1;
	while ((c = fgetc(f)) != EOF)
		if (c == '\n')
			n++;
	fclose(f);
	return n;
}

/* Linux >= 6.16 gives each process its own futex hash table, sized by the
 * number of CPUs (16 slots on 2 CPUs), not by the number of threads; every
 * futex wake scans its slot's waiters, and with 10,000 threads blocked on
 * their condition variables that is ~600 per wake. memcoord's main moves
 * the process to the kernel's global table (mc_futex_hash_global) before
 * any thread starts; the benchmarks that run the daemon in-process do the
 * same, unless BENCH_FUTEX_PRIVATE=1 (to measure what the private table
 * costs). */
#ifndef PR_FUTEX_HASH
#define PR_FUTEX_HASH 78
#define PR_FUTEX_HASH_GET_SLOTS 2
#endif

static inline void bu_futex_hash_setup(void)
{
	const char *e = getenv("BENCH_FUTEX_PRIVATE");

	if (e && *e && *e != '0')
		printf("# BENCH_FUTEX_PRIVATE: this process keeps its private futex hash\n");
	else if (mc_futex_hash_global() < 0)
		printf("# global futex hash: %s\n", strerror(errno));
}

static inline void bu_futex_hash_print(void)
{
	int slots = prctl(PR_FUTEX_HASH, PR_FUTEX_HASH_GET_SLOTS, 0, 0, 0);

	if (slots < 0)
		printf("# private futex hash: not supported by this kernel (%s)\n", strerror(errno));
	else if (slots == 0)
		printf("# private futex hash: none (the global hash is used)\n");
	else
		printf("# private futex hash: %d slots (for %ld threads)\n", slots, bu_threads());
}

#endif

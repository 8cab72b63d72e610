/* memcoord e2e — the guest's workload: a memory schedule read from the
 * kernel command line, run once, reported on stdout (the serial console).
 *
 *   mc.work=STEP[,STEP...]
 *     wait:S             sleep S seconds
 *     alloc:R:SIZE[:T]   allocate R MiB/s, touching every page, until SIZE
 *                        MiB are held (counted over the whole schedule), an
 *                        mmap fails, or T seconds have passed (default: no
 *                        time limit)
 *     hold:S             keep what is held for S seconds
 *     free               release everything held
 *     idle[:S]           sleep S seconds; without S: the schedule ends here
 *   mc.minavail=MiB      polite allocation: allocate nothing while the
 *                        guest's MemAvailable is below MiB (wait instead);
 *                        0 or absent: allocate regardless (the OOM killer
 *                        decides)
 *
 * Exit status 0 when the schedule finished, 2 on a bad schedule. Killed by
 * the OOM killer, it dies of SIGKILL and /init reports that.
 *
 * Output lines (all start with "MC-"; t is seconds since the workload
 * started, by the guest's CLOCK_MONOTONIC):
 *   MC-WORK <schedule>
 *   MC-MEM start|step t=<t> total=<MiB> free=<MiB> avail=<MiB>
 *                                                at the start and before
 *                                                each step (from meminfo)
 *   MC-STEP <i> <step> t=<t>
 *   MC-STAT t=<t> held=<MiB> avail=<MiB>         every 2 s while allocating
 *                                                and holding
 *   MC-ALLOC-END held=<MiB> why=size|mmap|time t=<t> stalled=<s>
 *   MC-FREED <MiB> t=<t>
 *   MC-SCHEDULE-END held_max=<MiB> t=<t>
 *
 * Built with gcc -static; no library beyond libc. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define MIB (1024UL * 1024UL)
#define MAX_CHUNKS 65536
#define TICK_NS 10000000L          /* pacing tick: 10 ms */
#define BURST_S 0.25               /* most allocation credit carried over */

static void *chunks[MAX_CHUNKS];
static unsigned long held;         /* MiB */
static unsigned long held_max;
static double t0;
static long page_size;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double el(void)
{
	return now() - t0;
}

/* One line, written at once: the console is shared with the kernel. */
static void say(const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if (n > (int)sizeof(buf) - 2)
		n = (int)sizeof(buf) - 2;
	buf[n++] = '\n';
	(void)!write(1, buf, (size_t)n);
}

static void sleep_s(double s)
{
	struct timespec ts;

	if (s <= 0)
		return;
	ts.tv_sec = (time_t)s;
	ts.tv_nsec = (long)((s - (double)ts.tv_sec) * 1e9);
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* MemAvailable in MiB, or -1. */
static long mem_available(void)
{
	FILE *f = fopen("/proc/meminfo", "r");
	char line[128];
	long kib = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "MemAvailable: %ld kB", &kib) == 1)
			break;
	fclose(f);
	return kib < 0 ? -1 : kib / 1024;
}

/* MemTotal, MemFree and MemAvailable, as one console line. */
static void mem_line(const char *what)
{
	FILE *f = fopen("/proc/meminfo", "r");
	char line[128];
	long total = -1, free = -1, avail = -1, v;

	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "MemTotal: %ld kB", &v) == 1)
			total = v / 1024;
		else if (sscanf(line, "MemFree: %ld kB", &v) == 1)
			free = v / 1024;
		else if (sscanf(line, "MemAvailable: %ld kB", &v) == 1)
			avail = v / 1024;
	}
	fclose(f);
	say("MC-MEM %s t=%.1f total=%ld free=%ld avail=%ld", what, el(), total, free, avail);
}

/* The value of KEY=... on the kernel command line, into out. */
static int cmdline_param(const char *key, char *out, size_t len)
{
	static char cmd[4096];
	static int loaded;
	size_t klen = strlen(key);
	char *p;

	if (!loaded) {
		FILE *f = fopen("/proc/cmdline", "r");

		if (!f || !fgets(cmd, sizeof(cmd), f)) {
			if (f)
				fclose(f);
			return -1;
		}
		fclose(f);
		cmd[strcspn(cmd, "\n")] = '\0';
		loaded = 1;
	}
	for (p = cmd; *p; ) {
		size_t wlen = strcspn(p, " ");

		if (wlen > klen && strncmp(p, key, klen) == 0 && p[klen] == '=') {
			size_t vlen = wlen - klen - 1;

			if (vlen >= len)
				vlen = len - 1;
			memcpy(out, p + klen + 1, vlen);
			out[vlen] = '\0';
			return 0;
		}
		p += wlen;
		while (*p == ' ')
			p++;
	}
	return -1;
}

static void stat_line(void)
{
	say("MC-STAT t=%.1f held=%lu avail=%ld", el(), held, mem_available());
}

/* Map and touch one MiB. Returns 0, or -1 when the mapping fails. */
static int grab_chunk(void)
{
	char *p;

	if (held >= MAX_CHUNKS)
		return -1;
	p = mmap(NULL, MIB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return -1;
	for (unsigned long off = 0; off < MIB; off += (unsigned long)page_size)
		p[off] = (char)(held + off / (unsigned long)page_size + 1);
	chunks[held++] = p;
	if (held > held_max)
		held_max = held;
	return 0;
}

static void step_alloc(double rate, unsigned long size, double limit, long minavail)
{
	double start = now(), last = start, next_stat = start + 2, credit = 0, stalled = 0;
	const char *why = "size";

	while (held < size) {
		double t = now(), dt = t - last;

		last = t;
		if (limit > 0 && t - start >= limit) {
			why = "time";
			break;
		}
		if (t >= next_stat) {
			stat_line();
			next_stat += 2;
		}
		if (minavail > 0 && mem_available() < minavail) {
			/* Polite: no credit accrues while the guest is short. */
			stalled += dt;
			sleep_s(0.05);
			continue;
		}
		credit += rate * dt;
		if (credit > rate * BURST_S)
			credit = rate * BURST_S;
		while (credit >= 1.0 && held < size) {
			if (grab_chunk() < 0) {
				why = "mmap";
				goto out;
			}
			credit -= 1.0;
		}
		sleep_s((double)TICK_NS / 1e9);
	}
out:
	say("MC-ALLOC-END held=%lu why=%s t=%.1f stalled=%.1f", held, why, el(), stalled);
}

static void step_hold(double s)
{
	double end = now() + s;

	while (now() < end) {
		double left = end - now();

		stat_line();
		sleep_s(left < 2 ? left : 2);
	}
}

static void step_free(void)
{
	unsigned long n = held;

	while (held > 0) {
		held--;
		munmap(chunks[held], MIB);
		chunks[held] = NULL;
	}
	say("MC-FREED %lu t=%.1f", n, el());
}

int main(void)
{
	char work[2048], buf[32], *save = NULL, *step;
	long minavail = 0;
	int i = 0;

	page_size = sysconf(_SC_PAGESIZE);
	if (page_size <= 0)
		page_size = 4096;
	t0 = now();
	if (cmdline_param("mc.work", work, sizeof(work)) < 0) {
		say("MC-WORK none");
		return 0;
	}
	if (cmdline_param("mc.minavail", buf, sizeof(buf)) == 0)
		minavail = strtol(buf, NULL, 10);
	say("MC-WORK %s minavail=%ld", work, minavail);
	mem_line("start");

	for (step = strtok_r(work, ",", &save); step; step = strtok_r(NULL, ",", &save)) {
		char kind[16] = "";
		double a = 0, b = 0, c = 0;
		int n = sscanf(step, "%15[a-z]:%lf:%lf:%lf", kind, &a, &b, &c);

		mem_line("step");
		say("MC-STEP %d %s t=%.1f", i++, step, el());
		if (n >= 2 && strcmp(kind, "wait") == 0) {
			sleep_s(a);
		} else if (n >= 3 && strcmp(kind, "alloc") == 0 && a > 0) {
			step_alloc(a, (unsigned long)b, n >= 4 ? c : 0, minavail);
		} else if (n >= 2 && strcmp(kind, "hold") == 0) {
			step_hold(a);
		} else if (n == 1 && strcmp(kind, "free") == 0) {
			step_free();
		} else if (n == 1 && strcmp(kind, "idle") == 0) {
			break;
		} else if (n >= 2 && strcmp(kind, "idle") == 0) {
			sleep_s(a);
		} else {
			say("MC-WORK-BAD-STEP %s", step);
			return 2;
		}
	}
	say("MC-SCHEDULE-END held_max=%lu t=%.1f", held_max, el());
	return 0;
}

/* memcoord — small helpers: clocks, UUIDs, strings, numbers. */
#include "memcoord/util.h"

#include <ctype.h>
#include <math.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>

/* Clock speed-up and the real instant it started from. Written once before
 * threads exist, read-only afterwards. */
static double clock_speed = 1.0;
static int64_t clock_origin;

static int64_t real_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * MC_NS_PER_S + ts.tv_nsec;
}

int64_t mc_real_now_ns(void)
{
	return real_now_ns();
}

void mc_clock_set_speed(double k)
{
	clock_origin = real_now_ns();
	clock_speed = k >= 1.0 ? k : 1.0;
}

double mc_clock_speed(void)
{
	return clock_speed;
}

int64_t mc_now_ns(void)
{
	int64_t real = real_now_ns();

	if (clock_speed == 1.0)
		return real;
	return clock_origin + (int64_t)((double)(real - clock_origin) * clock_speed);
}

struct timespec mc_ns_to_ts(int64_t ns)
{
	struct timespec ts;

	/* A deadline on the fast clock is sooner in real time. */
	if (clock_speed != 1.0)
		ns = clock_origin + (int64_t)((double)(ns - clock_origin) / clock_speed);
	ts.tv_sec = ns / MC_NS_PER_S;
	ts.tv_nsec = ns % MC_NS_PER_S;
	return ts;
}

struct timespec mc_deadline_ts(int64_t delta_ns)
{
	return mc_ns_to_ts(mc_now_ns() + delta_ns);
}

#ifndef PR_FUTEX_HASH
#define PR_FUTEX_HASH 78
#define PR_FUTEX_HASH_SET_SLOTS 1
#endif

int mc_futex_hash_global(void)
{
	return prctl(PR_FUTEX_HASH, PR_FUTEX_HASH_SET_SLOTS, 0, 0, 0) < 0 ? -errno : 0;
}

int mc_cond_init_monotonic(pthread_cond_t *cond)
{
	pthread_condattr_t attr;
	int rc;

	rc = pthread_condattr_init(&attr);
	if (rc)
		return -rc;
	rc = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	if (!rc)
		rc = pthread_cond_init(cond, &attr);
	pthread_condattr_destroy(&attr);
	return -rc;
}

void mc_uuid_format(const uint8_t uuid[MC_UUID_LEN], char out[MC_UUID_STR_LEN])
{
	snprintf(out, MC_UUID_STR_LEN,
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 uuid[0], uuid[1], uuid[2], uuid[3], uuid[4], uuid[5], uuid[6], uuid[7],
		 uuid[8], uuid[9], uuid[10], uuid[11], uuid[12], uuid[13], uuid[14], uuid[15]);
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int mc_uuid_parse(const char *s, uint8_t uuid[MC_UUID_LEN])
{
	/* Dashes are accepted only at the canonical 8-4-4-4-12 positions. */
	static const int dash_at[] = {8, 13, 18, 23};
	size_t i, nd = 0, ob = 0;

	if (!s || strlen(s) != 36)
		return -EINVAL;
	for (i = 0; i < 36; ) {
		if (nd < 4 && (int)i == dash_at[nd]) {
			if (s[i] != '-')
				return -EINVAL;
			nd++;
			i++;
			continue;
		}
		int hi = hexval((unsigned char)s[i]);
		int lo = hexval((unsigned char)s[i + 1]);
		if (hi < 0 || lo < 0 || ob >= MC_UUID_LEN)
			return -EINVAL;
		uuid[ob++] = (uint8_t)(hi << 4 | lo);
		i += 2;
	}
	return ob == MC_UUID_LEN ? 0 : -EINVAL;
}

void mc_strlcpy(char *dst, const char *src, size_t dstlen)
{
	size_t n;

	if (!dstlen)
		return;
	n = strnlen(src ? src : "", dstlen - 1);
	memcpy(dst, src ? src : "", n);
	dst[n] = '\0';
}

const char *mc_fmt_mib(char buf[MC_MIB_STR_LEN], uint64_t kib)
{
	unsigned long long whole = kib / MC_KIB_PER_MIB;
	/* Tenths, rounded half up. */
	unsigned tenths = (unsigned)(((kib % MC_KIB_PER_MIB) * 10 +
				      MC_KIB_PER_MIB / 2) / MC_KIB_PER_MIB);

	if (kib % MC_KIB_PER_MIB == 0)
		snprintf(buf, MC_MIB_STR_LEN, "%llu", whole);
	else if (tenths == 10)
		snprintf(buf, MC_MIB_STR_LEN, "%llu.0", whole + 1);
	else
		snprintf(buf, MC_MIB_STR_LEN, "%llu.%u", whole, tenths);
	return buf;
}

int mc_parse_u64(const char *s, uint64_t *out)
{
	unsigned long long v;
	char *end;

	if (!s || !isdigit((unsigned char)s[0]))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno == ERANGE)
		return -ERANGE;
	if (*end != '\0')
		return -EINVAL;
	*out = v;
	return 0;
}

/* Bucket k covers [2^(k/8), 2^((k+1)/8)) ns. */
static int hist_bucket(int64_t ns)
{
	int k;

	if (ns < 1)
		return 0;
	k = (int)(8.0 * log2((double)ns));
	if (k < 0)
		k = 0;
	if (k >= MC_HIST_BUCKETS)
		k = MC_HIST_BUCKETS - 1;
	return k;
}

void mc_hist_add(struct mc_hist *h, int64_t ns)
{
	h->bucket[hist_bucket(ns)]++;
	h->count++;
	if (ns > 0)
		h->sum_ns = ns > INT64_MAX - h->sum_ns ? INT64_MAX : h->sum_ns + ns;
	if (ns > h->max_ns)
		h->max_ns = ns;
}

int64_t mc_hist_quantile(const struct mc_hist *h, double q)
{
	uint64_t want, seen = 0;

	if (!h->count)
		return 0;
	want = (uint64_t)(q * (double)h->count);
	if (want >= h->count)
		want = h->count - 1;
	for (int k = 0; k < MC_HIST_BUCKETS; k++) {
		seen += h->bucket[k];
		if (seen > want) {
			int64_t edge = (int64_t)exp2((double)(k + 1) / 8.0);

			return edge < h->max_ns ? edge : h->max_ns;
		}
	}
	return h->max_ns;
}

uint64_t mc_hist_count_le(const struct mc_hist *h, int64_t ns)
{
	uint64_t n = 0;

	for (int k = 0; k < MC_HIST_BUCKETS; k++) {
		/* Bucket k holds [2^(k/8), 2^((k+1)/8)) ns; bucket 0 also 0. */
		if (exp2((double)(k + 1) / 8.0) > (double)ns)
			break;
		n += h->bucket[k];
	}
	return n;
}

void mc_seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

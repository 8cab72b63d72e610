/* memcoord — tests of the reasons' text (mc_reason_format): every kind's
 * wording, which logs, status, traces and the end-to-end lab read, with
 * the MiB of each policy; short buffers, unknown kinds. */
#include <stdio.h>
#include <string.h>

#include "memcoord/policy.h"

#include "check.h"

#define MIB(x) ((int64_t)(x) * 1024)

static void report(const char *name, int before)
{
	printf("%s - %s\n", check_failures == before ? "ok" : "FAIL", name);
}

struct want {
	struct mc_reason r;
	const char *text;
};

static const struct want wants[] = {
	{ { .kind = MC_REASON_GROW_LOW, .v = { MIB(100), MIB(128), MIB(20), MIB(156) } },
	  "grow: usable 100 MiB < low 128 MiB, consuming 20 MiB/s, +156 MiB" },
	{ { .kind = MC_REASON_GROW_LOW, .flags = MC_REASON_SHARED,
	    .v = { 80 * 1024 + 512, MIB(128), -300, MIB(64) + 51 } },
	  "grow: usable 80.5 MiB < low 128 MiB, consuming -0.3 MiB/s, +64 MiB (shared by weight)" },
	{ { .kind = MC_REASON_GROW_PREDICT,
	    .v = { MIB(200), MIB(20), MIB(128), 3000 * 1024 / 1000, MIB(52) } },
	  "grow: usable 200 MiB, consuming 20 MiB/s, below low 128 MiB within 3 s, +52 MiB" },
	{ { .kind = MC_REASON_GROW_PRESSURE, .flags = MC_REASON_SHARED,
	    .v = { 3 * 1024 + 102, 100, MIB(300), MIB(128) } },
	  "grow: pressure (swap 3.1 MiB/s, 100 major faults/s), usable 300 MiB, +128 MiB (shared by weight)" },
	{ { .kind = MC_REASON_SHRINK, .v = { MIB(1024), MIB(256), MIB(64) } },
	  "shrink: usable 1024 MiB > high 256 MiB, -64 MiB" },
	{ { .kind = MC_REASON_RECLAIM, .v = { MIB(900), MIB(192), MIB(700) } },
	  "reclaim: others need memory, usable 900 MiB > target 192 MiB, -700 MiB" },
	{ { .kind = MC_REASON_RECLAIM, .flags = MC_REASON_SHORT,
	    .v = { MIB(900), MIB(192), MIB(700) } },
	  "reclaim: host/budget short, usable 900 MiB > target 192 MiB, -700 MiB" },
	{ { .kind = MC_REASON_REBALANCE, .n = 2, .v = { MIB(180), MIB(40) } },
	  "rebalance: others below low, usable 180 MiB, -40 MiB (weight 2)" },
	{ { .kind = MC_REASON_SQUEEZE, .n = 1, .v = { MIB(150), MIB(22) } },
	  "squeeze: host/budget short, usable 150 MiB, -22 MiB (weight 1)" },
	/* The seed's MiB keep a ".0" when the tenths round up to a whole. */
	{ { .kind = MC_REASON_SEED_TAKE, .n = 0x0a0b0c0d,
	    .v = { MIB(80), MIB(100), MIB(100), MIB(5) + 1023 } },
	  "seed: unused 80 MiB <= loaded 100 MiB, +100 MiB from uuid 0a0b0c0d (unused 6.0 MiB)" },
	{ { .kind = MC_REASON_SEED_GIVE, .n = 0xff000001,
	    .v = { MIB(900), MIB(300), MIB(100), MIB(80) } },
	  "seed: unused 900 MiB >= free 300 MiB, -100 MiB to uuid ff000001 (unused 80 MiB)" },
	{ { .kind = MC_REASON_SEED_HOST_GROW, .v = { MIB(50), MIB(100) + 512, MIB(300), MIB(300) } },
	  "seed: unused 50 MiB <= loaded 100.5 MiB, no domain has >= free 300 MiB unused, +300 MiB from the host" },
	{ { .kind = MC_REASON_SEED_HOST_GIVE, .v = { MIB(400), MIB(300), MIB(100) } },
	  "seed: unused 400 MiB >= free 300 MiB, -100 MiB back to the host" },
	{ { .kind = MC_REASON_SEED_RECLAIM,
	    .v = { MIB(50), MIB(100), MIB(400), MIB(300), MIB(100) } },
	  "seed: host free 50 MiB < loaded 100 MiB, unused 400 MiB > free 300 MiB, reclaim 100 MiB" },
	{ { .kind = MC_REASON_NONE }, "no reason given" },
	{ { .kind = 200 }, "unknown reason 200" },
};

static void test_wording(void)
{
	int before = check_failures;

	for (size_t i = 0; i < sizeof(wants) / sizeof(wants[0]); i++) {
		struct mc_action a = { .dom = 0, .target_kib = 1, .reason = wants[i].r };
		char buf[MC_REASON_LEN];
		const char *got = mc_reason_format(&a, buf, sizeof(buf));

		CHECK(got == buf);
		if (strcmp(got, wants[i].text) != 0) {
			fprintf(stderr, "kind %u:\n  got  \"%s\"\n  want \"%s\"\n",
				wants[i].r.kind, got, wants[i].text);
			check_failures++;
		}
	}
	report("every kind of reason reads as its policy wrote it", before);
}

static void test_short_buffer(void)
{
	int before = check_failures;
	struct mc_action a = { .reason = wants[0].r };
	char buf[12];

	memset(buf, 'x', sizeof(buf));
	mc_reason_format(&a, buf, 8);
	CHECK(strcmp(buf, "grow: u") == 0);
	CHECK(buf[8] == 'x');
	/* A zero-length buffer is left alone. */
	mc_reason_format(&a, buf + 9, 0);
	CHECK(buf[9] == 'x');
	report("a short buffer gets a terminated prefix, nothing beyond", before);
}

int main(void)
{
	test_wording();
	test_short_buffer();
	return check_failures ? 1 : 0;
}

/* memcoord — guest statistics as hostile input: sanity checks, and the
 * signals derived from two consecutive samples (headroom, consumption rate,
 * swap and fault rates, staleness).
 *
 * Pure functions: the collector calls them with its previous trusted sample
 * and logs what they find; the policy reads the results from the view. */
#ifndef MEMCOORD_SIGNALS_H
#define MEMCOORD_SIGNALS_H

#include <stdbool.h>
#include <stdint.h>

#include "memcoord/hv.h"

/* Why a sample was rejected (bits of mc_signals.bad). */
#define MC_BAD_UNUSED      0x01u  /* unused above the balloon */
#define MC_BAD_USABLE      0x02u  /* usable above the balloon */
#define MC_BAD_CACHES      0x04u  /* disk caches above the balloon */
#define MC_BAD_AVAILABLE   0x08u  /* guest MemTotal above the balloon */
#define MC_BAD_COUNTER     0x10u  /* a counter went backwards */
#define MC_BAD_MAGNITUDE   0x20u  /* a value beyond any real guest */
#define MC_BAD_LAST_UPDATE 0x40u  /* the guest's stats clock went backwards */
#define MC_BAD_ACTUAL      0x80u  /* balloon above the domain maximum */
#define MC_BAD_NBITS 8

/* A domain's first trusted samples cover its boot and its workload's start:
 * steps it does not repeat, not a measure of how it moves. */
#define MC_SIG_JUMP_AFTER 10

/* Largest memory figure believed: 64 TiB in KiB. */
#define MC_SIG_MAX_KIB (64ULL * 1024 * 1024 * 1024)

struct mc_signals {
	uint32_t bad;              /* 0: trusted */
	bool has_rates;            /* rates derived from a previous trusted sample */
	uint64_t headroom_kib;     /* usable, else unused + disk_caches, capped at actual */
	int64_t consume_kib_s;     /* growth of used memory (MemTotal -
				    * headroom) per second over the last two
				    * intervals between settled reports;
				    * negative when freeing. After the guest's
				    * MemTotal rose by 16 MiB or more (a grow
				    * of the balloon) its MemAvailable lags for
				    * a few reports, which reads as consumption
				    * far above and then far below the real:
				    * the previous estimate is kept through the
				    * report that shows the rise and the next
				    * two, and those reports are not settled */
	uint32_t carried;          /* fresh samples in a row that kept the
				    * previous consumption estimate */
	struct mc_sig_window {     /* where the consumption is measured from */
		uint32_t settling;     /* fresh samples still to keep it after
					* a rise of the guest's total memory */
		uint32_t bases;        /* settled reports held below (0-2) */
		int64_t base_used_kib; /* where the next measurement starts: */
		int64_t base_ns;       /* the settled report two back (or one) */
		int64_t mid_used_kib;  /* the last settled report */
		int64_t mid_ns;
	} win;
	uint64_t swap_in_kib_s;
	uint64_t swap_out_kib_s;
	uint64_t major_fault_s;
	uint32_t trusted;          /* trusted samples in a row, this one included
				    * (counted from the last rejection of a
				    * counter or the clock, as after a reboot) */
	uint64_t jump_kib;         /* the largest rise of used memory between two
				    * fresh samples lately, halving every 30 s:
				    * how far a guest that moves in steps (not
				    * at a steady rate) may go before the next
				    * sample. Not counted across a grow of
				    * 16 MiB or more (the guest's figures lag
				    * it), nor within a domain's first
				    * MC_SIG_JUMP_AFTER trusted samples */
	uint32_t stale_samples;    /* consecutive samples with last_update unchanged */
	uint32_t unabsorbed;       /* consecutive fresh samples in which the balloon
				    * grew but the headroom did not follow (by a
				    * quarter of the growth): grants vanishing
				    * without a trace, as a guest lying about
				    * its memory makes them */
	int64_t moved_kib;         /* balloon change since the previous sample
				    * (fresh or not; 0 without one): a balloon
				    * moving that memcoord did not move is
				    * left alone until it stops */
	bool fresh;                /* new guest data (last_update advanced, or
				    * not reported): the collector keeps the
				    * last fresh trusted sample as `prev`, so
				    * rates span real guest updates */
};

/* Check cur and derive its signals. prev is the last fresh trusted sample
 * (NULL if none) taken at prev_ns; prev_sig is the signals of the latest
 * trusted sample (fresh or not; NULL if none), whose stale count and rates a
 * stale sample carries on. cur was taken at cur_ns; max_kib is the domain's
 * maximum memory (0 if unknown); recent_actual_kib is the balloon of the
 * previous sample (0 if none): the guest's own figures may predate a shrink
 * by up to a stats period, so they are checked against the larger of the
 * two balloons. A sample with bad != 0 must not be trusted; its other
 * fields are zero. */
void mc_signals_derive(const struct mc_stats *prev, int64_t prev_ns,
		       const struct mc_signals *prev_sig,
		       const struct mc_stats *cur, int64_t cur_ns,
		       uint64_t max_kib, uint64_t recent_actual_kib,
		       struct mc_signals *out);

/* Short text of one MC_BAD_* bit ("unused above actual", ...). */
const char *mc_signals_bad_name(uint32_t bit);

#endif

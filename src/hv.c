/* memcoord — the hypervisor interface: pieces shared by every backend.
 *
 * The error text is thread-local, like libvirt's virGetLastError(): an op
 * that fails on a collector thread leaves its text for that thread only, so
 * concurrent callers never read each other's messages. */
#include "memcoord/hv.h"

#include <stdarg.h>
#include <stdio.h>

/* Long enough for a libvirt message plus a URI or a domain name. */
#define MC_HV_ERR_LEN 512

static __thread char hv_err[MC_HV_ERR_LEN];

static const char *const stat_names[MC_STAT_NR] = {
	[MC_STAT_SWAP_IN] = "swap_in",
	[MC_STAT_SWAP_OUT] = "swap_out",
	[MC_STAT_MAJOR_FAULT] = "major_fault",
	[MC_STAT_MINOR_FAULT] = "minor_fault",
	[MC_STAT_UNUSED] = "unused",
	[MC_STAT_AVAILABLE] = "available",
	[MC_STAT_ACTUAL] = "actual",
	[MC_STAT_RSS] = "rss",
	[MC_STAT_USABLE] = "usable",
	[MC_STAT_LAST_UPDATE] = "last_update",
	[MC_STAT_DISK_CACHES] = "disk_caches",
	[MC_STAT_HUGETLB_PGALLOC] = "hugetlb_pgalloc",
	[MC_STAT_HUGETLB_PGFAIL] = "hugetlb_pgfail",
};

const char *mc_stat_name(enum mc_stat tag)
{
	/* The cast catches negative values smuggled in through the enum. */
	if ((unsigned int)tag >= MC_STAT_NR || !stat_names[tag])
		return "unknown";
	return stat_names[tag];
}

const char *mc_hv_last_error(void)
{
	return hv_err;
}

void mc_hv_set_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	/* Truncation is acceptable: the text is for humans. */
	vsnprintf(hv_err, sizeof(hv_err), fmt, ap);
	va_end(ap);
}

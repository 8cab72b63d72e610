/* memcoord — libvirt backend of the hypervisor interface.
 *
 * One backend owns one primary libvirt connection at a time, optionally a
 * small pool of further connections for the domain handles (collectors),
 * plus one event-loop thread. A connection can die (libvirtd restarted,
 * keepalive timeout); then the backend tears all of them down, bumps a
 * generation counter and reconnects in the background, and every domain
 * handle re-resolves itself on the new connections the next time it is
 * used.
 *
 * Why a pool: libvirt's client serialises the calls of one connection (one
 * thread at a time owns the socket and hands it on to the next waiting
 * thread), and libvirtd runs at most max_client_requests (default 5) calls
 * of one connection at once. With hundreds of collectors on one connection
 * their calls queue behind each other; spread over a few connections they
 * overlap. The primary connection carries the lifecycle events, the
 * listing, the host statistics and the actuator's balloon changes, so those
 * never wait behind the collectors' queue.
 *
 * One RPC per sample: dom_info answers from what the handle read before
 * (virDomainGetInfo) as long as nothing can have changed it: no lifecycle
 * event for the domain since (a domain is paused, resumed, stopped only
 * with one), no balloon change by this backend, the same connection
 * generation, and at most LV_XML_REFRESH_CALLS calls ago. The balloon size
 * follows the "actual" statistic of every dom_stats. So a collector's steady
 * state is one virDomainMemoryStats per period.
 *
 * Threads:
 *  - callers (collectors, arbiter, main) run the ops concurrently. Each op
 *    takes its own reference to the current connection under `lock`, makes
 *    its libvirt calls without the lock and drops the reference.
 *  - the event thread runs libvirt's default event loop. Timers, socket I/O,
 *    keepalive and domain events are dispatched there, and so are all user
 *    callbacks. It never touches RCU.
 *  - libvirt may call the close callback from whichever thread noticed the
 *    dead socket; that callback only marks the connection lost and arms the
 *    timer, the teardown itself happens on the event thread.
 *
 * Lifetime: struct lv is reference counted. The owner (mc_hv) holds one
 * reference, the event thread one, every domain handle one, and every
 * libvirt registration whose opaque is `lv` (the timer, each lifecycle
 * callback) one, dropped by the free callback libvirt runs once it will
 * never call us again. So a late callback can never see freed memory, and
 * stop() can wait until libvirt has let go of everything before it stops
 * the event thread. (The close callback has no free callback: see
 * lv_connect.)
 *
 * Lock order: libvirt's close-callback lock -> lv->lock -> libvirt's event
 * loop lock. Never call into libvirt (other than the event timer functions)
 * while holding lv->lock.
 */
#include "memcoord/hv.h"
#include "memcoord/log.h"
#include "memcoord/util.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#define LV_DEFAULT_URI "qemu:///system"

/* Client keepalive: a probe every 5 s; 3 unanswered probes declare the
 * connection dead (~20 s), which fires the close callback. */
#define LV_KEEPALIVE_INTERVAL_S 5
#define LV_KEEPALIVE_COUNT 3U

/* Reconnect backoff: the first retry comes quickly (libvirtd restarts take a
 * fraction of a second), then 500 ms, then one attempt a second for as long
 * as the outage lasts. The cap bounds the delay between the daemon coming
 * back and memcoord noticing to 1 s plus the connection set-up; an attempt
 * on an absent socket is one failed connect() (microseconds), so a second
 * apart costs nothing measurable while the daemon is down. Watching the
 * socket file instead would only work for local UNIX-socket URIs. */
#define LV_BACKOFF_MIN_MS 250
#define LV_BACKOFF_MAX_MS 1000

/* dom_info re-reads the live XML (min_guarantee, balloon device) once every
 * this many calls: both change rarely, and an XML fetch is a full RPC plus a
 * few KiB of formatting in libvirtd. */
#define LV_XML_REFRESH_CALLS 30

/* Connections the domain handles are spread over: 1 means all on the
 * primary connection. */
#define LV_CONNS_DEFAULT 4
#define LV_CONNS_MAX 16

/* Per-domain event counters, indexed by a hash of the UUID: a lifecycle
 * event or a balloon change bumps its domain's counter, and a handle
 * re-reads virDomainGetInfo when the counter moved. Domains sharing a slot
 * only cost each other an extra read. */
#define LV_DOM_EV_SLOTS 1024

/* XML documents larger than this are not scanned (a domain's XML is a few
 * KiB; this only bounds the work on something absurd). */
#define LV_XML_MAX_LEN (4U * 1024 * 1024)

/* How long stop() lets the event loop run so libvirt can release our
 * registrations before the event thread is stopped. */
#define LV_STOP_DRAIN_NS (5 * MC_NS_PER_S)

/* How long stop() waits for the event thread to exit. It can be stuck in
 * virConnectOpen (a reconnect to a hung libvirtd has no timeout); then it
 * is detached and finishes on its own (it holds a reference to lv). */
#define LV_STOP_JOIN_NS (5 * MC_NS_PER_S)

struct lv {
	struct mc_hv hv;            /* hv.priv points back here */
	char *uri;
	atomic_int refs;            /* see "Lifetime" above */

	pthread_mutex_t lock;
	pthread_cond_t cond;        /* CLOCK_MONOTONIC; dispatching/regs changes */
	/* Everything below up to ev_thread is protected by lock. */
	virConnectPtr conn;         /* current connection, NULL when none */
	int cb_id;                  /* lifecycle callback id on conn, or -1 */
	/* The handles' connections, opened and torn down with conn, same
	 * generation. NULL slots (or nconns 1) mean conn. */
	virConnectPtr pool[LV_CONNS_MAX];
	unsigned int nconns;        /* configured size of the pool, >= 1 */
	uint64_t gen;               /* bumped whenever conn changes */
	bool lost;                  /* conn died; the timer tears it down */
	bool want_conn;             /* reconnect whenever there is no conn */
	bool announce;              /* CONNECTED not yet delivered for conn */
	bool started;
	bool stopping;              /* stop() began: no more events, no conn */
	int timer;                  /* reconnect/teardown timer, -1 when none */
	int backoff_ms;             /* delay before the next reconnect attempt */
	unsigned int dispatching;   /* user callbacks running right now */
	unsigned int regs;          /* registrations not yet released by libvirt */

	pthread_t ev_thread;        /* owner-only (start/stop) */
	bool ev_running;            /* ev_thread created and not joined */
	atomic_bool ev_quit;

	atomic_uint next_slot;      /* round-robin pool slot of new handles */
	atomic_uint dom_ev[LV_DOM_EV_SLOTS];   /* see LV_DOM_EV_SLOTS */
};

/* A per-domain handle. Used by one thread at a time (contract of hv.h), so
 * it needs no lock of its own. */
struct mc_hv_dom {
	struct lv *lv;
	uint8_t uuid[MC_UUID_LEN];
	unsigned int slot;          /* its connection in lv->pool */
	virDomainPtr dom;           /* valid on connection generation `gen` */
	uint64_t gen;
	/* Cached from the live XML; xml_valid false forces a re-read. */
	bool xml_valid;
	unsigned int xml_calls;     /* dom_info calls since the last read */
	uint64_t min_guarantee_kib;
	bool has_balloon;
	/* Cached virDomainGetInfo (name, state, sizes), valid while
	 * info_valid and lv->dom_ev[] of the domain still reads info_ev. */
	bool info_valid;
	unsigned int info_ev;
	struct mc_dom_info info;
};

static const uint8_t lv_zero_uuid[MC_UUID_LEN];

/* ---- process-wide libvirt set-up ---- */

static pthread_once_t lv_once = PTHREAD_ONCE_INIT;
static int lv_once_rc;
static char lv_once_err[256];

/* Errors are returned as codes + mc_hv_last_error(); libvirt's default
 * handler would also print every one of them to stderr. */
static void lv_silent_error(void *opaque, virErrorPtr err)
{
	(void)opaque;
	(void)err;
}

/* The event implementation must be registered before the first connection
 * is opened, and only once per process. */
static void lv_global_init(void)
{
	if (virInitialize() < 0 || virEventRegisterDefaultImpl() < 0) {
		const char *m = virGetLastErrorMessage();

		snprintf(lv_once_err, sizeof(lv_once_err), "%s", m ? m : "unknown error");
		lv_once_rc = -EIO;
	}
	virSetErrorFunc(NULL, lv_silent_error);
}

/* ---- references and registrations ---- */

static struct lv *lv_ref(struct lv *lv)
{
	atomic_fetch_add_explicit(&lv->refs, 1, memory_order_relaxed);
	return lv;
}

static void lv_unref(struct lv *lv)
{
	if (!lv || atomic_fetch_sub_explicit(&lv->refs, 1, memory_order_acq_rel) != 1)
		return;
	pthread_cond_destroy(&lv->cond);
	pthread_mutex_destroy(&lv->lock);
	free(lv->uri);
	free(lv);
}

/* Accounts for a libvirt registration about to be made with `lv` as its
 * opaque. Undone by lv_reg_release (the registration's free callback) or by
 * lv_reg_abort when the registration failed (libvirt then does not call the
 * free callback). */
static void lv_reg_hold(struct lv *lv)
{
	pthread_mutex_lock(&lv->lock);
	lv->regs++;
	pthread_mutex_unlock(&lv->lock);
	lv_ref(lv);
}

/* virFreeCallback: libvirt will never call us with this opaque again. Must
 * not call libvirt (it runs in a non-reentrant context). */
static void lv_reg_release(void *opaque)
{
	struct lv *lv = opaque;

	pthread_mutex_lock(&lv->lock);
	lv->regs--;
	pthread_cond_broadcast(&lv->cond);
	pthread_mutex_unlock(&lv->lock);
	lv_unref(lv);
}

static void lv_reg_abort(struct lv *lv)
{
	lv_reg_release(lv);
}

/* ---- errors ---- */

static void lv_mark_lost(struct lv *lv, virConnectPtr conn);

/* Records this thread's libvirt error as mc_hv_last_error() ("<what>:
 * <libvirt message>") and maps it onto hv.h's errno contract. `conn` and
 * `dom` may be NULL; they only refine the mapping. A connection found dead
 * here is handed to the reconnect logic even if its close callback never
 * fires (drivers without one). */
static int lv_fail(struct lv *lv, virConnectPtr conn, virDomainPtr dom,
		   const char *what)
{
	virErrorPtr e = virGetLastError();
	/* Copy what we need: the next libvirt call resets the error. */
	int code = e ? e->code : VIR_ERR_INTERNAL_ERROR;
	int from = e ? e->domain : VIR_FROM_NONE;
	int r, active;

	mc_hv_set_error("%s: %s", what,
			e && e->message ? e->message : "unknown libvirt error");
	switch (code) {
	case VIR_ERR_NO_DOMAIN:
		r = -ENOENT;
		break;
	case VIR_ERR_NO_SUPPORT:
		r = -ENOTSUP;
		break;
	case VIR_ERR_RPC:
	case VIR_ERR_NO_CONNECT:
	case VIR_ERR_INVALID_CONN:
		r = -ENOTCONN;
		break;
	case VIR_ERR_SYSTEM_ERROR:
		/* A socket failure (from the RPC layer) means the connection;
		 * the same code from a driver means a local failure such as a
		 * cgroup write, which reconnecting would not fix. */
		r = (from == VIR_FROM_RPC || from == VIR_FROM_REMOTE) ? -ENOTCONN : -EIO;
		break;
	case VIR_ERR_OPERATION_INVALID:
		/* Almost always "domain is not running": for memcoord, which
		 * only manages running domains, the domain is gone. Ask, so
		 * that other invalid operations stay -EIO. */
		r = -EIO;
		if (dom) {
			active = virDomainIsActive(dom);
			if (active == 0 || (active < 0 && virGetLastErrorCode() == VIR_ERR_NO_DOMAIN))
				r = -ENOENT;
		}
		break;
	default:
		r = -EIO;
		break;
	}
	if (conn && (r == -EIO || r == -ENOTCONN) && virConnectIsAlive(conn) == 0) {
		r = -ENOTCONN;
		lv_mark_lost(lv, conn);
	}
	virResetLastError();
	return r;
}

/* "domain <uuid>" prefix for error texts. */
static void lv_what(char *buf, size_t len, const char *op, const uint8_t uuid[MC_UUID_LEN])
{
	char s[MC_UUID_STR_LEN];

	mc_uuid_format(uuid, s);
	snprintf(buf, len, "%s domain %s", op, s);
}

/* ---- per-domain event counters ---- */

static atomic_uint *lv_dom_ev(struct lv *lv, const uint8_t uuid[MC_UUID_LEN])
{
	uint32_t h = 2166136261u;   /* FNV-1a: UUIDs are random already */

	for (int i = 0; i < MC_UUID_LEN; i++)
		h = (h ^ uuid[i]) * 16777619u;
	return &lv->dom_ev[h % LV_DOM_EV_SLOTS];
}

/* Something about the domain changed: its handles re-read their info. */
static void lv_dom_changed(struct lv *lv, const uint8_t uuid[MC_UUID_LEN])
{
	atomic_fetch_add_explicit(lv_dom_ev(lv, uuid), 1, memory_order_release);
}

/* ---- events ---- */

/* Calls the user's callback unless stop() has begun; stop() waits for the
 * calls in flight. Runs on the event thread. */
static void lv_deliver(struct lv *lv, enum mc_hv_event ev,
		       const uint8_t uuid[MC_UUID_LEN], const char *name)
{
	pthread_mutex_lock(&lv->lock);
	if (lv->stopping || !lv->hv.cb.event) {
		pthread_mutex_unlock(&lv->lock);
		return;
	}
	lv->dispatching++;
	pthread_mutex_unlock(&lv->lock);

	lv->hv.cb.event(lv->hv.cb.opaque, ev, uuid ? uuid : lv_zero_uuid,
			name ? name : "");

	pthread_mutex_lock(&lv->lock);
	if (--lv->dispatching == 0)
		pthread_cond_broadcast(&lv->cond);
	pthread_mutex_unlock(&lv->lock);
}

static int lv_lifecycle_cb(virConnectPtr conn, virDomainPtr dom, int event,
			   int detail, void *opaque)
{
	struct lv *lv = opaque;
	uint8_t uuid[MC_UUID_LEN];
	char name[MC_NAME_LEN];
	const char *n;
	enum mc_hv_event ev;

	(void)conn;
	(void)detail;
	/* Local to the virDomainPtr: no RPC. */
	if (virDomainGetUUID(dom, uuid) < 0) {
		virResetLastError();
		return 0;
	}
	/* Every lifecycle event (also SUSPENDED, RESUMED, ...) may change
	 * what dom_info reports. */
	lv_dom_changed(lv, uuid);
	switch (event) {
	case VIR_DOMAIN_EVENT_STARTED:
		ev = MC_HV_EV_STARTED;
		break;
	case VIR_DOMAIN_EVENT_STOPPED:
	case VIR_DOMAIN_EVENT_CRASHED:
		ev = MC_HV_EV_STOPPED;
		break;
	case VIR_DOMAIN_EVENT_UNDEFINED:
		/* Undefining a running domain only makes it transient: it
		 * keeps running and must stay managed. */
		if (virDomainIsActive(dom) == 1)
			return 0;
		virResetLastError();
		ev = MC_HV_EV_STOPPED;
		break;
	default:
		/* RESUMED, SUSPENDED, DEFINED, ...: not a change of the set
		 * of running domains. */
		return 0;
	}
	n = virDomainGetName(dom);
	mc_strlcpy(name, n ? n : "", sizeof(name));
	lv_deliver(lv, ev, uuid, name);
	return 0;
}

/* virConnectCloseFunc; may run on any thread, with libvirt's close-callback
 * lock held: must not call virConnectUnregisterCloseCallback/virConnectClose
 * here. */
static void lv_close_cb(virConnectPtr conn, int reason, void *opaque)
{
	mc_debug("libvirt connection closed (reason %d)", reason);
	lv_mark_lost(opaque, conn);
}

/* Whether conn is one of the current connections. Called with lv->lock. */
static bool lv_is_current(struct lv *lv, virConnectPtr conn)
{
	if (!conn)
		return false;
	if (conn == lv->conn)
		return true;
	for (unsigned int i = 0; i < LV_CONNS_MAX; i++)
		if (conn == lv->pool[i])
			return true;
	return false;
}

/* Schedules the teardown of the current connections on the event thread if
 * `conn` is one of them (a pool connection's loss takes the generation down
 * like the primary's: one reconnect path). The caller holds a reference to
 * conn, so its address cannot have been reused by a newer connection. */
static void lv_mark_lost(struct lv *lv, virConnectPtr conn)
{
	pthread_mutex_lock(&lv->lock);
	if (lv_is_current(lv, conn) && !lv->lost && !lv->stopping) {
		lv->lost = true;
		if (lv->timer >= 0)
			virEventUpdateTimeout(lv->timer, 0);
	}
	pthread_mutex_unlock(&lv->lock);
}

/* ---- connection ---- */

/* Drops everything registered on `conn` and our reference to it. Called
 * without lv->lock. Errors are ignored: on a dead connection deregistering
 * may fail, and libvirt then releases the callbacks when the connection
 * object is freed. */
static void lv_teardown(virConnectPtr conn, int cb_id)
{
	if (cb_id >= 0 && virConnectDomainEventDeregisterAny(conn, cb_id) < 0)
		virResetLastError();
	/* Blocks until a close callback running right now has returned. */
	if (virConnectUnregisterCloseCallback(conn, lv_close_cb) < 0)
		virResetLastError();
	if (virConnectClose(conn) < 0)
		virResetLastError();
}

/* Tears down the pool connections moved out of lv (pool[] entries). */
static void lv_teardown_pool(virConnectPtr pool[LV_CONNS_MAX])
{
	for (unsigned int i = 0; i < LV_CONNS_MAX; i++) {
		if (pool[i])
			lv_teardown(pool[i], -1);
		pool[i] = NULL;
	}
}

/* libvirt's in-process test driver gives every connection to a file
 * (test:///path.xml) its own private state: a pool would read other
 * domains than the primary connection sees. test:///default is shared. */
static bool lv_private_state_uri(const char *uri)
{
	return strncmp(uri, "test:///", 8) == 0 && strcmp(uri + 8, "default") != 0;
}

/* Opens the handles' connections into pool[] (nconns > 1). A connection
 * that cannot be opened leaves its slot NULL: its handles use the primary
 * connection rather than none (libvirtd may limit clients). */
static void lv_open_pool(struct lv *lv, unsigned int nconns,
			 virConnectPtr pool[LV_CONNS_MAX])
{
	for (unsigned int i = 0; nconns > 1 && i < nconns; i++) {
		virConnectPtr c = virConnectOpen(lv->uri);

		if (!c) {
			const char *m = virGetLastErrorMessage();

			mc_debug("pool connection %u to %s: %s (its domains use the primary)",
				 i, lv->uri, m ? m : "unknown error");
			virResetLastError();
			continue;
		}
		if (virConnectSetKeepAlive(c, LV_KEEPALIVE_INTERVAL_S, LV_KEEPALIVE_COUNT) < 0)
			virResetLastError();
		/* As for the primary: no free callback, lv_teardown
		 * unregisters synchronously. */
		if (virConnectRegisterCloseCallback(c, lv_close_cb, lv, NULL) < 0)
			virResetLastError();
		pool[i] = c;
	}
}

/* Opens a connection, registers the callbacks and installs it as current.
 * `announce`: have the timer deliver CONNECTED (for a caller that is not on
 * the event thread). Returns 0, -ENOTCONN/-EIO with mc_hv_last_error() set,
 * or -ECANCELED when stop() began meanwhile. */
static int lv_connect(struct lv *lv, bool announce)
{
	virConnectPtr conn, pool[LV_CONNS_MAX] = { NULL };
	unsigned int nconns;
	int cb_id, r = 0;

	conn = virConnectOpen(lv->uri);
	if (!conn) {
		const char *m = virGetLastErrorMessage();

		mc_hv_set_error("cannot connect to %s: %s", lv->uri, m ? m : "unknown error");
		virResetLastError();
		return -ENOTCONN;
	}
	/* Local drivers (test:///, ...) have no keepalive: fine. */
	if (virConnectSetKeepAlive(conn, LV_KEEPALIVE_INTERVAL_S, LV_KEEPALIVE_COUNT) < 0)
		virResetLastError();

	lv_reg_hold(lv);
	cb_id = virConnectDomainEventRegisterAny(conn, NULL, VIR_DOMAIN_EVENT_ID_LIFECYCLE,
						 VIR_DOMAIN_EVENT_CALLBACK((void (*)(void))lv_lifecycle_cb),
						 lv, lv_reg_release);
	if (cb_id < 0) {
		r = lv_fail(lv, NULL, NULL, "cannot register lifecycle events");
		lv_reg_abort(lv);
		goto fail;
	}
	/* No free callback: drivers without close-callback support accept
	 * the registration and never call it. lv outlives the registration
	 * because lv_teardown unregisters synchronously. */
	if (virConnectRegisterCloseCallback(conn, lv_close_cb, lv, NULL) < 0) {
		r = lv_fail(lv, NULL, NULL, "cannot register close callback");
		goto fail;
	}
	pthread_mutex_lock(&lv->lock);
	nconns = lv_private_state_uri(lv->uri) ? 1 : lv->nconns;
	pthread_mutex_unlock(&lv->lock);
	lv_open_pool(lv, nconns, pool);

	pthread_mutex_lock(&lv->lock);
	if (lv->stopping) {
		pthread_mutex_unlock(&lv->lock);
		lv_teardown_pool(pool);
		lv_teardown(conn, cb_id);
		mc_hv_set_error("backend stopping");
		return -ECANCELED;
	}
	lv->conn = conn;
	lv->cb_id = cb_id;
	memcpy(lv->pool, pool, sizeof(lv->pool));
	lv->gen++;
	lv->lost = false;
	lv->want_conn = true;   /* from now on, a dropped connection is retried */
	lv->backoff_ms = LV_BACKOFF_MIN_MS;
	if (announce) {
		lv->announce = true;
		if (lv->timer >= 0)
			virEventUpdateTimeout(lv->timer, 0);
	}
	pthread_mutex_unlock(&lv->lock);
	mc_debug("connected to %s", lv->uri);
	return 0;

fail:
	if (r != -ENOTCONN)
		r = -EIO;
	lv_teardown(conn, cb_id);
	return r;
}

/* Arms the reconnect timer with the current backoff, then doubles it. */
static void lv_arm_reconnect(struct lv *lv)
{
	pthread_mutex_lock(&lv->lock);
	if (!lv->stopping && lv->timer >= 0 && lv->want_conn && !lv->conn) {
		virEventUpdateTimeout(lv->timer, lv->backoff_ms);
		lv->backoff_ms = lv->backoff_ms * 2 > LV_BACKOFF_MAX_MS ?
			LV_BACKOFF_MAX_MS : lv->backoff_ms * 2;
	}
	pthread_mutex_unlock(&lv->lock);
}

/* The one timer of a backend, run on the event loop: tears down a lost
 * connection, delivers a pending CONNECTED, or tries to reconnect. It is
 * one-shot in effect: disarmed on entry, re-armed when there is more to do. */
static void lv_timer_cb(int timer, void *opaque)
{
	struct lv *lv = opaque;
	virConnectPtr old = NULL, old_pool[LV_CONNS_MAX] = { NULL };
	int old_cb = -1;
	bool announce, reconnect;

	pthread_mutex_lock(&lv->lock);
	if (lv->stopping) {
		pthread_mutex_unlock(&lv->lock);
		return;
	}
	virEventUpdateTimeout(timer, -1);
	if (lv->lost) {
		/* From here on no op can get the old connection, and every
		 * handle sees a new generation. */
		old = lv->conn;
		old_cb = lv->cb_id;
		memcpy(old_pool, lv->pool, sizeof(old_pool));
		memset(lv->pool, 0, sizeof(lv->pool));
		lv->conn = NULL;
		lv->cb_id = -1;
		lv->gen++;
		lv->lost = false;
		lv->announce = false;
		lv->backoff_ms = LV_BACKOFF_MIN_MS;
	}
	announce = lv->announce;
	lv->announce = false;
	reconnect = !old && !lv->conn && lv->want_conn;
	pthread_mutex_unlock(&lv->lock);

	if (old) {
		lv_teardown_pool(old_pool);
		lv_teardown(old, old_cb);
		lv_deliver(lv, MC_HV_EV_DISCONNECTED, NULL, NULL);
		lv_arm_reconnect(lv);
		return;
	}
	if (announce)
		lv_deliver(lv, MC_HV_EV_CONNECTED, NULL, NULL);
	if (reconnect) {
		if (lv_connect(lv, false) == 0) {
			lv_deliver(lv, MC_HV_EV_CONNECTED, NULL, NULL);
		} else {
			mc_debug("reconnect: %s", mc_hv_last_error());
			lv_arm_reconnect(lv);
		}
	}
}

/* Only there to make a blocked virEventRunDefaultImpl() return. */
static void lv_wake_cb(int timer, void *opaque)
{
	(void)timer;
	(void)opaque;
}

/* Holds a reference to lv (taken by lv_start), so that a thread detached
 * by stop() never sees freed memory. */
static void *lv_event_main(void *arg)
{
	struct lv *lv = arg;

	while (!atomic_load(&lv->ev_quit)) {
		if (virEventRunDefaultImpl() < 0)
			virResetLastError();
	}
	lv_unref(lv);
	return NULL;
}

/* Takes a reference to the current connection of pool slot `slot` (the
 * primary when that slot has none); slot -1 is the primary. On success the
 * caller virConnectClose()s *connp when done; *gen is its generation. */
static int lv_conn_get_slot(struct lv *lv, int slot, virConnectPtr *connp, uint64_t *gen)
{
	virConnectPtr c;

	pthread_mutex_lock(&lv->lock);
	if (!lv->conn || lv->lost || lv->stopping) {
		pthread_mutex_unlock(&lv->lock);
		mc_hv_set_error("not connected to %s", lv->uri);
		return -ENOTCONN;
	}
	c = slot >= 0 && lv->pool[slot] ? lv->pool[slot] : lv->conn;
	virConnectRef(c);
	*connp = c;
	*gen = lv->gen;
	pthread_mutex_unlock(&lv->lock);
	return 0;
}

/* The primary connection. */
static int lv_conn_get(struct lv *lv, virConnectPtr *connp, uint64_t *gen)
{
	return lv_conn_get_slot(lv, -1, connp, gen);
}

/* ---- ops: lifecycle ---- */

static int lv_start(struct mc_hv *hv, bool retry)
{
	struct lv *lv = hv->priv;
	sigset_t all, old;
	int r, timer;

	pthread_mutex_lock(&lv->lock);
	if (lv->started) {
		pthread_mutex_unlock(&lv->lock);
		mc_hv_set_error("backend already started");
		return -EALREADY;
	}
	lv->started = true;
	pthread_mutex_unlock(&lv->lock);

	/* The event thread handles no process signals, whatever the caller's
	 * mask: signals belong to main. A blocked SIGPIPE also turns a write
	 * to a dead libvirtd socket on this thread into a plain EPIPE. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	lv_ref(lv);
	r = pthread_create(&lv->ev_thread, NULL, lv_event_main, lv);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r != 0) {
		lv_unref(lv);
		mc_hv_set_error("cannot create the libvirt event thread: %s", strerror(r));
		return -r;
	}
	pthread_setname_np(lv->ev_thread, "mc-hv-events");
	lv->ev_running = true;

	/* Created disarmed; armed on demand. */
	lv_reg_hold(lv);
	timer = virEventAddTimeout(-1, lv_timer_cb, lv, lv_reg_release);
	if (timer < 0) {
		lv_reg_abort(lv);
		mc_hv_set_error("cannot add a libvirt event timer");
		virResetLastError();
		return -EIO;
	}
	pthread_mutex_lock(&lv->lock);
	lv->timer = timer;
	pthread_mutex_unlock(&lv->lock);

	r = lv_connect(lv, true);
	if (r < 0 && retry) {
		pthread_mutex_lock(&lv->lock);
		lv->want_conn = true;
		pthread_mutex_unlock(&lv->lock);
		lv_arm_reconnect(lv);
	}
	return r;
}

/* Must not be called from a callback (it waits for callbacks to finish). */
static void lv_stop(struct mc_hv *hv)
{
	struct lv *lv = hv->priv;
	virConnectPtr conn, pool[LV_CONNS_MAX];
	struct timespec deadline;
	int cb_id, wake;

	pthread_mutex_lock(&lv->lock);
	if (!lv->started || lv->stopping) {
		pthread_mutex_unlock(&lv->lock);
		return;
	}
	lv->stopping = true;
	lv->want_conn = false;
	conn = lv->conn;
	cb_id = lv->cb_id;
	memcpy(pool, lv->pool, sizeof(pool));
	memset(lv->pool, 0, sizeof(lv->pool));
	lv->conn = NULL;
	lv->cb_id = -1;
	lv->gen++;
	lv->lost = false;
	if (lv->timer >= 0) {
		virEventRemoveTimeout(lv->timer);
		lv->timer = -1;
	}
	while (lv->dispatching > 0)
		pthread_cond_wait(&lv->cond, &lv->lock);
	pthread_mutex_unlock(&lv->lock);

	lv_teardown_pool(pool);
	if (conn)
		lv_teardown(conn, cb_id);

	/* libvirt runs the free callbacks of removed timers (and of event
	 * callbacks removed mid-dispatch) from the event loop: keep it
	 * running until it has released all of them. Ops still holding a
	 * connection reference can delay this; the deadline bounds it, and
	 * the reference count keeps late releases safe. */
	deadline = mc_deadline_ts(LV_STOP_DRAIN_NS);
	pthread_mutex_lock(&lv->lock);
	while (lv->regs > 0 && lv->ev_running) {
		if (pthread_cond_timedwait(&lv->cond, &lv->lock, &deadline) == ETIMEDOUT) {
			mc_debug("libvirt still holds %u callbacks at stop", lv->regs);
			break;
		}
	}
	pthread_mutex_unlock(&lv->lock);

	if (lv->ev_running) {
		atomic_store(&lv->ev_quit, true);
		/* A 0-ms timer makes the blocked loop iteration return; it
		 * keeps firing until removed, so the thread cannot miss it. */
		wake = virEventAddTimeout(0, lv_wake_cb, NULL, NULL);
		clock_gettime(CLOCK_REALTIME, &deadline);
		deadline.tv_sec += LV_STOP_JOIN_NS / MC_NS_PER_S;
		if (pthread_timedjoin_np(lv->ev_thread, NULL, &deadline) != 0) {
			mc_debug("libvirt event thread busy at stop: detached");
			pthread_detach(lv->ev_thread);
		}
		if (wake >= 0)
			virEventRemoveTimeout(wake);
		lv->ev_running = false;
	}
}

static void lv_destroy(struct mc_hv *hv)
{
	if (!hv)
		return;
	lv_stop(hv);
	lv_unref(hv->priv);
}

/* ---- XML scanning (bounded, no allocation, tolerant of odd input) ---- */

static bool xml_is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* First start tag <name ...> in [p, end): returns its '<' or NULL. */
static const char *xml_find_elem(const char *p, const char *end, const char *name)
{
	size_t n = strlen(name);

	while (p < end && (p = memchr(p, '<', (size_t)(end - p)))) {
		if ((size_t)(end - p) > n + 1 && memcmp(p + 1, name, n) == 0) {
			char c = p[n + 1];

			if (xml_is_space(c) || c == '/' || c == '>')
				return p;
		}
		p++;
	}
	return NULL;
}

/* Value of attribute `name` inside the start tag [s, e) (s just past the
 * element name, e at its '>'). Copies at most outlen-1 bytes. */
static bool xml_attr(const char *s, const char *e, const char *name,
		     char *out, size_t outlen)
{
	size_t n = strlen(name);

	while (s < e) {
		const char *an, *v, *ve;
		size_t alen, vlen;
		char q;

		while (s < e && xml_is_space(*s))
			s++;
		an = s;
		while (s < e && *s != '=' && !xml_is_space(*s) && *s != '/')
			s++;
		alen = (size_t)(s - an);
		while (s < e && xml_is_space(*s))
			s++;
		if (s >= e || *s != '=') {
			if (alen == 0 && s < e)
				s++;        /* a stray '/': skip it */
			continue;
		}
		s++;
		while (s < e && xml_is_space(*s))
			s++;
		if (s >= e || (*s != '\'' && *s != '"'))
			return false;
		q = *s++;
		v = s;
		ve = memchr(s, q, (size_t)(e - s));
		if (!ve)
			return false;
		if (alen == n && memcmp(an, name, n) == 0) {
			vlen = (size_t)(ve - v);
			if (vlen >= outlen)
				vlen = outlen - 1;
			memcpy(out, v, vlen);
			out[vlen] = '\0';
			return true;
		}
		s = ve + 1;
	}
	return false;
}

/* Bytes per unit, libvirt's spelling (virScaleInteger): "" means `dflt`;
 * b/byte/bytes; k/K/KiB... are powers of 1024; KB, MB... powers of 1000.
 * Case-insensitive. */
static int xml_unit_scale(const char *unit, uint64_t dflt, uint64_t *scale)
{
	uint64_t base, s = 1;
	int pow;

	if (!*unit) {
		*scale = dflt;
		return 0;
	}
	if (!strcasecmp(unit, "b") || !strcasecmp(unit, "byte") || !strcasecmp(unit, "bytes")) {
		*scale = 1;
		return 0;
	}
	if (!unit[1] || !strcasecmp(unit + 1, "iB"))
		base = 1024;
	else if (!strcasecmp(unit + 1, "B"))
		base = 1000;
	else
		return -EINVAL;
	switch (tolower((unsigned char)unit[0])) {
	case 'k': pow = 1; break;
	case 'm': pow = 2; break;
	case 'g': pow = 3; break;
	case 't': pow = 4; break;
	case 'p': pow = 5; break;
	case 'e': pow = 6; break;
	default: return -EINVAL;
	}
	while (pow-- > 0)
		s *= base;
	*scale = s;
	return 0;
}

/* Memory value of the element whose start tag is at `tag` (text content +
 * unit attribute, default KiB), in KiB rounded up as libvirt does. */
static int xml_mem_kib(const char *tag, const char *end, size_t name_len, uint64_t *kib)
{
	const char *te, *p;
	char unit[16] = "";
	uint64_t v = 0, scale, bytes;
	bool digits = false;

	te = memchr(tag, '>', (size_t)(end - tag));
	if (!te || te[-1] == '/')
		return -EINVAL;     /* unterminated or empty element */
	xml_attr(tag + 1 + name_len, te, "unit", unit, sizeof(unit));
	if (xml_unit_scale(unit, 1024, &scale) < 0)
		return -EINVAL;
	p = te + 1;
	while (p < end && xml_is_space(*p))
		p++;
	while (p < end && *p >= '0' && *p <= '9') {
		if (__builtin_mul_overflow(v, 10, &v) ||
		    __builtin_add_overflow(v, (uint64_t)(*p - '0'), &v))
			return -ERANGE;
		digits = true;
		p++;
	}
	while (p < end && xml_is_space(*p))
		p++;
	if (!digits || p >= end || *p != '<')
		return -EINVAL;
	if (scale % 1024 == 0) {
		if (__builtin_mul_overflow(v, scale / 1024, kib))
			return -ERANGE;
	} else {
		if (__builtin_mul_overflow(v, scale, &bytes))
			return -ERANGE;
		*kib = bytes / 1024 + (bytes % 1024 != 0);
	}
	return 0;
}

/* End of the element starting at `tag` (its closing tag), or `end`. */
static const char *xml_elem_end(const char *tag, const char *end, const char *close)
{
	const char *te = memchr(tag, '>', (size_t)(end - tag));
	const char *c;

	if (!te || te[-1] == '/')
		return te ? te : end;
	c = memmem(te, (size_t)(end - te), close, strlen(close));
	return c ? c : end;
}

/* Extracts <memtune><min_guarantee> (0 when absent or unreadable) and
 * whether a balloon device exists (<memballoon> present, model not 'none')
 * from a domain XML document. */
static void lv_parse_xml(const char *xml, uint64_t *min_guarantee_kib, bool *has_balloon)
{
	size_t len = strnlen(xml, LV_XML_MAX_LEN);
	const char *end = xml + len;
	const char *mt, *mt_end, *mg, *dev, *dev_end, *mb, *mb_end;
	char model[32];

	*min_guarantee_kib = 0;
	*has_balloon = false;

	mt = xml_find_elem(xml, end, "memtune");
	if (mt) {
		mt_end = xml_elem_end(mt, end, "</memtune>");
		mg = xml_find_elem(mt, mt_end, "min_guarantee");
		if (mg && xml_mem_kib(mg, mt_end, strlen("min_guarantee"), min_guarantee_kib) < 0) {
			mc_debug("unreadable <min_guarantee> ignored");
			*min_guarantee_kib = 0;
		}
	}

	/* Devices only: <metadata> could contain anything. */
	dev = xml_find_elem(xml, end, "devices");
	if (!dev)
		return;
	dev_end = xml_elem_end(dev, end, "</devices>");
	mb = xml_find_elem(dev, dev_end, "memballoon");
	if (!mb)
		return;
	mb_end = memchr(mb, '>', (size_t)(dev_end - mb));
	if (!mb_end)
		return;
	if (xml_attr(mb + 1 + strlen("memballoon"), mb_end, "model", model, sizeof(model)) &&
	    strcmp(model, "none") == 0)
		return;
	*has_balloon = true;
}

/* ---- ops: domains ---- */

static enum mc_dom_state lv_state(unsigned char st)
{
	switch (st) {
	case VIR_DOMAIN_RUNNING:
		return MC_DOM_RUNNING;
	case VIR_DOMAIN_PAUSED:
	case VIR_DOMAIN_PMSUSPENDED:
		return MC_DOM_PAUSED;
	default:
		return MC_DOM_OTHER;
	}
}

/* uuid, name, state, max_kib, cur_kib of `dom`. */
static int lv_basic_info(struct lv *lv, virConnectPtr conn, virDomainPtr dom,
			 struct mc_dom_info *out)
{
	virDomainInfo info;
	const char *name;
	char what[96];

	if (virDomainGetUUID(dom, out->uuid) < 0)
		return lv_fail(lv, conn, dom, "cannot get a domain's UUID");
	if (virDomainGetInfo(dom, &info) < 0) {
		lv_what(what, sizeof(what), "cannot get info of", out->uuid);
		return lv_fail(lv, conn, dom, what);
	}
	name = virDomainGetName(dom);
	mc_strlcpy(out->name, name ? name : "", sizeof(out->name));
	out->state = lv_state(info.state);
	out->max_kib = info.maxMem;
	out->cur_kib = info.memory;
	return 0;
}

/* The live XML's min_guarantee and balloon presence. */
static int lv_xml_info(struct lv *lv, virConnectPtr conn, virDomainPtr dom,
		       const uint8_t uuid[MC_UUID_LEN], uint64_t *min_guarantee_kib,
		       bool *has_balloon)
{
	char what[96];
	char *xml;

	xml = virDomainGetXMLDesc(dom, 0);
	if (!xml) {
		lv_what(what, sizeof(what), "cannot get XML of", uuid);
		return lv_fail(lv, conn, dom, what);
	}
	lv_parse_xml(xml, min_guarantee_kib, has_balloon);
	free(xml);
	return 0;
}

static int lv_list(struct mc_hv *hv, struct mc_dom_info **out, size_t *n)
{
	struct lv *lv = hv->priv;
	struct mc_dom_info *v = NULL;
	virDomainPtr *doms = NULL;
	virConnectPtr conn = NULL;
	uint64_t gen;
	size_t k = 0;
	int nd = 0, i, r;

	*out = NULL;
	*n = 0;
	r = lv_conn_get(lv, &conn, &gen);
	if (r < 0)
		return r;
	nd = virConnectListAllDomains(conn, &doms, VIR_CONNECT_LIST_DOMAINS_ACTIVE);
	if (nd < 0) {
		nd = 0;
		r = lv_fail(lv, conn, NULL, "cannot list domains");
		goto out;
	}
	if (nd > 0 && !(v = calloc((size_t)nd, sizeof(*v)))) {
		r = -ENOMEM;
		goto out;
	}
	for (i = 0; i < nd; i++) {
		struct mc_dom_info *di = &v[k];

		r = lv_basic_info(lv, conn, doms[i], di);
		if (r == 0)
			r = lv_xml_info(lv, conn, doms[i], di->uuid,
					&di->min_guarantee_kib, &di->has_balloon);
		if (r == -ENOENT)
			continue;   /* stopped since the listing: not active */
		if (r < 0)
			goto out;
		k++;
	}
	*out = v;
	*n = k;
	v = NULL;
	r = 0;
out:
	for (i = 0; i < nd; i++)
		virDomainFree(doms[i]);
	free(doms);
	free(v);
	virConnectClose(conn);
	return r;
}

/* Takes a reference to the current connection and makes d->dom valid on it,
 * dropping a virDomainPtr from an older connection. On success the caller
 * virConnectClose()s *connp. */
static int lv_dom_acquire(struct mc_hv_dom *d, virConnectPtr *connp)
{
	virConnectPtr conn;
	uint64_t gen;
	char what[96];
	int r;

	r = lv_conn_get_slot(d->lv, (int)d->slot, &conn, &gen);
	if (r < 0)
		return r;
	if (d->dom && d->gen != gen) {
		virDomainFree(d->dom);
		d->dom = NULL;
	}
	if (!d->dom) {
		d->dom = virDomainLookupByUUID(conn, d->uuid);
		if (!d->dom) {
			lv_what(what, sizeof(what), "cannot look up", d->uuid);
			r = lv_fail(d->lv, conn, NULL, what);
			virConnectClose(conn);
			return r;
		}
		d->gen = gen;
		/* New connection: re-read the XML and the info. */
		d->xml_valid = false;
		d->info_valid = false;
	}
	*connp = conn;
	return 0;
}

static void lv_dom_close(struct mc_hv_dom *d)
{
	if (!d)
		return;
	if (d->dom)
		virDomainFree(d->dom);
	lv_unref(d->lv);
	free(d);
}

static int lv_dom_open(struct mc_hv *hv, const uint8_t uuid[MC_UUID_LEN],
		       struct mc_hv_dom **out)
{
	struct lv *lv = hv->priv;
	struct mc_hv_dom *d;
	virConnectPtr conn;
	int r;

	*out = NULL;
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->lv = lv_ref(lv);
	memcpy(d->uuid, uuid, MC_UUID_LEN);
	pthread_mutex_lock(&lv->lock);
	d->slot = lv->nconns > 1 ?
		atomic_fetch_add_explicit(&lv->next_slot, 1, memory_order_relaxed) % lv->nconns : 0;
	pthread_mutex_unlock(&lv->lock);
	r = lv_dom_acquire(d, &conn);
	if (r < 0) {
		lv_dom_close(d);
		return r;
	}
	virConnectClose(conn);
	*out = d;
	return 0;
}

/* Answers from the handle's cache when nothing can have changed the info
 * (see the top of this file); otherwise reads it, and every
 * LV_XML_REFRESH_CALLS calls the XML with it. */
static int lv_dom_info(struct mc_hv_dom *d, struct mc_dom_info *out)
{
	virConnectPtr conn;
	unsigned int ev;
	bool refresh;
	int r;

	memset(out, 0, sizeof(*out));
	r = lv_dom_acquire(d, &conn);
	if (r < 0)
		return r;
	refresh = !d->xml_valid || ++d->xml_calls >= LV_XML_REFRESH_CALLS;
	/* Read before the call: an event that arrives during or after it
	 * leaves the counter ahead of info_ev, and the next call reads again. */
	ev = atomic_load_explicit(lv_dom_ev(d->lv, d->uuid), memory_order_acquire);
	if (refresh || !d->info_valid || d->info_ev != ev) {
		d->info_valid = false;
		r = lv_basic_info(d->lv, conn, d->dom, &d->info);
		if (r < 0)
			goto out;
		d->info_valid = true;
		d->info_ev = ev;
	}
	if (refresh) {
		r = lv_xml_info(d->lv, conn, d->dom, d->uuid,
				&d->min_guarantee_kib, &d->has_balloon);
		if (r < 0)
			goto out;
		d->xml_valid = true;
		d->xml_calls = 0;
	}
	*out = d->info;
	out->min_guarantee_kib = d->min_guarantee_kib;
	out->has_balloon = d->has_balloon;
out:
	virConnectClose(conn);
	return r;
}

/* libvirt's balloon tag -> memcoord's, by tag value; -1 for tags memcoord
 * does not know (newer libvirt). */
static int lv_stat_tag(int tag)
{
	switch (tag) {
	case VIR_DOMAIN_MEMORY_STAT_SWAP_IN: return MC_STAT_SWAP_IN;
	case VIR_DOMAIN_MEMORY_STAT_SWAP_OUT: return MC_STAT_SWAP_OUT;
	case VIR_DOMAIN_MEMORY_STAT_MAJOR_FAULT: return MC_STAT_MAJOR_FAULT;
	case VIR_DOMAIN_MEMORY_STAT_MINOR_FAULT: return MC_STAT_MINOR_FAULT;
	case VIR_DOMAIN_MEMORY_STAT_UNUSED: return MC_STAT_UNUSED;
	case VIR_DOMAIN_MEMORY_STAT_AVAILABLE: return MC_STAT_AVAILABLE;
	case VIR_DOMAIN_MEMORY_STAT_ACTUAL_BALLOON: return MC_STAT_ACTUAL;
	case VIR_DOMAIN_MEMORY_STAT_RSS: return MC_STAT_RSS;
	case VIR_DOMAIN_MEMORY_STAT_USABLE: return MC_STAT_USABLE;
	case VIR_DOMAIN_MEMORY_STAT_LAST_UPDATE: return MC_STAT_LAST_UPDATE;
	case VIR_DOMAIN_MEMORY_STAT_DISK_CACHES: return MC_STAT_DISK_CACHES;
	case VIR_DOMAIN_MEMORY_STAT_HUGETLB_PGALLOC: return MC_STAT_HUGETLB_PGALLOC;
	case VIR_DOMAIN_MEMORY_STAT_HUGETLB_PGFAIL: return MC_STAT_HUGETLB_PGFAIL;
	default: return -1;
	}
}

/* A domain without a balloon reports nothing: 0 with present == 0. */
static int lv_dom_stats(struct mc_hv_dom *d, struct mc_stats *out)
{
	virDomainMemoryStatStruct st[VIR_DOMAIN_MEMORY_STAT_NR];
	virConnectPtr conn;
	char what[96];
	int i, n, t, r;

	memset(out, 0, sizeof(*out));
	r = lv_dom_acquire(d, &conn);
	if (r < 0)
		return r;
	n = virDomainMemoryStats(d->dom, st, VIR_DOMAIN_MEMORY_STAT_NR, 0);
	if (n < 0) {
		lv_what(what, sizeof(what), "cannot get memory stats of", d->uuid);
		r = lv_fail(d->lv, conn, d->dom, what);
		goto out;
	}
	for (i = 0; i < n && i < VIR_DOMAIN_MEMORY_STAT_NR; i++) {
		t = lv_stat_tag(st[i].tag);
		if (t < 0)
			continue;
		out->val[t] = st[i].val;
		out->present |= 1u << t;
	}
	/* The balloon's size as the driver knows it now: what the next
	 * cached dom_info reports. */
	if (mc_stats_has(out, MC_STAT_ACTUAL))
		d->info.cur_kib = out->val[MC_STAT_ACTUAL];
out:
	virConnectClose(conn);
	return r;
}

static int lv_dom_set_period(struct mc_hv_dom *d, int period_s)
{
	virConnectPtr conn;
	char what[96];
	int r;

	if (period_s < 0) {
		mc_hv_set_error("invalid stats period %d s", period_s);
		return -EINVAL;
	}
	r = lv_dom_acquire(d, &conn);
	if (r < 0)
		return r;
	if (virDomainSetMemoryStatsPeriod(d->dom, period_s, VIR_DOMAIN_AFFECT_LIVE) < 0) {
		lv_what(what, sizeof(what), "cannot set stats period of", d->uuid);
		r = lv_fail(d->lv, conn, d->dom, what);
	}
	virConnectClose(conn);
	return r;
}

static int lv_set_memory(struct mc_hv *hv, const uint8_t uuid[MC_UUID_LEN], uint64_t kib)
{
	struct lv *lv = hv->priv;
	virConnectPtr conn;
	virDomainPtr dom;
	uint64_t gen;
	char what[96];
	int r;

	/* libvirt rejects 0, and takes an unsigned long. */
	if (kib == 0 || kib > ULONG_MAX) {
		mc_hv_set_error("invalid balloon target %" PRIu64 " KiB", kib);
		return -EINVAL;
	}
	r = lv_conn_get(lv, &conn, &gen);
	if (r < 0)
		return r;
	dom = virDomainLookupByUUID(conn, uuid);
	if (!dom) {
		lv_what(what, sizeof(what), "cannot look up", uuid);
		r = lv_fail(lv, conn, NULL, what);
		goto out;
	}
	if (virDomainSetMemoryFlags(dom, (unsigned long)kib, VIR_DOMAIN_AFFECT_LIVE) < 0) {
		lv_what(what, sizeof(what), "cannot set memory of", uuid);
		r = lv_fail(lv, conn, dom, what);
	}
	lv_dom_changed(lv, uuid);
	virDomainFree(dom);
out:
	virConnectClose(conn);
	return r;
}

/* Fallback for drivers without virNodeGetMemoryStats (the test driver). */
static int lv_host_mem_fallback(struct lv *lv, virConnectPtr conn, struct mc_host_mem *out)
{
	unsigned long long free_b;
	virNodeInfo ni;

	virResetLastError();
	free_b = virNodeGetFreeMemory(conn);
	if (free_b == 0 && virGetLastErrorCode() != VIR_ERR_OK)
		return lv_fail(lv, conn, NULL, "cannot get host free memory");
	if (virNodeGetInfo(conn, &ni) < 0)
		return lv_fail(lv, conn, NULL, "cannot get host info");
	out->free_kib = free_b / 1024;
	out->total_kib = ni.memory;
	out->has_total = true;
	return 0;
}

static int lv_host_mem(struct mc_hv *hv, struct mc_host_mem *out)
{
	struct lv *lv = hv->priv;
	virNodeMemoryStatsPtr p = NULL;
	virConnectPtr conn;
	uint64_t gen;
	bool have_free = false;
	int i, np = 0, r;

	memset(out, 0, sizeof(*out));
	r = lv_conn_get(lv, &conn, &gen);
	if (r < 0)
		return r;
	if (virNodeGetMemoryStats(conn, VIR_NODE_MEMORY_STATS_ALL_CELLS, NULL, &np, 0) < 0) {
		if (virGetLastErrorCode() == VIR_ERR_NO_SUPPORT)
			r = lv_host_mem_fallback(lv, conn, out);
		else
			r = lv_fail(lv, conn, NULL, "cannot get host memory stats");
		goto out;
	}
	if (np <= 0) {
		mc_hv_set_error("host memory stats: no fields");
		r = -EIO;
		goto out;
	}
	p = calloc((size_t)np, sizeof(*p));
	if (!p) {
		r = -ENOMEM;
		goto out;
	}
	if (virNodeGetMemoryStats(conn, VIR_NODE_MEMORY_STATS_ALL_CELLS, p, &np, 0) < 0) {
		r = lv_fail(lv, conn, NULL, "cannot get host memory stats");
		goto out;
	}
	/* Values are KiB; fields are found by name, never by position. */
	for (i = 0; i < np; i++) {
		const char *f = p[i].field;

		if (!strncmp(f, VIR_NODE_MEMORY_STATS_TOTAL, VIR_NODE_MEMORY_STATS_FIELD_LENGTH)) {
			out->total_kib = p[i].value;
			out->has_total = true;
		} else if (!strncmp(f, VIR_NODE_MEMORY_STATS_FREE, VIR_NODE_MEMORY_STATS_FIELD_LENGTH)) {
			out->free_kib += p[i].value;
			have_free = true;
		} else if (!strncmp(f, VIR_NODE_MEMORY_STATS_BUFFERS, VIR_NODE_MEMORY_STATS_FIELD_LENGTH) ||
			   !strncmp(f, VIR_NODE_MEMORY_STATS_CACHED, VIR_NODE_MEMORY_STATS_FIELD_LENGTH)) {
			out->free_kib += p[i].value;
		}
	}
	if (!have_free) {
		mc_hv_set_error("host memory stats: no \"%s\" field", VIR_NODE_MEMORY_STATS_FREE);
		r = -EIO;
	}
out:
	free(p);
	virConnectClose(conn);
	return r;
}

static const struct mc_hv_ops lv_ops = {
	.name = "libvirt",
	.start = lv_start,
	.stop = lv_stop,
	.destroy = lv_destroy,
	.list = lv_list,
	.dom_open = lv_dom_open,
	.dom_close = lv_dom_close,
	.dom_info = lv_dom_info,
	.dom_stats = lv_dom_stats,
	.dom_set_period = lv_dom_set_period,
	.set_memory = lv_set_memory,
	.host_mem = lv_host_mem,
};

int mc_hv_libvirt_create(const char *uri, const struct mc_hv_callbacks *cb,
			 struct mc_hv **out)
{
	struct lv *lv;
	int r;

	*out = NULL;
	pthread_once(&lv_once, lv_global_init);
	if (lv_once_rc < 0) {
		mc_hv_set_error("cannot initialise libvirt: %s", lv_once_err);
		return lv_once_rc;
	}
	if (!uri || !*uri)
		uri = getenv("LIBVIRT_DEFAULT_URI");
	if (!uri || !*uri)
		uri = LV_DEFAULT_URI;

	lv = calloc(1, sizeof(*lv));
	if (!lv)
		return -ENOMEM;
	lv->uri = strdup(uri);
	if (!lv->uri) {
		free(lv);
		return -ENOMEM;
	}
	r = mc_cond_init_monotonic(&lv->cond);
	if (r < 0) {
		free(lv->uri);
		free(lv);
		return r;
	}
	pthread_mutex_init(&lv->lock, NULL);
	atomic_init(&lv->refs, 1);
	atomic_init(&lv->ev_quit, false);
	lv->cb_id = -1;
	lv->timer = -1;
	lv->backoff_ms = LV_BACKOFF_MIN_MS;
	lv->nconns = LV_CONNS_DEFAULT;
	lv->hv.ops = &lv_ops;
	lv->hv.priv = lv;
	if (cb)
		lv->hv.cb = *cb;
	*out = &lv->hv;
	return 0;
}

int mc_hv_libvirt_set_connections(struct mc_hv *hv, unsigned int n)
{
	struct lv *lv;
	int r = 0;

	if (!hv || hv->ops != &lv_ops) {
		mc_hv_set_error("not a libvirt backend");
		return -EINVAL;
	}
	if (n < 1 || n > LV_CONNS_MAX) {
		mc_hv_set_error("connections must be 1..%d, not %u", LV_CONNS_MAX, n);
		return -EINVAL;
	}
	lv = hv->priv;
	pthread_mutex_lock(&lv->lock);
	if (lv->started) {
		mc_hv_set_error("connections can only be set before start");
		r = -EALREADY;
	} else {
		lv->nconns = n;
	}
	pthread_mutex_unlock(&lv->lock);
	return r;
}

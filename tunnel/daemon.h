/* What both daemons do the same way around their work: the command line,
 * the signals, and the test clock's divisor. Bringing up the interface is
 * netdev's. */
#ifndef EGRESS_DAEMON_H
#define EGRESS_DAEMON_H

#include <stdbool.h>

struct loop;

/* The daemons' common command line: -c FILE, -n, -v, -h (and --help).
 * Returns -1 to go on, or the exit status main() should return at once
 * (0 after printing the help, 1 after a usage error on stderr). */
int daemon_options(int argc, char **argv, const char *ident, const char *usage, const char **config,
                   bool *check_only);

/* main()'s first step: blocks the signals daemon_signals() handles and
 * ignores SIGPIPE, so that a signal arriving while the daemon is still
 * setting up waits for the loop (which then undoes everything) instead of
 * killing the daemon half-way, with its routes, rules or nft table left
 * behind. */
void daemon_hold_signals(void);

/* What the signals do, each called from the loop like any other event:
 * SIGTERM and SIGINT stop it (stop, if not NULL, is called first, and the
 * loop then returns), SIGHUP calls reload (systemd's ExecReload convention;
 * NULL: the daemon says it has nothing to reload), SIGUSR1 calls report. */
struct daemon_signals {
	void (*stop)(void *arg, int signo);
	void (*reload)(void *arg);
	void (*report)(void *arg);
	void *arg;
};

/* Delivers the held signals to s's callbacks through l. s is copied. 0 or
 * -errno. */
int daemon_signals(struct loop *l, const struct daemon_signals *s);

/* systemd's readiness protocol (sd_notify, libsystemd): "READY=1" with a
 * STATUS= line, sent once, when the interface and the rules are up; and
 * "STOPPING=1" when a stop begins. Nothing without NOTIFY_SOCKET (not under
 * a Type=notify unit). */
void daemon_ready(const char *status);
void daemon_stopping(void);

/* The protocol timers' divisor for tests (EGRESS_TIME_DIVISOR, 1..1000),
 * logged loudly when not 1: a production daemon runs with 1. */
unsigned daemon_time_divisor(void);

#endif

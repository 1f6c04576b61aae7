#include "tunnel/daemon.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>

#include "tunnel/log.h"
#include "tunnel/loop.h"

static const int held[] = {SIGTERM, SIGINT, SIGHUP, SIGUSR1};
#define N_HELD ((int)(sizeof(held) / sizeof(held[0])))

/* The loop owns one copy: a daemon has one loop and one set of handlers. */
static struct daemon_signals handlers;

int daemon_options(int argc, char **argv, const char *ident, const char *usage, const char **config,
                   bool *check_only)
{
	int opt;

	if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "help"))) {
		fputs(usage, stdout);
		return 0;
	}
	while ((opt = getopt(argc, argv, "c:nvh")) != -1) {
		switch (opt) {
		case 'c':
			*config = optarg;
			break;
		case 'n':
			*check_only = true;
			break;
		case 'v':
			log_set_level(LOG_LVL_DEBUG);
			break;
		case 'h':
			fputs(usage, stdout);
			return 0;
		default:
			fputs(usage, stderr);
			return 1;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "%s: unexpected argument \"%s\"\n%s", ident, argv[optind], usage);
		return 1;
	}
	return -1;
}

void daemon_hold_signals(void)
{
	sigset_t set;

	sigemptyset(&set);
	for (int i = 0; i < N_HELD; i++)
		sigaddset(&set, held[i]);
	/* Neither can fail with these arguments. */
	sigprocmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
}

static int on_signal(void *arg, int signo)
{
	const struct daemon_signals *s = arg;

	switch (signo) {
	case SIGUSR1:
		if (s->report)
			s->report(s->arg);
		return 0;
	case SIGHUP:
		if (s->reload)
			s->reload(s->arg);
		else
			log_info("SIGHUP: nothing to reload; a changed configuration takes a "
			         "restart");
		return 0;
	default:
		log_info("%s: shutting down", strsignal(signo));
		if (s->stop)
			s->stop(s->arg, signo);
		return -1;
	}
}

int daemon_signals(struct loop *l, const struct daemon_signals *s)
{
	handlers = *s;
	return loop_signals(l, held, N_HELD, on_signal, &handlers);
}

unsigned daemon_time_divisor(void)
{
	const char *s = getenv("EGRESS_TIME_DIVISOR");
	char *end;
	unsigned long v;

	if (!s || !*s)
		return 1;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v < 1 || v > 1000)
		fatalx("EGRESS_TIME_DIVISOR: \"%s\" is not a number from 1 to 1000", s);
	if (v != 1)
		log_warnx("EGRESS_TIME_DIVISOR=%lu: protocol timers run %lu times faster; for "
		          "tests only, this peer will not interoperate reliably",
		          v, v);
	return (unsigned)v;
}

void daemon_ready(const char *status)
{
	int e = sd_notifyf(0, "READY=1\nSTATUS=%s", status);

	if (e < 0)
		log_warnx("cannot tell systemd it is ready (NOTIFY_SOCKET): %s", strerror(-e));
	else if (e > 0)
		log_debug("told systemd it is ready");
}

void daemon_stopping(void)
{
	sd_notify(0, "STOPPING=1");
}

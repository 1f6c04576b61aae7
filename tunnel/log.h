/* Logging to stderr, systemd style: one line per message, a level prefix
 * ("<3>" etc.) only when stderr is not a terminal, so journald files it. */
#ifndef EGRESS_LOG_H
#define EGRESS_LOG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdnoreturn.h>

enum log_level { LOG_LVL_ERR = 3, LOG_LVL_WARN = 4, LOG_LVL_INFO = 6, LOG_LVL_DEBUG = 7 };

/* Messages above this level are dropped; LOG_LVL_INFO by default, -v raises it. */
void log_set_level(enum log_level level);
bool log_enabled(enum log_level level);
/* The program name printed before each message. */
void log_set_ident(const char *ident);

/* log_warn()/log_err() append ": strerror(errno)"; the *x variants do not. */
void log_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_errx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* At most one line per interval for one source of lines: log_ratelimit()
 * says whether a line may go out at now (any clock in ns, zero-initialised
 * state) and, when it may, how many were held back since the last one went. */
struct log_ratelimit {
	uint64_t next_ns;
	unsigned long suppressed;
};
bool log_ratelimit(struct log_ratelimit *rl, uint64_t now, uint64_t interval,
                   unsigned long *suppressed);

/* Only at start-up or on a broken invariant: logs and exits with status 1. */
noreturn void fatalx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
